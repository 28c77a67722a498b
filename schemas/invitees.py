"""Invitees (开放对象) of an event."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from models import InvitationMode, InviteeCategory, TargetedKind


class InviteeIn(BaseModel):
    """A person invited: category, and for citizens how they were invited."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=50)
    category: InviteeCategory
    invitation: InvitationMode | None = None
    targeted_kind: TargetedKind | None = None
    organization: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=32)
    email: str | None = Field(
        default=None, max_length=200, pattern=r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$"
    )
    invited: bool = True


class InviteePatch(BaseModel):
    """Corrections, or attendance once invitations are out."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=50)
    category: InviteeCategory | None = None
    invitation: InvitationMode | None = None
    targeted_kind: TargetedKind | None = None
    organization: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=32)
    email: str | None = Field(
        default=None, max_length=200, pattern=r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$"
    )
    invited: bool | None = None
    attended: bool | None = None


class InviteeOut(BaseModel):
    """An invitee."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    event_id: int
    name: str
    category: str
    invitation: str | None
    targeted_kind: str | None
    organization: str | None
    phone: str | None
    email: str | None = None
    invited: bool
    attended: bool | None
    code: str | None = None  # the door code (issue 27)
    answer: str | None = None  # yes | no
    answer_via: str | None = None  # link | phone | signup
    checked_in_at: datetime | None = None
