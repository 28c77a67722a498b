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
    PostgreSQL alike, so the trail cannot be rewritten through the application.
    """

    __tablename__ = "transition_log"

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
