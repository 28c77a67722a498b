"""Summary (总结) of a held event, with its photos and files."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime


class Summary(SQLModel, table=True):
    """The unit's report to the district office; a draft until the submit_summary move."""

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="event.id", unique=True)
    text: str = Field(default="", sa_type=sa.Text)
    submitted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class Attachment(SQLModel, table=True):
    """A photo or file attached to an event's summary (图文资料); bytes live on disk."""

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="event.id", index=True)
    kind: str = Field(sa_type=sa.String(16))  # "photo" or "file"
    filename: str = Field(sa_type=sa.String(255))
    content_type: str = Field(sa_type=sa.String(100))
    size: int
    sha256: str = Field(sa_type=sa.String(64))
    storage_key: str = Field(sa_type=sa.String(255))
    uploaded_by: int | None = Field(default=None, foreign_key="account.id")
    created_at: datetime = Field(sa_type=UTCDateTime)
