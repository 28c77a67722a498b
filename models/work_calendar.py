"""Working-day data loaded by admins: newly published years and local overrides."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime


class CalendarDay(SQLModel, table=True):
    """One day's loaded rule (a holiday, an adjusted working weekend, or a local override)."""

    __tablename__ = "calendar_day"

    day: date = Field(primary_key=True)
    workday: bool
    source: str = Field(sa_type=sa.String(300))
    reason: str | None = Field(default=None, sa_type=sa.String(300))
    loaded_at: datetime = Field(sa_type=UTCDateTime)


class CalendarYear(SQLModel, table=True):
    """A year whose whole arrangement was loaded from a file (so it is no longer provisional)."""

    __tablename__ = "calendar_year"

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    source: str = Field(sa_type=sa.String(300))
    loaded_at: datetime = Field(sa_type=UTCDateTime)
