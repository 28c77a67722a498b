"""Cancellation requests: a unit asks to cancel an event (申请取消); a supervisor decides."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime


class CancellationState(StrEnum):
    """pending → approved (the event is cancelled) or refused (it goes on)."""

    pending = "pending"
    approved = "approved"
    refused = "refused"


class CancellationRequest(SQLModel, table=True):
    """One request to cancel an event, the supervisor's decision and, for an approved one,
    whether it is exempt from the assessment (不计扣分) and why. A supervisor's direct
    cancellation is a row approved at once (`direct`)."""

    __tablename__ = "cancellation_request"

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="event.id", index=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    reason: str = Field(sa_type=sa.Text)
    state: str = Field(default=CancellationState.pending, sa_type=sa.String(16), index=True)
    direct: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    requested_by: int | None = Field(default=None, foreign_key="account.id")
    requested_by_name: str = Field(default="", sa_type=sa.String(100))
    requested_at: datetime = Field(sa_type=UTCDateTime)
    decided_by: int | None = Field(default=None, foreign_key="account.id")
    decided_by_name: str | None = Field(default=None, sa_type=sa.String(100))
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decision_note: str | None = Field(default=None, sa_type=sa.Text)
    # 不计扣分: an approved cancellation the supervisor exempts from "not held", with a reason.
    exempt: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    exempt_reason: str | None = Field(default=None, sa_type=sa.Text)
    exempt_by_name: str | None = Field(default=None, sa_type=sa.String(100))
    exempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
