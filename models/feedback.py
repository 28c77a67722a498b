"""Feedback item: one opinion or suggestion (意见建议) collected at an event."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime


class FeedbackState(StrEnum):
    """States of a feedback item; answering must happen within 15 working days."""

    received = "received"
    assigned = "assigned"
    answered = "answered"
    closed = "closed"


class FeedbackItem(SQLModel, table=True):
    """An opinion raised at an event and what became of it."""

    __tablename__ = "feedback_item"

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="event.id", index=True)
    content: str = Field(sa_type=sa.Text)
    raised_by_invitee_id: int | None = Field(default=None, foreign_key="invitee.id")
    state: str = Field(default=FeedbackState.received, sa_type=sa.String(32))
    assignee: str | None = Field(default=None, sa_type=sa.String(100))
    answer: str | None = Field(default=None, sa_type=sa.Text)
    # The local day the opinion was collected; the 15 working days count from the day after.
    collected_on: date | None = None
    answered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
