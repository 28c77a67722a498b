"""Cancellation requests (申请取消): a unit asks, a supervisor decides."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from workflows.event.data import CANCEL_REASON_MIN

Reason = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=CANCEL_REASON_MIN, max_length=2000)
]


class CancellationIn(BaseModel):
    """A unit's request: why the event cannot take place (at least 5 characters)."""

    model_config = ConfigDict(extra="forbid")
    reason: Reason


class CancellationDecisionIn(BaseModel):
    """A supervisor's decision: approve (optionally 不计扣分, with its reason) or refuse (with
    the reason the clerk will read in `note`)."""

    model_config = ConfigDict(extra="forbid")
    approve: bool
    note: str | None = Field(
        default=None, max_length=2000, description="审批意见; required to refuse"
    )
    exempt: bool = Field(default=False, description="不计扣分: not counted as not held")
    exempt_reason: str | None = Field(default=None, max_length=2000)


class ExemptionIn(BaseModel):
    """Mark an approved cancellation 不计扣分, or take the mark back; a reason either way."""

    model_config = ConfigDict(extra="forbid")
    exempt: bool
    reason: Reason


class CancellationOut(BaseModel):
    """A cancellation request, its decision and whether it counts in the assessment."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    event_id: int
    unit_id: int
    reason: str
    state: str
    direct: bool
    requested_by_name: str
    requested_at: datetime
    decided_by_name: str | None
    decided_at: datetime | None
    decision_note: str | None
    exempt: bool
    exempt_reason: str | None
    exempt_by_name: str | None
    exempt_at: datetime | None
