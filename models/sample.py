"""Spot-check sample draws (抽查抽样): each draw kept with everything needed to redo it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime


class SampleDraw(SQLModel, table=True):
    """One draw of units to spot-check: seed, method, population snapshot, exclusions, result.

    Append-only (the migration installs triggers refusing UPDATE and DELETE): drawing again is a
    new row, so no draw can be silently redone.
    """

    __tablename__ = "sample_draw"

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    method: str = Field(sa_type=sa.String(32))  # e.g. sha256-rank-v1
    size_mode: str = Field(sa_type=sa.String(8))  # count | share
    size_value: str = Field(sa_type=sa.String(32))  # "5" or "1/5"
    strata: str | None = Field(default=None, sa_type=sa.String(32))  # None | unit_kind
    seed: str = Field(sa_type=sa.String(64))
    # [{unit_id, name, kind}] in unit id order, as the population stood at the draw.
    population: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    population_sha256: str = Field(sa_type=sa.String(64))
    excluded: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    selected: list[int] = Field(default_factory=list, sa_type=sa.JSON)
    note: str = Field(default="", sa_type=sa.Text)
    drawn_by: int | None = Field(default=None, foreign_key="account.id")
    drawn_by_name: str = Field(default="", sa_type=sa.String(100))
    drawn_at: datetime = Field(sa_type=UTCDateTime)
