"""The weekly 通报."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class BulletinOut(BaseModel):
    """One campaign's weekly bulletin as it was made."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    campaign_id: int
    week_start: date
    as_of: date = Field(description="the last day counted")
    made_at: datetime
    rows: list[dict[str, Any]] = Field(description="one per unit, best first")
