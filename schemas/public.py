"""Public (no sign-in) API models: the calendar, registration, look-ups and receipts.

Every text field is bounded; nothing here carries a phone or ID number back in clear.
"""

from __future__ import annotations

import datetime as dt
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field


class PublicEventOut(BaseModel):
    """An event taking public registration, as citizens see it."""

    id: int
    campaign_id: int
    unit_name: str
    theme: str
    date_earliest: date
    date_latest: date
    date_text: str | None
    start_time: dt.time | None
    end_time: dt.time | None
    location: str | None
    forms: list[str]
    forms_zh: list[str]
    public_places: int
    places_left: int = Field(description="places still open; 0 once registration has closed")
    registration_open: bool = Field(
        default=True, description="false once the event's (last) day has passed"
    )
    registration_status_zh: str = Field(
        default="可报名", description="可报名 / 名额已满 / 报名已截止…"
    )


class ChallengeOut(BaseModel):
    """A human check: answer the question, send the token back."""

    question: str
    token: str


class RegistrationIn(BaseModel):
    """A registration for an event's public places."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=50)
    phone: str = Field(min_length=11, max_length=20)
    id_number: str | None = Field(default=None, max_length=18)
    district: str = Field(min_length=1, max_length=50)
    email: str | None = Field(
        default=None, max_length=100, description="optional: messages by e-mail as well"
    )
    consent: bool = Field(description="agrees to the privacy notice (/public/privacy)")
    challenge_token: str = Field(min_length=1, max_length=200)
    challenge_answer: str = Field(min_length=1, max_length=10)


class CodePhoneIn(BaseModel):
    """A registration's confirmation code and the phone number it was made with."""

    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=20)
    phone: str = Field(min_length=11, max_length=20)


class RegistrationOut(BaseModel):
    """A registration as its holder sees it (masked)."""

    code: str
    event_id: int
    event_theme: str
    state: str
    state_label: str
    waitlist_position: int | None
    name: str
    phone_masked: str
    decline_reason: str | None
    registered_at: dt.datetime
    # While offered a place that came free (issue 27): the end of the answer window.
    offer_until: dt.datetime | None = None


class StaffRegistrationOut(BaseModel):
    """A registration as the event's unit sees it (phone and ID masked)."""

    id: int
    code: str
    state: str
    state_label: str
    waitlist_position: int | None
    name: str
    phone_masked: str
    id_number_masked: str
    district: str | None
    decline_reason: str | None
    # When the unit let a declined person register for the event again; None: not lifted.
    decline_lifted_at: dt.datetime | None = None
    # While offered a place that came free (issue 27): the end of the answer window.
    offer_until: dt.datetime | None = None
    invitee_id: int | None
    registered_at: dt.datetime


class DeclineIn(BaseModel):
    """Why a registration is declined (the person sees it)."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=300)


class ReceiptOut(BaseModel):
    """An opinion behind a receipt code: status, due date, the answer once given."""

    code: str
    status: str
    status_label: str
    content: str
    unit_name: str
    event_theme: str
    collected_on: date | None
    due_on: date | None
    due_provisional: bool
    answered_on: date | None
    answer: str | None
    told_at: datetime | None = Field(
        default=None, description="when the answer reached the person (issue 26)"
    )
    told_via: str | None = Field(default=None, description="how: 短信 / 电子邮件 / 信函 …")
    rating: str | None = Field(default=None, description="satisfied | basically | dissatisfied")
    rating_label: str | None = None
    rated_at: datetime | None = None
    can_rate: bool = Field(default=False, description="the answer may be rated now")
    reopened: bool = Field(default=False, description="不满意 reopened it: due_on is the new day")
    appeal: str | None = None
