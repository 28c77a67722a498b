"""Filings a notice may ask of an event before its day (issue 30): the plan (方案) filed for the
district office's approval, the public announcement (公告) of a publicly invited event, and the
公示 of the selected citizen representatives. One row per event and kind, updated in place; every
step leaves an audit line in the event's history."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime


class FilingKind(StrEnum):
    """What is filed or published."""

    plan = "plan"  # 活动方案, approved by the district office
    announcement = "announcement"  # 公开邀请公告 on the public pages
    representatives = "representatives"  # 市民代表名单公示 on the public pages


class FilingState(StrEnum):
    """A plan: submitted → approved, or returned (and submitted again). A publication: published."""

    submitted = "submitted"
    approved = "approved"
    returned = "returned"
    published = "published"


class EventFiling(SQLModel, table=True):
    """One event's plan, announcement or representatives' 公示, as it stands now."""

    __tablename__ = "event_filing"
    __table_args__ = (
        sa.UniqueConstraint("event_id", "kind", name="uq_event_filing_event_kind"),
        sa.Index("ix_event_filing_kind_state", "kind", "state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="event.id")
    unit_id: int = Field(foreign_key="unit.id", index=True)
    kind: str = Field(sa_type=sa.String(16))
    state: str = Field(sa_type=sa.String(16))
    # plan: {"text"}; announcement: {"text", "how_to_register", "places", "theme"};
    # representatives: {"names": [masked names], "count"} — never a phone or ID number.
    body: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    round: int = 1  # how many times it was submitted (a returned plan comes back)
    submitted_by_name: str = Field(default="", sa_type=sa.String(100))
    submitted_at: datetime = Field(sa_type=UTCDateTime)
    decided_by_name: str | None = Field(default=None, sa_type=sa.String(100))
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    note: str | None = Field(default=None, sa_type=sa.Text)  # why a plan was returned
