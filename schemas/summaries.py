"""Summaries (总结) and their photos and files."""

from __future__ import annotations

from datetime import datetime

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


class SummaryOut(BaseModel):
    """The summary: a draft until submit_summary."""

    model_config = ConfigDict(from_attributes=True)
    event_id: int
    text: str
    submitted_at: datetime | None
    attachments: list[AttachmentOut]
