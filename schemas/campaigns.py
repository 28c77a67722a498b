"""Campaigns and their rule settings."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.common import SaneDate, reject_null
from workflows.campaign.rules import CampaignRules


class CampaignIn(BaseModel):
    """A new campaign; rules default to the notice's."""

    model_config = ConfigDict(extra="forbid")
    doc_number: str = Field(min_length=1, max_length=64)
    title: str = Field(min_length=1, max_length=200)
    issuing_office: str = Field(min_length=1, max_length=200)
    starts_on: SaneDate
    ends_on: SaneDate
    rules: CampaignRules = Field(default_factory=CampaignRules)
    district_id: int | None = Field(
        default=None,
        ge=1,
        le=2**31 - 1,
        description="the district running it: a district's supervisor may leave it out (its "
        "own); a city supervisor names one whose grant it holds (422 `district_required` "
        "without one)",
    )


class CampaignPatch(BaseModel):
    """Changes to a campaign; `rules` are merged over the current ones."""

    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(default=None, min_length=1, max_length=200)
    issuing_office: str | None = Field(default=None, min_length=1, max_length=200)
    starts_on: SaneDate | None = None
    ends_on: SaneDate | None = None
    rules: dict[str, Any] | None = None

    _no_nulls = field_validator(
        "title", "issuing_office", "starts_on", "ends_on", "rules", mode="before"
    )(reject_null)


class CampaignOut(BaseModel):
    """A campaign with its rules and its district."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    district_id: int = Field(description="the district running it (docs/tenancy.md)")
    district_name: str = Field(description="that district's name, e.g. 雁江区")
    doc_number: str
    title: str
    issuing_office: str
    starts_on: date
    ends_on: date
    rules: CampaignRules
    created_at: datetime
    # Set once next year's campaign was copied from this one: read-only from then on.
    closed_at: datetime | None = None
    copied_from_id: int | None = None

    @classmethod
    def of(cls, campaign: Any, district_names: Mapping[int, str]) -> CampaignOut:
        """From a campaign row (rules stored as JSON) and the names of the districts
        (`districts.names_of`, one query for a list's rows)."""
        return cls.model_validate(
            {
                **campaign.model_dump(),
                "rules": CampaignRules.of(campaign.rules),
                "district_name": district_names.get(campaign.district_id, ""),
            }
        )
