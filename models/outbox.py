"""Transactional outbox: messages a transaction owes the workers, relayed after it commits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime


class OutboxMessage(SQLModel, table=True):
    """A dramatiq message written in the same transaction as the change that owes it."""

    __tablename__ = "outbox"
    __table_args__ = (
        sa.Index(
            "ix_outbox_unsent",
            "id",
            postgresql_where=sa.text("sent_at IS NULL"),
            sqlite_where=sa.text("sent_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    # Its district, for row-level security (migration 0043; on PostgreSQL filled at insert from
    # the row it concerns when the writer leaves it unset). NULL: a city-level row.
    district_id: int | None = Field(default=None, foreign_key="district.id")
    actor: str = Field(sa_type=sa.String(64))
    args: list[Any] = Field(default_factory=list, sa_type=sa.JSON)
    dedupe_key: str | None = Field(default=None, sa_type=sa.String(300), unique=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
