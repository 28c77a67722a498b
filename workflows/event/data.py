"""The data each move takes, validated before the machine runs (errors answer 422 naming a
field), and the moves a reason is mandatory for.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from models import EventForm, LeaderPost, SpotCheckResult


class _MoveData(BaseModel):
    model_config = ConfigDict(extra="forbid")


# Dates a move may name: the service's reach (issue 14), so 9999-12-31 is a field error.
Day = Annotated[dt.date, Field(ge=dt.date(2000, 1, 1), le=dt.date(2100, 12, 31))]


class EventNoData(_MoveData):
    """Moves that take nothing but the trigger (invite)."""


# A cancellation's reasons (the request's, a refusal's, a waiver's): at least this many
# characters, so "取消" alone is not a reason.
CANCEL_REASON_MIN = 5


class CancelData(_MoveData):
    """取消 (supervisors): the decision's note and whether the cancellation is exempt from the
    assessment (不计扣分, with its reason). The reason for cancelling is the move's `reason`."""

    note: str | None = Field(default=None, max_length=2000, description="审批意见")
    exempt: bool = Field(default=False, description="不计扣分: not counted as not held")
    exempt_reason: str | None = Field(
        default=None, max_length=2000, description="why it is exempt; required with exempt"
    )

    @model_validator(mode="after")
    def _exempt_has_reason(self) -> CancelData:
        if self.exempt and len((self.exempt_reason or "").strip()) < CANCEL_REASON_MIN:
            raise ValueError(
                f"不计扣分理由：标记不计扣分须说明理由（至少 {CANCEL_REASON_MIN} 个字） / "
                f"exempt_reason: an exemption needs a reason of at least {CANCEL_REASON_MIN} "
                "characters"
            )
        return self


class MetBy(BaseModel):
    """Who met the visitors (主要负责人或分管负责人主动与开放对象面对面沟通): a name and a post."""

    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
    post: LeaderPost


class HoldData(_MoveData):
    """The day(s) the event really took place (default: today), the forms actually held (at
    least one of the notice's four), who met the visitors and, optionally, attendance (invitee
    id -> attended). A clerk may record the event days later: lateness counts from `held_on`
    (the first day), the summary's clock from `held_until` (the last day; default held_on)."""

    held_on: Day | None = Field(
        default=None, description="the (first) day held; not in the future; default today"
    )
    held_until: Day | None = Field(
        default=None, description="the last day held, for an event held over several days"
    )
    forms_held: list[EventForm] = Field(
        default_factory=list, max_length=4, description="the forms actually held; at least one"
    )
    met_by: list[MetBy] = Field(
        default_factory=list, max_length=10, description="who met the visitors, with their post"
    )
    attendance: dict[int, bool] = Field(default_factory=dict, max_length=1000)


class NewFeedbackItem(BaseModel):
    """One opinion recorded as the feedback is collected."""

    model_config = ConfigDict(extra="forbid")
    content: str = Field(min_length=1, max_length=5000)
    raised_by_invitee_id: int | None = None


class CollectFeedbackData(_MoveData):
    """Opinions recorded with the move, or the explicit statement that there were none."""

    items: list[NewFeedbackItem] = Field(default_factory=list, max_length=500)
    no_opinions: bool = False
    statement: str | None = Field(default=None, max_length=2000)


class SubmitSummaryData(_MoveData):
    """The summary text may be given with the move; attachments are uploaded beforehand."""

    text: str | None = Field(default=None, max_length=50000)


class SpotCheckData(_MoveData):
    """The district office's finding."""

    result: SpotCheckResult
    notes: str = Field(default="", max_length=10000)
    site_visit: bool = False


class ReworkData(_MoveData):
    """The district office sends a summary back: what is lacking, and by when to resubmit."""

    reasons: list[
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    ] = Field(
        min_length=1, max_length=20, description="what the summary lacks, one point per entry"
    )
    due_on: Day | None = Field(
        default=None,
        description="new summary deadline; default: the campaign's summary days from today",
    )


class RescheduleData(_MoveData):
    """A new day, or a new window [earliest, latest]."""

    date: Day | None = None
    earliest: Day | None = None
    latest: Day | None = None

    @model_validator(mode="after")
    def _one_form(self) -> RescheduleData:
        if self.date is not None:
            if self.earliest is not None or self.latest is not None:
                raise ValueError(
                    "请填写活动日期，或最早和最晚日期，不要同时填写 / "
                    "give either date, or earliest and latest, not both"
                )
            self.earliest = self.latest = self.date
        if self.earliest is None or self.latest is None:
            raise ValueError(
                "请填写活动日期，或同时填写最早和最晚日期 / give date, or both earliest and latest"
            )
        if self.latest < self.earliest:
            raise ValueError("最晚日期不能早于最早日期 / latest must not be before earliest")
        return self


MOVE_DATA: dict[str, type[_MoveData]] = {
    "invite": EventNoData,
    "hold": HoldData,
    "collect_feedback": CollectFeedbackData,
    "submit_summary": SubmitSummaryData,
    "spot_check": SpotCheckData,
    "reschedule": RescheduleData,
    "cancel": CancelData,
    "return_for_rework": ReworkData,
}

# Moves a reason is mandatory for.
REASON_REQUIRED = {"reschedule", "cancel"}
