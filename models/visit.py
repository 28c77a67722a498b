"""On-site visits (现场走访) by district-office supervisors, with their photos."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime


class SiteVisit(SQLModel, table=True):
    """A supervisor's visit to an event: when, who went, what they found."""

    __tablename__ = "site_visit"

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="event.id", index=True)
    visited_on: date
    people: str = Field(sa_type=sa.String(500))
    findings: str = Field(default="", sa_type=sa.Text)
    # The spot-check round this visit informed (optional), and whether its findings are a
    # problem (counted in the report and deducted in the assessment).
    # (A plain reference: a database constraint would need a copy of this table on SQLite.)
    spot_check_id: int | None = Field(default=None, index=True)
    problem: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    created_by: int | None = Field(default=None, foreign_key="account.id")
    created_at: datetime = Field(sa_type=UTCDateTime)


class VisitPhoto(SQLModel, table=True):
    """A photo taken on a visit (stored like summary attachments, content-addressed)."""

    __tablename__ = "visit_photo"

    id: int | None = Field(default=None, primary_key=True)
    visit_id: int = Field(foreign_key="site_visit.id", index=True)
    filename: str = Field(sa_type=sa.String(255))
    content_type: str = Field(sa_type=sa.String(100))
    size: int
    sha256: str = Field(sa_type=sa.String(64))
    storage_key: str = Field(sa_type=sa.String(255))
    created_at: datetime = Field(sa_type=UTCDateTime)
