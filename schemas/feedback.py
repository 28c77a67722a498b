"""Opinions (意见建议) and their moves."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from schemas.common import MAX_ID, Id
from schemas.deadlines import TimerOut
from workflows.feedback import machine as flow
from workflows.feedback.corrections import AnswerCorrection
from workflows.kernel.clock import local_date


class FeedbackIn(BaseModel):
    """An opinion raised at a held event."""

    model_config = ConfigDict(extra="forbid")
    content: str = Field(min_length=1, max_length=5000)
    raised_by_invitee_id: Id | None = None
    received_on: date | None = Field(
        default=None,
        description="only for an opinion added after collect_feedback (until the summary is "
        "submitted): the day it was received, from the first day held to today; default today",
    )


class LampOut(BaseModel):
    """红黄绿灯: how close an open opinion is to its due day, by the campaign's thresholds."""

    lamp: Literal["red", "yellow", "green"]
    label: str = Field(description="红灯 / 黄灯 / 绿灯")
    workdays_left: int = Field(description="working days to the due day; negative: late")
    words: str = Field(description="what the lamp means, as the pages say it")


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
    answered_at: datetime | None = Field(description="when the answer was typed in")
    answered_on: date | None = Field(
        default=None, description="the day the answer was given; lateness counts from it"
    )
    answered_by: str | None = Field(default=None, description="who typed the answer in")
    answered_late_workdays: int | None
    added_late: bool = Field(
        default=False, description="added after collect_feedback, with its own day received"
    )
    unit_id: int = Field(description="the unit holding the opinion (the one it was transferred to)")
    sign_due_on: date | None = Field(default=None, description="the last day to sign for it")
    signed_at: datetime | None = Field(default=None, description="when the holder signed for it")
    signed_by: str | None = Field(default=None, description="who signed for it")
    lamp: LampOut | None = Field(
        default=None,
        description="the lamp of an opinion still open (the campaign's lamp_red_workdays and "
        "lamp_yellow_workdays, seen today); null once answered or closed",
    )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def backdated(self) -> bool:
        """The answer was entered after the day it was given (补录)."""
        if self.answered_on is None or self.answered_at is None:
            return False
        return self.answered_on < local_date(self.answered_at)

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
        {
            "trigger": "answer",
            "expected_version": 2,
            "data": {"answer": "已纳入明年改造计划", "answered_on": "2022-09-20"},
        }
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


class AnswerCorrectionIn(AnswerCorrection):
    """更正答复: the answer's text and/or the day it was given, with the reason. The unit within
    the campaign's correction_workdays of typing the answer in; later a supervisor."""

    model_config = _examples(
        {
            "expected_version": 3,
            "answered_on": "2022-09-30",
            "reason": "答复实际于9月30日当面告知，录入时日期填错",
        }
    )
    expected_version: int = Field(
        ge=1, le=MAX_ID, description="the opinion's version the caller saw"
    )
