"""District: one 区/县 of the city, with its own 政府办, campaigns, units and public pages.

A deployment serves one city. Every tenant row belongs to exactly one district (`district_id`);
an account's `district_id` is the level it acts at (NULL: the city). See docs/tenancy.md.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime

DEFAULT_DISTRICT = 1
"""The district the upgrade made of a single-district database (雁江区 by default): rows created
by code that names no district belong to it, as every row did before districts existed."""


class District(SQLModel, table=True):
    """A district (区/县) and its government office (政府办), the campaigns' issuing office."""

    id: int | None = Field(default=None, primary_key=True)
    # Short stable code for URLs and imports (e.g. "yanjiang"); unique in the city.
    code: str = Field(sa_type=sa.String(32), unique=True)
    name: str = Field(sa_type=sa.String(50), unique=True)  # 雁江区
    city_name: str = Field(default="", sa_type=sa.String(50))  # 资阳市
    office_name: str = Field(default="", sa_type=sa.String(100))  # 资阳市雁江区人民政府办公室
    contact_name: str | None = Field(default=None, sa_type=sa.String(50))
    contact_phone: str | None = Field(default=None, sa_type=sa.String(32))
    contact_email: str | None = Field(default=None, sa_type=sa.String(200))
    created_at: datetime = Field(sa_type=UTCDateTime)


class DistrictGrant(SQLModel, table=True):
    """A district's grant to a named city supervisor to act in it as the district's own
    supervisor would (spot checks, returns, approvals…); revoked by setting `revoked_at`.
    Shared like `account` (read when the supervisor's token is, before any district is known)."""

    __tablename__ = "district_grant"

    id: int | None = Field(default=None, primary_key=True)
    district_id: int = Field(foreign_key="district.id", index=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    granted_by: int | None = Field(default=None, foreign_key="account.id")
    granted_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_by: int | None = Field(default=None, foreign_key="account.id")
    reason: str = Field(default="", sa_type=sa.String(200))
