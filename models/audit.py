"""Append-only log of every move (and creation) of an event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime


class TransitionLog(SQLModel, table=True):
    """Who moved which event from where to where, when, by which trigger and why.

    The migration installs triggers that refuse UPDATE and DELETE on this table, on SQLite and
    PostgreSQL alike (and, on SQLite, an INSERT that would replace an existing row), so the trail
    cannot be rewritten through the application; each row is also chained to the previous one by
    a hash, so a change made behind the database's back is found by `openday audit verify`.
    """

    __tablename__ = "transition_log"
    # One hash chain per event (workflows/kernel/audit.py): seq counts 1, 2, 3… within an event.
    __table_args__ = (sa.Index("ux_transition_log_event_seq", "event_id", "seq", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="event.id", index=True)
    # Moves of a feedback item (and deadline recomputations) name the item too.
    feedback_item_id: int | None = Field(default=None, foreign_key="feedback_item.id")
    trigger: str = Field(sa_type=sa.String(32))
    from_state: str | None = Field(default=None, sa_type=sa.String(32))
    to_state: str = Field(sa_type=sa.String(32))
    version: int  # the event's version after the move
    actor_id: int | None = Field(default=None, foreign_key="account.id")
    actor_name: str = Field(sa_type=sa.String(100))
    at: datetime = Field(sa_type=UTCDateTime)
    reason: str | None = Field(default=None, sa_type=sa.Text)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    # Tamper evidence (workflows/kernel/audit.py seals a row when it is flushed): the row's place in
    # its event's hash chain, the previous row's hash, and sha256 over this row's content and
    # that previous hash. `openday audit verify` recomputes the chain.
    seq: int | None = Field(default=None, sa_type=sa.BigInteger, nullable=False)
    prev_hash: str | None = Field(default=None, sa_type=sa.String(64), nullable=False)
    row_hash: str | None = Field(default=None, sa_type=sa.String(64), nullable=False)
