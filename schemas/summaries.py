"""Summaries (总结) and their photos and files."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field


class SummaryIn(BaseModel):
    """The summary draft's text."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(max_length=50000)


class AttachmentOut(BaseModel):
    """A photo or file of a summary."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: str
    filename: str
    content_type: str
    size: int
    sha256: str
    created_at: datetime


class SubmissionOut(BaseModel):
    """One submission of the summary: the first is judged against the original due day, a
    resubmission after a return for rework against the rework's."""

    round: int
    submitted_at: datetime
    due_on: date | None
    due_at: datetime | None
    late: bool
    late_hours: float
    log_id: int


class SummaryOut(BaseModel):
    """The summary: a draft until submit_summary; every submission kept."""

    model_config = ConfigDict(from_attributes=True)
    event_id: int
    text: str
    submitted_at: datetime | None
    attachments: list[AttachmentOut]
    submissions: list[SubmissionOut] = []
