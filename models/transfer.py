"""Transfers (转办): an opinion handed from the unit holding it to the unit that must answer."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime


class TransferState(StrEnum):
    """pending → accepted (the receiving unit signed for it) or returned (sent back with a
    reason, a dispute) → upheld (a supervisor sends it to the receiving unit after all) or
    overruled (back to the unit that transferred it)."""

    pending = "pending"
    accepted = "accepted"
    returned = "returned"
    upheld = "upheld"
    overruled = "overruled"


OPEN_TRANSFER_STATES = (TransferState.pending, TransferState.returned)


class FeedbackTransfer(SQLModel, table=True):
    """One transfer of one opinion, the receiving unit's answer to it and any decision."""

    __tablename__ = "feedback_transfer"

    id: int | None = Field(default=None, primary_key=True)
    feedback_item_id: int = Field(foreign_key="feedback_item.id", index=True)
    event_id: int = Field(foreign_key="event.id")
    from_unit_id: int = Field(foreign_key="unit.id")
    to_unit_id: int = Field(foreign_key="unit.id", index=True)
    reason: str = Field(sa_type=sa.Text)
    state: str = Field(default=TransferState.pending, sa_type=sa.String(16), index=True)
    transferred_by: str = Field(sa_type=sa.String(100))
    transferred_at: datetime = Field(sa_type=UTCDateTime)
    accepted_by: str | None = Field(default=None, sa_type=sa.String(100))
    accepted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    returned_reason: str | None = Field(default=None, sa_type=sa.Text)
    returned_by: str | None = Field(default=None, sa_type=sa.String(100))
    returned_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decided_by: str | None = Field(default=None, sa_type=sa.String(100))
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decision_note: str | None = Field(default=None, sa_type=sa.Text)
    # A supervisor deciding a dispute may move the answer's due day (else it stays the original).
    new_due_on: date | None = None
