"""Invitation answers, waiting-list offers and check-in at the door (issue 27)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field


class AnswerIn(BaseModel):
    """An invitation's answer through its signed link: yes (参加) or no (不参加)."""

    model_config = ConfigDict(extra="forbid")
    answer: str = Field(max_length=10, description="yes | no")


class PhoneAnswerIn(AnswerIn):
    """An answer the clerk took by phone. A `no` that takes the citizens among those coming
    below the campaign's share is refused with 409 citizens_share_below unless
    `confirm_share_below` is true; then it is recorded and flagged."""

    confirm_share_below: bool = False


class InvitationOut(BaseModel):
    """One invitation as its signed link shows it (no account needed)."""

    event_id: int
    theme: str
    unit_name: str
    date_earliest: dt.date
    date_latest: dt.date
    start_time: dt.time | None
    end_time: dt.time | None
    location: str | None
    name: str
    answer: str | None
    answer_via: str | None
    answered_at: dt.datetime | None
    code: str  # the door code, grouped (XXXXX-XXXXX)
    can_answer: bool  # the event still takes answers (planned or invited)
    ics_url: str


class OfferAnswerIn(BaseModel):
    """A waiting-list offer's answer through its signed link: accept or decline."""

    model_config = ConfigDict(extra="forbid")
    answer: str = Field(max_length=10, description="accept | decline")


class OfferOut(BaseModel):
    """A waiting-list offer as its signed link shows it."""

    code: str  # the registration's confirmation code, grouped
    event_id: int
    event_theme: str
    state: str  # offered | registered (accepted) | cancelled (declined) | lapsed | …
    state_label: str
    offer_until: dt.datetime | None
    can_answer: bool


class CheckInIn(BaseModel):
    """A door code typed or scanned (grouped or not, any case)."""

    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=40)


class CheckInOut(BaseModel):
    """One person checked in, and the event's count after it."""

    invitee_id: int
    name: str
    checked_in_at: dt.datetime
    message: str
    checked_in: int
    invited: int


class CheckedInOut(BaseModel):
    """One check-in on the event's list."""

    invitee_id: int
    name: str
    checked_in_at: dt.datetime


class CheckInsOut(BaseModel):
    """签到出席：n / m, and the latest check-ins, newest first."""

    checked_in: int
    invited: int
    recent: list[CheckedInOut]
