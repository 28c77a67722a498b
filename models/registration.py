"""Public registration (公开邀请报名): a citizen asking for one of an event's public places.

Phone and ID number are stored only encrypted (Fernet) beside keyed hashes (HMAC) that find the
same person again without decrypting anything; workflows/public/privacy.py holds the keys.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.codes import new_code
from models.types import UTCDateTime


class RegistrationState(StrEnum):
    """Where a registration stands (workflows/public/registration.py moves it)."""

    registered = "registered"  # within the public places, waiting for the unit to confirm
    waitlisted = "waitlisted"  # over the places: waits in arrival order
    confirmed = "confirmed"  # the unit confirmed: an invitee (市民代表, 公开邀请)
    declined = "declined"  # the unit declined, with a reason
    cancelled = "cancelled"  # the person cancelled
    # A place came free: the first waiting is offered it until offer_until (issue 27), holding
    # the place meanwhile; accepting makes them `registered`, no answer in time `lapsed`.
    offered = "offered"
    lapsed = "lapsed"  # offered a place and did not answer in time: the next one is offered


# States holding a person's one registration per campaign, or a place.
ACTIVE_STATES = ("registered", "waitlisted", "confirmed", "offered")
_ACTIVE = "state IN ('registered', 'waitlisted', 'confirmed', 'offered') AND person_key IS NOT NULL"


class Registration(SQLModel, table=True):
    """One person's registration for one event's public places."""

    __tablename__ = "public_registration"
    __table_args__ = (
        sa.Index("ix_public_registration_event_state", "event_id", "state", "id"),
        # Once per person per campaign (when the campaign's rule says so): person_key is the
        # phone's keyed hash then, NULL otherwise; the index is the last word under races.
        sa.Index(
            "uq_public_registration_person",
            "campaign_id",
            "person_key",
            unique=True,
            postgresql_where=sa.text(_ACTIVE),
            sqlite_where=sa.text(_ACTIVE),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(default_factory=new_code, sa_type=sa.String(12), unique=True)
    event_id: int = Field(foreign_key="event.id")
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    state: str = Field(default=RegistrationState.registered, sa_type=sa.String(16))
    name: str = Field(sa_type=sa.String(50))
    district: str | None = Field(default=None, sa_type=sa.String(50))
    phone_enc: str | None = Field(default=None, sa_type=sa.Text)
    phone_hash: str | None = Field(default=None, sa_type=sa.String(64), index=True)
    phone_last4: str | None = Field(default=None, sa_type=sa.String(4))
    id_enc: str | None = Field(default=None, sa_type=sa.Text)
    email_enc: str | None = Field(default=None, sa_type=sa.Text)  # optional, for messages
    id_hash: str | None = Field(default=None, sa_type=sa.String(64), index=True)
    person_key: str | None = Field(default=None, sa_type=sa.String(64))
    decline_reason: str | None = Field(default=None, sa_type=sa.String(300))
    # A declined person may not register for the event again until the unit lifts that.
    decline_lifted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    invitee_id: int | None = Field(default=None, foreign_key="invitee.id")
    # While `offered`: the end of the answer window (the campaign's waitlist_offer_hours).
    offer_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    consent_at: datetime = Field(sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    purged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
