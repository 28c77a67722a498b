"""Events, their moves and their history.

A move's body is one model per trigger in a discriminated union on `trigger`, so the OpenAPI
document shows each move's `data` (attendance, opinions, spot-check result, new date, …) with its
fields, types, allowed values and an example. The data models themselves are the workflow's
(workflows/event/data.py), so the API and the rules validate with the same code.
"""

from __future__ import annotations

import datetime as dt
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from models import EventForm
from schemas.common import MAX_ID, Id, SaneDate, reject_null
from workflows.event.data import (
    CancelData,
    CollectFeedbackData,
    EventNoData,
    HoldData,
    RescheduleData,
    ReworkData,
    SpotCheckData,
    SubmitSummaryData,
)
from workflows.event.machine import STATE_LABELS_ZH


class EventIn(BaseModel):
    """A new event: a single day, or a window [earliest, latest]."""

    model_config = ConfigDict(extra="forbid")
    campaign_id: Id
    unit_id: Id
    theme: str = Field(min_length=1, max_length=300)
    date: SaneDate | None = Field(default=None, description="a single day; or give earliest+latest")
    earliest: SaneDate | None = None
    latest: SaneDate | None = None
    date_text: str | None = Field(default=None, max_length=100)
    tentative: bool = False
    location: str | None = Field(default=None, max_length=300)
    start_time: dt.time | None = Field(default=None, description="local time of day, e.g. 14:30")
    end_time: dt.time | None = None
    forms: list[EventForm] = Field(default_factory=list, max_length=len(EventForm))
    seq: int | None = Field(default=None, ge=1, le=1_000_000)
    override_reason: str | None = Field(
        default=None,
        max_length=2000,
        description="supervisors: why the event may fall outside the campaign's window",
    )


class EventPatch(BaseModel):
    """Edits outside the workflow (dates change only by the reschedule move)."""

    model_config = ConfigDict(extra="forbid")
    expected_version: int = Field(ge=1, le=MAX_ID)
    theme: str | None = Field(default=None, min_length=1, max_length=300)
    location: str | None = Field(default=None, max_length=300)
    start_time: dt.time | None = None
    end_time: dt.time | None = None
    forms: list[EventForm] | None = Field(default=None, max_length=len(EventForm))
    public_places: int | None = Field(
        default=None, ge=0, le=1000, description="places open to public registration; 0: none"
    )

    _no_nulls = field_validator("theme", "forms", "public_places", mode="before")(reject_null)


class EventOut(BaseModel):
    """An event, its state and version, and the moves this caller may try next."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    campaign_id: int
    unit_id: int
    unit_name: str
    seq: int | None
    theme: str
    date_earliest: date
    date_latest: date
    date_text: str | None
    tentative: bool
    planned_until: date | None = Field(
        default=None, description="the last day of an event planned over several days"
    )
    location: str | None
    start_time: dt.time | None
    end_time: dt.time | None
    forms: list[str]
    public_places: int = 0
    state: str
    state_label: str
    version: int
    held_on: date | None
    held_until: date | None = Field(default=None, description="the last day held")
    forms_held: list[str] | None = Field(
        default=None, description="the forms actually held (null: held before they were recorded)"
    )
    met_by: list[dict[str, Any]] | None = Field(
        default=None, description="who met the visitors: [{name, post}]"
    )
    flags: list[dict[str, Any]] = Field(
        default_factory=list,
        description="deviations recorded instead of refused (rule, stage, badge, numbers, "
        "the notice's sentence)",
    )
    summary_due_on: date | None
    escalation_level: int
    last_notified_at: datetime | None
    allowed_triggers: list[str]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, event: Any, unit_name: str, allowed: list[str]) -> EventOut:
        """From an event row."""
        return cls.model_validate(
            {
                **event.model_dump(),
                "flags": event.flags or [],
                "unit_name": unit_name,
                "state_label": STATE_LABELS_ZH.get(event.state, event.state),
                "allowed_triggers": allowed,
            }
        )


class HistoryOut(BaseModel):
    """One line of an event's audit trail."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    trigger: str
    from_state: str | None
    to_state: str
    version: int
    actor_id: int | None
    actor_name: str
    at: datetime
    reason: str | None
    data: dict[str, Any]
    # The line in words, as the history page shows it (workflows/event/history.py).
    at_zh: str = Field(default="", description="the time in words: 2022年9月16日（星期五）14:30")
    who: str = Field(default="", description="who, by display name (系统 for the service)")
    sentence: str = Field(default="", description="what happened, one Chinese sentence")

    @classmethod
    def of(cls, line: Any, words: Any) -> HistoryOut:
        """From an audit line and its words (`history.in_words`)."""
        out = cls.model_validate(line)
        out.at_zh, out.who, out.sentence = words.at_zh, words.who, words.sentence
        return out


