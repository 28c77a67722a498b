"""Spot check (抽查) of an event by the district office."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime


class SpotCheckResult(StrEnum):
    """Outcome of a spot check, counted in the transparency assessment."""

    satisfactory = "satisfactory"  # 合格
    needs_improvement = "needs_improvement"  # 需整改
    unsatisfactory = "unsatisfactory"  # 不合格


class SpotCheck(SQLModel, table=True):
    """The district office's check of one event, recorded by the spot_check move."""

    __tablename__ = "spot_check"

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="event.id", index=True)
    # 1 for the first check; a summary sent back for rework and resubmitted is checked again.
    round: int = 1
    result: str = Field(sa_type=sa.String(32))
    site_visit: bool = False
    notes: str = Field(default="", sa_type=sa.Text)
    checked_by: int | None = Field(default=None, foreign_key="account.id")
    checked_at: datetime = Field(sa_type=UTCDateTime)
