"""Rectification (整改) after a spot-check round found lacking: the supervisor's notice, the
unit's report, the supervisor's closing — and the files the unit sends with its report."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime


class RectificationState(StrEnum):
    """issued (waiting for the unit's report) → reported → closed; a report sent back is
    issued again with a new due day."""

    issued = "issued"  # 待整改
    reported = "reported"  # 待审核
    closed = "closed"  # 已销号


class Rectification(SQLModel, table=True):
    """One rectification notice (整改通知) on one spot-check round, and what came of it."""

    __tablename__ = "rectification"

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="event.id", index=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    spot_check_id: int = Field(foreign_key="spot_check.id", unique=True)
    notice: str = Field(sa_type=sa.Text)  # what to fix
    state: str = Field(default=RectificationState.issued, sa_type=sa.String(16))
    round: int = 1  # 2, 3… after each send-back
    due_on: date
    due_at: datetime = Field(sa_type=UTCDateTime)
    due_provisional: bool = False
    report: str = Field(default="", sa_type=sa.Text)
    reported_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reported_by: int | None = Field(default=None, foreign_key="account.id")
    # Any round's report came after its due day, or a due day passed with no report (seen by
    # the escalation): counted once in the assessment.
    overdue: bool = False
    send_back_reasons: str | None = Field(default=None, sa_type=sa.Text)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_by: int | None = Field(default=None, foreign_key="account.id")
    issued_by: int | None = Field(default=None, foreign_key="account.id")
    issued_at: datetime = Field(sa_type=UTCDateTime)
    version: int = 1
    escalation_level: int = 0
    last_notified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class RectificationFile(SQLModel, table=True):
    """A photo or file the unit sends with its rectification report (content-addressed)."""

    __tablename__ = "rectification_file"

    id: int | None = Field(default=None, primary_key=True)
    rectification_id: int = Field(foreign_key="rectification.id", index=True)
    filename: str = Field(sa_type=sa.String(255))
    content_type: str = Field(sa_type=sa.String(100))
    size: int
    sha256: str = Field(sa_type=sa.String(64))
    storage_key: str = Field(sa_type=sa.String(255))
    uploaded_by: int | None = Field(default=None, foreign_key="account.id")
    created_at: datetime = Field(sa_type=UTCDateTime)
