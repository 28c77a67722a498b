"""Sign-for (签收) and transfers (转办) of opinions."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class SignIn(BaseModel):
    """Sign for an opinion the caller's unit holds (accepting a transfer to it)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"expected_version": 2}]}
    )
    expected_version: int = Field(description="the opinion's version you saw")


class TransferIn(BaseModel):
    """Transfer an opinion to the unit that must answer it, with the reason."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"to_unit_id": 3, "reason": "属区民政局职责", "expected_version": 2}]
        },
    )
    to_unit_id: int
    reason: str = Field(min_length=1, max_length=1000)
    expected_version: int = Field(description="the opinion's version you saw")


class SendBackIn(BaseModel):
    """Send a transfer back to the unit that sent it, with the reason (the receiving unit)."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=1000)


class TransferDecisionIn(BaseModel):
    """A supervisor's decision of a sent-back transfer."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"outcome": "receiver", "note": "属区民政局职责"}]},
    )
    outcome: Literal["receiver", "sender"] = Field(
        description="receiver: the unit it was transferred to handles it; sender: back to the "
        "unit that transferred it"
    )
    note: str | None = Field(default=None, max_length=1000)
    new_due_on: date | None = Field(
        default=None, description="extend the answer's due day (else it stays the original)"
    )


class TransferOut(BaseModel):
    """One transfer of an opinion and what became of it."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    feedback_item_id: int
    event_id: int
    from_unit_id: int
    to_unit_id: int
    reason: str
    state: str = Field(description="pending | accepted | returned | upheld | overruled")
    transferred_by: str
    transferred_at: datetime
    accepted_by: str | None
    accepted_at: datetime | None
    returned_reason: str | None
    returned_by: str | None
    returned_at: datetime | None
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None
    new_due_on: date | None


class StepOut(BaseModel):
    """One step of an opinion's sign-for and transfers, in plain words."""

    at: datetime
    text: str


class TransfersOut(BaseModel):
    """An opinion's transfers and its steps in plain words."""

    items: list[TransferOut]
    steps: list[StepOut]
