"""A unit renamed or merged into another between years (issue 30)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from schemas.common import SaneDate


class UnitRenameIn(BaseModel):
    """The unit's new name and the first day it holds."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    on: SaneDate = Field(description="the first day of the new name")


class UnitMergeIn(BaseModel):
    """The unit that took this one over, and the day it did."""

    model_config = ConfigDict(extra="forbid")
    into_unit_id: int = Field(ge=1)
    on: SaneDate = Field(description="the day of the merge")


class UnitHistoryOut(BaseModel):
    """A unit's name today, its earlier names with the day each ended, and its merge."""

    id: int
    name: str
    merged_into_id: int | None
    merged_on: str | None
    earlier_names: list[dict[str, str]]
