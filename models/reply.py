"""Opinion replies (issue 26): one row per answer round of an opinion — how the person who raised
it was told (SMS, e-mail, a posted letter, or nobody to tell), when, and how they rated it."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime


class Rating(StrEnum):
    """回访: the person's satisfaction with an answer."""

    satisfied = "satisfied"  # 满意
    basically = "basically"  # 基本满意
    dissatisfied = "dissatisfied"  # 不满意


class AppealState(StrEnum):
    """A unit's appeal (申诉) against a 不满意 rating, decided by a supervisor."""

    pending = "pending"
    upheld = "upheld"
    rejected = "rejected"


class OpinionReply(SQLModel, table=True):
    """One answer given to an opinion and what became of it: told, rated, appealed."""

    __tablename__ = "opinion_reply"
    __table_args__ = (sa.UniqueConstraint("feedback_item_id", "round", name="uq_opinion_reply"),)

    id: int | None = Field(default=None, primary_key=True)
    feedback_item_id: int = Field(foreign_key="feedback_item.id", index=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    round: int = 1  # 1 for the first answer; each reopening after 不满意 adds one
    answer: str = Field(sa_type=sa.Text)
    answered_on: date | None = None
    invitee_id: int | None = Field(default=None, foreign_key="invitee.id")
    # How the person is told: sms, email (both may be owed), letter, or none (nobody identified:
    # the tracking page is the only way, so told when answered).
    how: str = Field(sa_type=sa.String(32))
    # The round's due day, and the working days late it was told (restored by an upheld appeal).
    due_on: date | None = None
    late_workdays: int | None = None
    told_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    told_via: str | None = Field(default=None, sa_type=sa.String(16))
    letter_posted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    letter_posted_by: str | None = Field(default=None, sa_type=sa.String(100))
    rating: str | None = Field(default=None, sa_type=sa.String(16))
    rating_comment: str | None = Field(default=None, sa_type=sa.Text)
    rated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    rated_via: str | None = Field(default=None, sa_type=sa.String(16))  # public | phone
    rated_by: str | None = Field(default=None, sa_type=sa.String(100))  # staff taking a call
    appeal_state: str | None = Field(default=None, sa_type=sa.String(16))
    appeal_reason: str | None = Field(default=None, sa_type=sa.Text)
    appealed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    appeal_decided_by: str | None = Field(default=None, sa_type=sa.String(100))
    appeal_decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    appeal_note: str | None = Field(default=None, sa_type=sa.Text)
    # Consent to show the answer on the campaign's public page (never a name, phone or ID).
    public_consent: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    created_at: datetime = Field(sa_type=UTCDateTime)
