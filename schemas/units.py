"""Units and their contacts."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from models import UnitKind
from schemas.common import Email, WebhookUrl

WebhookFormat = Literal["json", "wecom", "dingtalk"]


class UnitIn(BaseModel):
    """A new unit."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    kind: UnitKind = UnitKind.other
    contact_name: str | None = Field(default=None, max_length=50)
    contact_phone: str | None = Field(default=None, max_length=32)
    contact_email: Email | None = None
    head_name: str | None = Field(default=None, max_length=50)
    head_phone: str | None = Field(default=None, max_length=32)
    head_email: Email | None = None
    webhook_url: WebhookUrl | None = Field(
        default=None, description="the unit's 企业微信 / 钉钉 group robot or a JSON webhook"
    )
    webhook_format: WebhookFormat = "json"


class UnitPatch(BaseModel):
    """Changes to a unit's kind, contacts, e-mails or robot webhook."""

    model_config = ConfigDict(extra="forbid")
    kind: UnitKind | None = None
    contact_name: str | None = Field(default=None, max_length=50)
    contact_phone: str | None = Field(default=None, max_length=32)
    contact_email: Email | None = None
    head_name: str | None = Field(default=None, max_length=50)
    head_phone: str | None = Field(default=None, max_length=32)
    head_email: Email | None = None
    webhook_url: WebhookUrl | None = Field(
        default=None, description="the unit's 企业微信 / 钉钉 group robot or a JSON webhook"
    )
    webhook_format: WebhookFormat | None = None
    escalation_delivery: Literal["individual", "digest"] | None = Field(
        default=None,
        description="individual | digest (催办汇总 once a day) for the unit's contact, head and "
        "robot; null: the campaign's setting",
    )


class UnitOut(BaseModel):
    """A unit with its contacts (the webhook's address is a secret: only whether one is set)."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    kind: str
    contact_name: str | None
    contact_phone: str | None
    contact_email: str | None
    head_name: str | None
    head_phone: str | None
    head_email: str | None
    webhook_format: str
    escalation_delivery: str | None = None
    has_webhook: bool = False

    @classmethod
    def of(cls, unit: object) -> UnitOut:
        """From a unit row."""
        out = cls.model_validate(unit)
        out.has_webhook = bool(getattr(unit, "webhook_url", None))
        return out
