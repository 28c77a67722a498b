"""Districts (区/县) of the city and their acting grants for city supervisors (docs/tenancy.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from workflows.accounts.grants import shown


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


class GrantIn(BaseModel):
    """A district's grant to a named city supervisor to act in it as its own supervisor would."""

    model_config = ConfigDict(extra="forbid")
    account_id: int = Field(description="the city supervisor's account id (`GET /api/v1/users`)")
    reason: str = Field(default="", max_length=200, description="why (kept with the grant)")


class GrantOut(BaseModel):
    """A grant, active or revoked, with the supervisor it names."""

    id: int
    district_id: int
    account_id: int
    account_username: str
    account_name: str = Field(description="显示名（username）, or the username alone")
    granted_by: int | None
    granted_at: datetime
    reason: str
    active: bool
    revoked_at: datetime | None
    revoked_by: int | None

    @classmethod
    def of(cls, row: Any) -> GrantOut:
        """From a `(grant, username, display_name)` row (workflows/accounts/grants.listing)."""
        grant, username, display_name = row
        return cls(
            id=grant.id, district_id=grant.district_id, account_id=grant.account_id,
            account_username=username, account_name=shown(username, display_name),
            granted_by=grant.granted_by, granted_at=grant.granted_at, reason=grant.reason,
            active=grant.revoked_at is None, revoked_at=grant.revoked_at,
            revoked_by=grant.revoked_by,
        )  # fmt: skip
