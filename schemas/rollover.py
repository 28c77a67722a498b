"""Next year's campaign copied from last year's, and a campaign's roster of units."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from models import EventForm
from schemas.campaigns import CampaignOut
from schemas.common import Email, SaneDate, WebhookUrl, reject_null
from schemas.units import WebhookFormat


class RolloverIn(BaseModel):
    """The new campaign's document number, title, office and window; the units to carry
    (all of last year's when omitted); its forms of activity (last year's when omitted)."""

    model_config = ConfigDict(extra="forbid")
    doc_number: str = Field(min_length=1, max_length=64)
    title: str = Field(min_length=1, max_length=200)
    issuing_office: str = Field(min_length=1, max_length=200)
    starts_on: SaneDate
    ends_on: SaneDate
    unit_ids: list[int] | None = Field(default=None, max_length=2000)
    activity_forms: list[str] | None = Field(
        default=None,
        max_length=20,
        description="the new notice's forms of activity (座谈会, 实地参观 …); last year's when "
        "omitted",
    )


class RosterEntryOut(BaseModel):
    """A unit on a campaign's roster with that year's contacts, robot (set or not) and forms."""

    unit_id: int
    unit_name: str
    contact_name: str | None
    contact_phone: str | None
    contact_email: str | None
    head_name: str | None
    head_phone: str | None
    head_email: str | None
    webhook_format: str
    has_webhook: bool
    forms: list[str]

    @classmethod
    def of(cls, unit: Any, values: dict[str, Any]) -> RosterEntryOut:
        """From a unit and its roster values."""
        shown = {k: v for k, v in values.items() if k != "webhook_url"}
        return cls(
            unit_id=unit.id,
            unit_name=unit.name,
            has_webhook=bool(values.get("webhook_url")),
            **{**shown, "webhook_format": values.get("webhook_format") or "json"},
        )


class RosterEntryPatch(BaseModel):
    """Changes to a unit's contacts, robot or forms on a roster, before the campaign opens."""

    model_config = ConfigDict(extra="forbid")
    contact_name: str | None = Field(default=None, max_length=50)
    contact_phone: str | None = Field(default=None, max_length=32)
    contact_email: Email | None = None
    head_name: str | None = Field(default=None, max_length=50)
    head_phone: str | None = Field(default=None, max_length=32)
    head_email: Email | None = None
    webhook_url: WebhookUrl | None = None
    webhook_format: WebhookFormat | None = None
    forms: list[EventForm] | None = Field(default=None, max_length=4)

    _no_nulls = field_validator("webhook_format", "forms", mode="before")(reject_null)


class RolloverPlanOut(BaseModel):
    """What copying the campaign would create: suggested fields and the roster carried."""

    source: CampaignOut
    doc_number: str
    title: str
    issuing_office: str
    starts_on: date
    ends_on: date
    units: list[RosterEntryOut]
