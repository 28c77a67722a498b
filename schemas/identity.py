"""Unified sign-in: identities linked to accounts (issue 29)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class IdentityLinkIn(BaseModel):
    """The value of the configured claim (OPENDAY_OIDC_CLAIM) that is this account's."""

    model_config = ConfigDict(extra="forbid")
    subject: str = Field(min_length=1, max_length=255)


class IdentityLinkOut(BaseModel):
    """One outside identity linked to an account."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    provider: str
    subject: str
    user_id: int
    linked_by_name: str
    linked_at: datetime
    last_sign_in_at: datetime | None
