"""Extension requests (申请延期) for an opinion's answer."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field


class ExtensionIn(BaseModel):
    """A unit's request: why, and (optionally) until when."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)
    requested_due_on: date | None = None


class DecisionIn(BaseModel):
    """A supervisor's decision: approve with a new due date (default: the one asked for)."""

    model_config = ConfigDict(extra="forbid")
    approve: bool
    new_due_on: date | None = None
    note: str | None = Field(default=None, max_length=2000)


class ExtensionOut(BaseModel):
    """An extension request and its decision."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    feedback_item_id: int
    event_id: int
    unit_id: int
    reason: str
    old_due_on: date
    requested_due_on: date | None
    state: str
    requested_at: datetime
    decided_at: datetime | None
    decision_note: str | None
    new_due_on: date | None
