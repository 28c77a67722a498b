"""Sample draws: the request and the recorded draw."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.common import Id


class Exclusion(BaseModel):
    """A unit left out of the draw, and why."""

    model_config = ConfigDict(extra="forbid")
    unit_id: Id
    reason: str = Field(min_length=1, max_length=500)


class SampleIn(BaseModel):
    """Draw a sample of units: a count or a share (0.2 or "20%"), optionally per unit kind."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"share": "20%", "strata": "unit_kind"}]},
    )
    count: int | None = Field(default=None, ge=1, le=100000)
    share: str | None = Field(default=None, max_length=16)
    strata: Literal["unit_kind"] | None = None
    exclude: list[Exclusion] = Field(default_factory=list, max_length=10000)
    seed: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="leave out for a random one; give one drawn in public (e.g. a lottery result)",
    )
    note: str = Field(default="", max_length=2000)


class SampleOut(BaseModel):
    """A recorded draw: everything needed to redo it, and the units chosen."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    campaign_id: int
    method: str
    size_mode: str
    size_value: str
    strata: str | None
    seed: str
    population: list[dict[str, Any]]
    population_sha256: str
    excluded: list[dict[str, Any]]
    selected: list[int]
    note: str
    drawn_by_name: str
    drawn_at: datetime
