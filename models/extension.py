"""Extension requests: a unit asks for more time to answer an opinion (申请延期)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime


class ExtensionState(StrEnum):
    """pending → approved (new due date) or refused."""

    pending = "pending"
    approved = "approved"
    refused = "refused"


class ExtensionRequest(SQLModel, table=True):
    """One request to move an opinion's answer deadline, and the supervisor's decision."""

    __tablename__ = "extension_request"

    id: int | None = Field(default=None, primary_key=True)
    feedback_item_id: int = Field(foreign_key="feedback_item.id", index=True)
    event_id: int = Field(foreign_key="event.id")
    unit_id: int = Field(foreign_key="unit.id", index=True)
    reason: str = Field(sa_type=sa.Text)
    old_due_on: date
    requested_due_on: date | None = None
    state: str = Field(default=ExtensionState.pending, sa_type=sa.String(16))
    requested_by: int | None = Field(default=None, foreign_key="account.id")
    requested_at: datetime = Field(sa_type=UTCDateTime)
    decided_by: int | None = Field(default=None, foreign_key="account.id")
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decision_note: str | None = Field(default=None, sa_type=sa.Text)
    new_due_on: date | None = None
