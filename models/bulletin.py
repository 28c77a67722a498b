"""The weekly 通报: units ranked by on-time holding and answers, and what is overdue."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime


class Bulletin(SQLModel, table=True):
    """One campaign's 通报 for one week, as it was made (the ranking is kept, not recomputed):
    unique per campaign and week, so of several schedulers exactly one makes it."""

    __tablename__ = "bulletin"
    __table_args__ = (
        sa.UniqueConstraint("campaign_id", "week_start", name="uq_bulletin_campaign_week"),
    )

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    week_start: date  # the first day of the week it covers (a Monday by default)
    as_of: date  # the last day counted (the day before it was made)
    made_at: datetime = Field(sa_type=UTCDateTime)
    # One dict per unit, best first: rank, unit, the numbers, last / streak / interview (约谈).
    rows: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