class TransitionOut(BaseModel):
    """The event after a move, and the move's audit line."""

    event: EventOut
    move: HistoryOut


# ---- one body per trigger ----------------------------------------------------------------


class _Move(BaseModel):
    model_config = ConfigDict(extra="forbid")
    expected_version: int = Field(ge=1, le=MAX_ID, description="the version the caller saw")
    reason: str | None = Field(default=None, max_length=2000)


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": list(examples)})


class InviteMove(_Move):
    """发出邀请: the list passes the size and citizen-share rules."""

    model_config = _examples({"trigger": "invite", "expected_version": 3})
    trigger: Literal["invite"]
    data: EventNoData = Field(default_factory=EventNoData)


class HoldMove(_Move):
    """开展活动: the day(s) it really took place (default today), the forms actually held (at
    least one), who met the visitors (name and post) and attendance (invitee id → attended);
    a day before the planned one needs a reason."""

    model_config = _examples(
        {
            "trigger": "hold",
            "expected_version": 4,
            "data": {
                "held_on": "2022-09-15",
                "held_until": "2022-09-17",
                "forms_held": ["site_visit", "dialogue"],
                "met_by": [{"name": "王局长", "post": "principal"}],
                "attendance": {"17": True, "18": False},
            },
        }
    )
    trigger: Literal["hold"]
    data: HoldData = Field(default_factory=HoldData)


class CollectFeedbackMove(_Move):
    """收集意见: opinions as items, or the explicit statement that there were none."""

    model_config = _examples(
        {
            "trigger": "collect_feedback",
            "expected_version": 5,
            "data": {
                "items": [{"content": "希望延长社区食堂营业时间", "raised_by_invitee_id": 17}]
            },
        },
        {"trigger": "collect_feedback", "expected_version": 5, "data": {"no_opinions": True}},
    )
    trigger: Literal["collect_feedback"]
    data: CollectFeedbackData = Field(default_factory=CollectFeedbackData)


class SubmitSummaryMove(_Move):
    """报送总结: text (or the saved draft) and at least one uploaded photo or file."""

    model_config = _examples(
        {"trigger": "submit_summary", "expected_version": 6, "data": {"text": "活动总结……"}}
    )
    trigger: Literal["submit_summary"]
    data: SubmitSummaryData = Field(default_factory=SubmitSummaryData)


class SpotCheckMove(_Move):
    """抽查 (supervisors): the result and notes."""

    model_config = _examples(
        {
            "trigger": "spot_check",
            "expected_version": 7,
            "data": {"result": "satisfactory", "notes": "图文资料齐全", "site_visit": True},
        }
    )
    trigger: Literal["spot_check"]
    data: SpotCheckData


class RescheduleMove(_Move):
    """改期: a new day or window, with a reason."""

    model_config = _examples(
        {
            "trigger": "reschedule",
            "expected_version": 2,
            "reason": "因天气原因延期",
            "data": {"date": "2022-09-20"},
        }
    )
    trigger: Literal["reschedule"]
    data: RescheduleData


class CancelMove(_Move):
    """取消 (supervisors): before the event is held, with a reason; optionally 不计扣分 (not
    counted as not held) with its reason. Unit staff ask instead:
    POST /events/{id}/cancellation-requests."""

    model_config = _examples(
        {
            "trigger": "cancel",
            "expected_version": 2,
            "reason": "区政府办统一调整",
            "data": {"exempt": True, "exempt_reason": "区里统一调整活动安排"},
        }
    )
    trigger: Literal["cancel"]
    data: CancelData = Field(default_factory=CancelData)


class ReturnForReworkMove(_Move):
    """退回整改 (supervisors): what the summary lacks and, optionally, the new deadline."""

    model_config = _examples(
        {
            "trigger": "return_for_rework",
            "expected_version": 8,
            "data": {"reasons": ["缺少活动现场照片", "未写明意见办理情况"], "due_on": "2022-09-30"},
        }
    )
    trigger: Literal["return_for_rework"]
    data: ReworkData


EventTransitionIn = Annotated[
    InviteMove
    | HoldMove
    | CollectFeedbackMove
    | SubmitSummaryMove
    | SpotCheckMove
    | RescheduleMove
    | CancelMove
    | ReturnForReworkMove,
    Field(discriminator="trigger"),
]
