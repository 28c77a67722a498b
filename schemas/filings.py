"""Filings before the day (issue 30): the plan for approval, the announcement, the 公示."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from workflows.filing.plans import NOTE_MAX_CHARS, PLAN_MAX_CHARS, PLAN_MIN_CHARS
from workflows.filing.publish import HOW_MAX_CHARS, TEXT_MAX_CHARS


class PlanIn(BaseModel):
    """The unit's plan (活动方案) for the district office to approve."""

    model_config = ConfigDict(extra="forbid")
    text: Annotated[
        str,
        StringConstraints(
            strip_whitespace=True, min_length=PLAN_MIN_CHARS, max_length=PLAN_MAX_CHARS
        ),
    ]


class PlanDecisionIn(BaseModel):
    """A supervisor approves the plan, or returns it with the reason the unit reads."""

    model_config = ConfigDict(extra="forbid")
    approve: bool
    note: str | None = Field(
        default=None, max_length=NOTE_MAX_CHARS, description="退回理由; required to return"
    )


class AnnouncementIn(BaseModel):
    """The public announcement: how to register (报名方式) and a note; theme and places come
    from the event."""

    model_config = ConfigDict(extra="forbid")
    how_to_register: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=2, max_length=HOW_MAX_CHARS)
    ]
    text: str | None = Field(default=None, max_length=TEXT_MAX_CHARS)


class FilingOut(BaseModel):
    """One filing the notice may ask of the event, and where it stands."""

    rule: str
    label: str
    asked: bool
    due_on: date | None
    state: str | None
    state_zh: str
    sentence: str
    round: int | None
    body: dict[str, Any] | None
    submitted_by: str | None
    submitted_at: datetime | None
    decided_by: str | None
    decided_at: datetime | None
    note: str | None
