"""Campaign: one notice's open-day campaign and its rule settings."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.district import DEFAULT_DISTRICT
from models.types import UTCDateTime


class Campaign(SQLModel, table=True):
    """A notice's campaign (e.g. 资雁府办发〔2022〕58号) with its window and rules."""

    __table_args__ = (
        sa.UniqueConstraint("district_id", "doc_number", name="uq_campaign_district_doc_number"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # The district whose campaign this is (each district runs its own open day).
    district_id: int = Field(
        default=DEFAULT_DISTRICT,
        foreign_key="district.id",
        index=True,
        sa_column_kwargs={"server_default": str(DEFAULT_DISTRICT)},
    )
    doc_number: str = Field(sa_type=sa.String(64))
    title: str = Field(sa_type=sa.String(200))
    issuing_office: str = Field(sa_type=sa.String(200))
    starts_on: date
    ends_on: date
    # CampaignRules (workflows/campaign/rules.py) as JSON; missing keys fall back to the notice's
    # defaults.
    rules: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    created_at: datetime = Field(sa_type=UTCDateTime)
    # Set when next year's campaign is copied from this one (issue 30): from then on the campaign
    # is read-only (workflows/campaign/closure.py refuses every write to it and its records).
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The campaign this one was copied from (last year's), if any.
    copied_from_id: int | None = Field(default=None, foreign_key="campaign.id")


class CampaignUnit(SQLModel, table=True):
    """A unit taking part in a campaign, with that year's contacts, robot and usual forms.

    Copied from last year's campaign by the rollover (workflows/campaign/rollover.py) and
    editable until the campaign opens; the unit record keeps the live contacts escalations use.
    """

    __tablename__ = "campaign_unit"
    __table_args__ = (sa.UniqueConstraint("campaign_id", "unit_id", name="uq_campaign_unit"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    unit_id: int = Field(foreign_key="unit.id")
    contact_name: str | None = Field(default=None, sa_type=sa.String(50))
    contact_phone: str | None = Field(default=None, sa_type=sa.String(32))
    contact_email: str | None = Field(default=None, sa_type=sa.String(200))
    head_name: str | None = Field(default=None, sa_type=sa.String(50))
    head_phone: str | None = Field(default=None, sa_type=sa.String(32))
    head_email: str | None = Field(default=None, sa_type=sa.String(200))
    webhook_url: str | None = Field(default=None, sa_type=sa.String(500))
    webhook_format: str = Field(default="json", sa_type=sa.String(16))
    # 组织形式 (EventForm values) the unit plans to use; last year's forms when copied.
    forms: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
