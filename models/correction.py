"""Correction requests (更正申请): past the unit's correction days, a clerk asks a supervisor to
correct a record; the request names what (its `kind`) and the change (its `payload`, as the
correction itself takes it), and the supervisor approves (the change is applied) or refuses."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime


class CorrectionState(StrEnum):
    """pending → approved (applied) or refused (with a reason)."""

    pending = "pending"
    approved = "approved"
    refused = "refused"


class CorrectionRequest(SQLModel, table=True):
    """One request to correct a record of an event, and the supervisor's decision."""

    __tablename__ = "correction_request"
    __table_args__ = (sa.Index("ix_correction_request_state_id", "state", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="event.id", index=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)  # the event's, for scoped lists
    # What is to be corrected (workflows/event/correction_requests.py KINDS), and the change.
    kind: str = Field(sa_type=sa.String(32))
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    reason: str = Field(sa_type=sa.Text)
    state: str = Field(default=CorrectionState.pending, sa_type=sa.String(16))
    requested_by: int | None = Field(default=None, foreign_key="account.id")
    requested_at: datetime = Field(sa_type=UTCDateTime)
    decided_by: int | None = Field(default=None, foreign_key="account.id")
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decision_note: str | None = Field(default=None, sa_type=sa.Text)
