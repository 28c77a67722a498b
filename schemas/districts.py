"""Districts (区/县) of the city (docs/tenancy.md)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class DistrictIn(BaseModel):
    """A new district; the code is its stable name in URLs and imports."""

    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=40, description="2–32 lowercase letters, digits, -")
    name: str = Field(min_length=1, max_length=50)
    city_name: str = Field(default="", max_length=50)
    office_name: str = Field(default="", max_length=100)
    contact_name: str | None = Field(default=None, max_length=50)
    contact_phone: str | None = Field(default=None, max_length=32)
    contact_email: str | None = Field(default=None, max_length=200)


class DistrictPatch(BaseModel):
    """Changes to a district's name, office or contacts (its code stays)."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=50)
    city_name: str | None = Field(default=None, max_length=50)
    office_name: str | None = Field(default=None, max_length=100)
    contact_name: str | None = Field(default=None, max_length=50)
    contact_phone: str | None = Field(default=None, max_length=32)
    contact_email: str | None = Field(default=None, max_length=200)


class DistrictOut(BaseModel):
    """A district with its office and contacts."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    code: str
    name: str
    city_name: str
    office_name: str
    contact_name: str | None
    contact_phone: str | None
    contact_email: str | None
    created_at: datetime
