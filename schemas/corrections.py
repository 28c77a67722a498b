"""Corrections of a recorded hold and correction requests (更正 / 更正申请)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.events import HistoryOut

Kind = Literal["attendance", "hold", "invitees", "answer"]


class CorrectionIn(BaseModel):
    """A correction made directly (the unit within its working days, a supervisor any time):
    what (`kind`), the change (`payload`, in the kind's shape) and why."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "kind": "hold",
                    "payload": {"held_on": "2022-09-15", "held_until": "2022-09-17"},
                    "reason": "活动连续开展三天，原登记只记了第一天",
                    "expected_version": 7,
                }
            ]
        },
    )
    kind: Literal["attendance", "hold", "invitees"]
    payload: dict[str, Any] = Field(max_length=20)
    reason: str = Field(min_length=1, max_length=2000)
    expected_version: int = Field(ge=1, le=2**31 - 1)


class CorrectionRequestIn(BaseModel):
    """A clerk's request to correct, after the unit's correction days."""

    model_config = ConfigDict(extra="forbid")
    kind: Kind
    payload: dict[str, Any] = Field(max_length=20)
    reason: str = Field(min_length=1, max_length=2000)


class CorrectionDecisionIn(BaseModel):
    """A supervisor's decision: approve (the change is applied), or refuse with a reason."""

    model_config = ConfigDict(extra="forbid")
    approve: bool
    note: str = Field(default="", max_length=2000)


class CorrectionRequestOut(BaseModel):
    """A correction request and its decision."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    event_id: int
    unit_id: int
    kind: str
    payload: dict[str, Any]
    reason: str
    state: str
    requested_by: int | None
    requested_at: datetime
    decided_by: int | None
    decided_at: datetime | None
    decision_note: str | None


class CorrectionOut(BaseModel):
    """The event's new version and the correction's audit line."""

    event_version: int
    line: HistoryOut
