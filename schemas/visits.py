"""On-site visits (现场走访)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field


class VisitIn(BaseModel):
    """A visit: when, who went, what they found."""

    model_config = ConfigDict(extra="forbid")
    visited_on: date
    people: str = Field(
        min_length=1, max_length=500, description="who went, e.g. 区政府办 张三、李四"
    )
    findings: str = Field(default="", max_length=10000)
    spot_check_id: int | None = Field(
        default=None, ge=1, description="the spot-check round (of this event) the visit informed"
    )
    problem: bool = Field(
        default=False, description="the findings are a problem: reported and deducted"
    )


class VisitPhotoOut(BaseModel):
    """A photo of a visit."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    filename: str
    content_type: str
    size: int
    created_at: datetime


class VisitOut(BaseModel):
    """A visit and its photos."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    event_id: int
    visited_on: date
    people: str
    findings: str
    spot_check_id: int | None = None
    problem: bool = False
    created_at: datetime
    photos: list[VisitPhotoOut] = Field(default_factory=list)
