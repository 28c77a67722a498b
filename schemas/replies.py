"""Answers back to the citizen, 回访 and satisfaction (issue 26): reply rounds, ratings, appeals."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from workflows.feedback.satisfaction import AppealDecisionIn, AppealIn, RatingIn

__all__ = ["AppealDecisionIn", "AppealIn", "PublicRatingIn", "RatingIn", "ReplyOut"]


class PublicRatingIn(RatingIn):
    """A rating from the tracking page: the phone on record proves it is the person's own."""

    phone: str = Field(min_length=1, max_length=32)


class ReplyOut(BaseModel):
    """One answer round of an opinion: how the person was told, when, and their rating."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    feedback_item_id: int
    round: int
    answer: str
    answered_on: date | None
    due_on: date | None
    how: str = Field(description="comma-separated: sms, email, letter, or none")
    told_at: datetime | None = Field(description="when the answer reached the person")
    told_via: str | None
    late_workdays: int | None
    letter_posted_at: datetime | None
    rating: str | None = Field(description="satisfied | basically | dissatisfied")
    rating_comment: str | None
    rated_at: datetime | None
    rated_via: str | None = Field(description="public (tracking page) | phone")
    appeal_state: str | None = Field(description="pending | upheld | rejected")
    appeal_reason: str | None
    appeal_note: str | None
