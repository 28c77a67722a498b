"""Rectification (整改) after a spot-check round found lacking."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field


class RectificationIssueIn(BaseModel):
    """A rectification notice: what to fix (empty: the round's notes)."""

    model_config = ConfigDict(extra="forbid")
    notice: str | None = Field(default=None, max_length=10000, description="what to fix")


class RectificationReportIn(BaseModel):
    """The unit's rectification report."""

    model_config = ConfigDict(extra="forbid")
    report: str = Field(min_length=1, max_length=10000, description="what was rectified")


class RectificationSendBackIn(BaseModel):
    """Why the report is sent back."""

    model_config = ConfigDict(extra="forbid")
    reasons: str = Field(min_length=1, max_length=2000)


class RectificationFileOut(BaseModel):
    """A photo or file of a rectification report."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    filename: str
    content_type: str
    size: int
    created_at: datetime


class RectificationOut(BaseModel):
    """A rectification notice and what came of it."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    event_id: int
    unit_id: int
    spot_check_id: int
    notice: str
    state: str = Field(description="issued (待整改) | reported (待审核) | closed (已销号)")
    round: int
    due_on: date
    due_at: datetime
    due_provisional: bool
    report: str
    reported_at: datetime | None
    overdue: bool
    send_back_reasons: str | None
    closed_at: datetime | None
    issued_at: datetime
    escalation_level: int
    version: int
    files: list[RectificationFileOut] = Field(default_factory=list)
