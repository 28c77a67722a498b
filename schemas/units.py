"""Units and their contacts."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from models import UnitKind


class UnitIn(BaseModel):
    """A new unit."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    kind: UnitKind = UnitKind.other
    contact_name: str | None = Field(default=None, max_length=50)
    contact_phone: str | None = Field(default=None, max_length=32)
    contact_email: str | None = Field(default=None, max_length=200)
    head_name: str | None = Field(default=None, max_length=50)
    head_phone: str | None = Field(default=None, max_length=32)
    head_email: str | None = Field(default=None, max_length=200)


class UnitPatch(BaseModel):
    """Changes to a unit's kind or contacts."""

    model_config = ConfigDict(extra="forbid")
    kind: UnitKind | None = None
    contact_name: str | None = Field(default=None, max_length=50)
    contact_phone: str | None = Field(default=None, max_length=32)
    contact_email: str | None = Field(default=None, max_length=200)
    head_name: str | None = Field(default=None, max_length=50)
    head_phone: str | None = Field(default=None, max_length=32)
    head_email: str | None = Field(default=None, max_length=200)


class UnitOut(UnitIn):
    """A unit with its contacts."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: str  # type: ignore[assignment]
