"""Deadlines: timers, the overdue list, notifications, the working-day calendar."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field


class TimerOut(BaseModel):
    """One timer of a deadline."""

    model_config = ConfigDict(from_attributes=True)
    rule: str
    kind: str
    level: int
    deadline_on: date
    due_at: datetime
    provisional: bool
    state: str
    fired_at: datetime | None


class NotificationOut(BaseModel):
    """A reminder or escalation owed or sent."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    subject_type: str
    subject_id: int
    event_id: int | None = Field(description="unset on a daily digest (kind digest)")
    unit_id: int | None = Field(description="unset on a daily digest (kind digest)")
    rule: str
    kind: str
    level: int
    channel: str
    recipient: str
    title: str
    state: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


class OverdueOut(BaseModel):
    """One line of the overdue list."""

    kind: str = Field(description="feedback_answer | summary | event_hold")
    event_id: int
    feedback_item_id: int | None
    unit_id: int
    unit_name: str
    theme: str
    state: str
    due_on: date
    due_at: datetime
    overdue: bool
    late_days: int = Field(description="calendar days past the due day (negative: days left)")
    late_seconds: int
    provisional: bool
    escalation_level: int
    last_notified_at: datetime | None
    extension_state: str | None = Field(
        default=None,
        description="an opinion's latest extension request: pending | approved | refused",
    )


class CalendarLoadOut(BaseModel):
    """What loading a working-day file did."""

    source: str
    complete_years: list[int]
    days: int
    recomputed: int


class WorkdaysOut(BaseModel):
    """The day N working days after a start."""

    start: date
    n: int
    due_on: date
    provisional: bool
    missing_years: list[int]
