"""Unit: a responsible unit (town, street office, district department, …) hosting events."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.district import DEFAULT_DISTRICT
from models.types import UTCDateTime


class UnitKind(StrEnum):
    """What kind of body a unit is; inferred from its name on import."""

    town = "town"  # 镇
    street_office = "street_office"  # 街道办事处
    department = "department"  # 区…局 / 委 / 办
    institution = "institution"  # 直属事业单位
    window = "window"  # 服务窗口
    other = "other"


class Unit(SQLModel, table=True):
    """A responsible unit (责任单位) and the people escalations go to."""

    # The same name may exist in two districts (每个区都有“住建局”), never twice in one.
    __table_args__ = (sa.UniqueConstraint("district_id", "name", name="uq_unit_district_name"),)

    id: int | None = Field(default=None, primary_key=True)
    district_id: int = Field(
        default=DEFAULT_DISTRICT,
        foreign_key="district.id",
        index=True,
        sa_column_kwargs={"server_default": str(DEFAULT_DISTRICT)},
    )
    name: str = Field(sa_type=sa.String(100))
    kind: str = Field(default=UnitKind.other, sa_type=sa.String(32))
    contact_name: str | None = Field(default=None, sa_type=sa.String(50))
    contact_phone: str | None = Field(default=None, sa_type=sa.String(32))
    contact_email: str | None = Field(default=None, sa_type=sa.String(200))
    head_name: str | None = Field(default=None, sa_type=sa.String(50))
    head_phone: str | None = Field(default=None, sa_type=sa.String(32))
    head_email: str | None = Field(default=None, sa_type=sa.String(200))
    # A group robot (企业微信 / 钉钉) or any JSON webhook the unit wants escalations posted to.
    webhook_url: str | None = Field(default=None, sa_type=sa.String(500))
    webhook_format: str = Field(default="json", sa_type=sa.String(16))  # json | wecom | dingtalk
    # How the contact, head and robot get escalations: individual | digest; unset: the campaign's
    # `escalation_delivery` setting.
    escalation_delivery: str | None = Field(default=None, sa_type=sa.String(16))
    created_at: datetime = Field(sa_type=UTCDateTime)
    # A unit merged into another (issue 30) keeps its id and its records; from `merged_on` its
    # work is the other unit's, and the year-over-year report counts both as that unit.
    merged_into_id: int | None = Field(default=None, foreign_key="unit.id")
    merged_on: date | None = None


class UnitName(SQLModel, table=True):
    """A name a unit had before it was renamed: valid until (not including) `valid_until`.

    The unit's id is its stable identity; `unit.name` is its name today. A report of a campaign
    shows each unit under the name it had when the campaign started (issue 30).
    """

    __tablename__ = "unit_name"
    __table_args__ = (sa.Index("ix_unit_name_unit_until", "unit_id", "valid_until"),)

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id")
    name: str = Field(sa_type=sa.String(100))
    valid_until: date
    created_at: datetime = Field(sa_type=UTCDateTime)
