"""Opinions (意见建议) and their moves."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.common import MAX_ID, Id
from schemas.deadlines import TimerOut
from workflows.feedback import machine as flow


class FeedbackIn(BaseModel):
    """An opinion raised at a held event."""

    model_config = ConfigDict(extra="forbid")
    content: str = Field(min_length=1, max_length=5000)
    raised_by_invitee_id: Id | None = None


class FeedbackOut(BaseModel):
    """An opinion and what became of it."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    event_id: int
    content: str
    receipt_code: str | None = Field(
        default=None, description="given to whoever raised it; /public/track?code= shows status"
    )
    raised_by_invitee_id: int | None
    state: str
    version: int
    assignee: str | None
    answer: str | None
    collected_on: date | None
    due_on: date | None = Field(description="the last day to answer (15 working days)")
    due_provisional: bool = Field(description="due date rests on a year without holiday data")
    overdue_since: datetime | None
    escalation_level: int
    last_notified_at: datetime | None
    answered_at: datetime | None
    answered_late_workdays: int | None
    created_at: datetime


class FeedbackDetailOut(FeedbackOut):
    """An opinion with the moves allowed next and its timers."""

    allowed_triggers: list[str]
    timers: list[TimerOut]


class _ItemMove(BaseModel):
    expected_version: int = Field(
        ge=1, le=MAX_ID, description="the opinion's version the caller saw"
    )


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": list(examples)})


class AssignMove(_ItemMove):
    """交办: who handles the opinion."""

    model_config = _examples(
        {"trigger": "assign", "expected_version": 1, "data": {"assignee": "城建科 王科长"}}
    )
    trigger: Literal["assign"]
    data: flow.AssignData


class AnswerMove(_ItemMove):
    """答复: the answer given back to the person who raised it."""

    model_config = _examples(
        {"trigger": "answer", "expected_version": 2, "data": {"answer": "已纳入明年改造计划"}}
    )
    trigger: Literal["answer"]
    data: flow.AnswerData


class CloseMove(_ItemMove):
    """办结: the answered opinion is closed."""

    model_config = _examples({"trigger": "close", "expected_version": 3})
    trigger: Literal["close"]
    data: flow.OpinionNoData = Field(default_factory=flow.OpinionNoData)


FeedbackTransitionIn = Annotated[
    AssignMove | AnswerMove | CloseMove, Field(discriminator="trigger")
]
