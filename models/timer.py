"""Durable timers: every deadline, reminder and escalation level is a row, not a delayed message."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime


class TimerState(StrEnum):
    """pending → fired (claimed by a scheduler) → done/skipped (by a worker); or cancelled."""

    pending = "pending"
    fired = "fired"
    done = "done"
    skipped = "skipped"
    cancelled = "cancelled"


class Timer(SQLModel, table=True):
    """One timed rule for one subject: e.g. feedback item 12, answer deadline, escalation 1."""

    __tablename__ = "timer"
    __table_args__ = (
        sa.UniqueConstraint(
            "subject_type",
            "subject_id",
            "rule",
            "kind",
            "level",
            name="uq_timer_subject_rule_level",
        ),
        sa.Index("ix_timer_state_due_at", "state", "due_at"),
        sa.Index("ix_timer_event_id", "event_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # Its district, for row-level security (migration 0043; on PostgreSQL filled at insert from
    # the row it concerns when the writer leaves it unset). NULL: a city-level row.
    district_id: int | None = Field(default=None, foreign_key="district.id")
    rule: str = Field(sa_type=sa.String(32))  # feedback_answer | summary | event_hold | digest
    kind: str = Field(sa_type=sa.String(16))  # reminder | escalation | digest
    level: int = 0  # 0 for reminders, 1.. for escalation levels
    subject_type: str = Field(sa_type=sa.String(32))  # feedback_item | event
    subject_id: int
    event_id: int | None = Field(default=None, foreign_key="event.id")  # unset on a digest
    deadline_on: date  # the local day the rule's deadline falls on (for messages)
    due_at: datetime = Field(sa_type=UTCDateTime)  # when this timer fires
    provisional: bool = False  # rests on a year without published working-day data
    state: str = Field(default=TimerState.pending, sa_type=sa.String(16))
    fired_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    handled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
