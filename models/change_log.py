"""Audit lines of changes that are not event moves: campaigns, units, accounts, calendars."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime


class ChangeLog(SQLModel, table=True):
    """Who changed what, when, before → after. Append-only (database triggers, like the
    transition log) and hash-chained."""

    __tablename__ = "change_log"
    __table_args__ = (
        sa.Index("ix_change_log_entity", "entity", "entity_id"),
        sa.Index("ux_change_log_seq", "seq", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    # Its district, for row-level security (migration 0043; on PostgreSQL filled at insert from
    # the row it concerns when the writer leaves it unset). NULL: a city-level row.
    district_id: int | None = Field(default=None, foreign_key="district.id")
    at: datetime = Field(sa_type=UTCDateTime)
    actor_id: int | None = Field(default=None, foreign_key="account.id")
    actor_name: str = Field(sa_type=sa.String(100))
    entity: str = Field(sa_type=sa.String(32))  # campaign | unit | account | calendar
    entity_id: int | None = None
    unit_id: int | None = Field(default=None, index=True)  # for staff-scoped reading
    action: str = Field(sa_type=sa.String(32))  # create | update | delete | …
    before: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    after: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    # Hash chain, as in the transition log (workflows/kernel/audit.py).
    seq: int | None = Field(default=None, sa_type=sa.BigInteger, nullable=False)
    prev_hash: str | None = Field(default=None, sa_type=sa.String(64), nullable=False)
    row_hash: str | None = Field(default=None, sa_type=sa.String(64), nullable=False)
