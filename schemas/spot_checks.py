"""Spot checks (抽查)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class SpotCheckOut(BaseModel):
    """The district office's finding on an event."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    event_id: int
    round: int
    result: str
    site_visit: bool
    notes: str
    checked_by: int | None
    checked_at: datetime
