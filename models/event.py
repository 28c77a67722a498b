"""Event: one unit's open-day event (开放点) and its workflow state."""

from __future__ import annotations

from datetime import date, datetime, time
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime


class EventState(StrEnum):
    """States of the event workflow (workflows/event/machine.py holds the moves between them)."""

    planned = "planned"
    invited = "invited"
    held = "held"
    feedback_collected = "feedback_collected"
    summary_submitted = "summary_submitted"
    spot_checked = "spot_checked"
    cancelled = "cancelled"


class EventForm(StrEnum):
    """组织形式 from the notice, section 五."""

    office_visit = "office_visit"  # 参观机关办公场所
    site_visit = "site_visit"  # 现场参观考察
    dialogue = "dialogue"  # 政民恳谈交流
    feedback = "feedback"  # 意见反馈


class LeaderPost(StrEnum):
    """Who met the visitors (主要负责人或分管负责人主动与开放对象面对面沟通)."""

    principal = "principal"  # 主要负责人
    deputy = "deputy"  # 分管负责人
    other = "other"  # 其他


# SQLAlchemy's version counter: every UPDATE of an event row checks and bumps it, so a write based
# on a stale read fails (StaleDataError) instead of silently overwriting another move.
_version_column = sa.Column("version", sa.Integer, nullable=False)


_SUMMARY_OPEN = "state IN ('held', 'feedback_collected')"
_HOLD_OPEN = "state IN ('planned', 'invited')"
_FLAGGED = "flags IS NOT NULL"
_SUMMARY_LATE = "summary_late_seconds >= 1"
_SUMMARY_UNSENT = "held_on IS NOT NULL AND summary_late_seconds IS NULL"


class Event(SQLModel, table=True):
    """An open-day event; `version` guards every write against stale clients."""

    __table_args__ = (
        sa.Index("ix_event_unit_state", "unit_id", "state"),
        sa.Index("ix_event_state_date_latest", "state", "date_latest"),
        sa.Index("ix_event_state_summary_due_at", "state", "summary_due_at"),
        # Partial indexes in the overdue list's sort order: summaries owed, events not held.
        sa.Index(
            "ix_event_summary_open",
            "summary_due_at",
            "id",
            postgresql_where=sa.text(_SUMMARY_OPEN),
            sqlite_where=sa.text(_SUMMARY_OPEN),
        ),
        sa.Index(
            "ix_event_hold_open",
            "date_latest",
            "id",
            postgresql_where=sa.text(_HOLD_OPEN),
            sqlite_where=sa.text(_HOLD_OPEN),
        ),
        # The pages' lists (issue 12): events in date order, paged by keyset (全部活动, a unit's);
        # the board's funnel per campaign and stage; its spot-check queue by state, oldest first.
        sa.Index("ix_event_date_latest_id", "date_latest", "id"),
        sa.Index("ix_event_unit_date_latest_id", "unit_id", "date_latest", "id"),  # 我的活动
        sa.Index("ix_event_campaign_state", "campaign_id", "state"),
        sa.Index("ix_event_state_updated_at_id", "state", "updated_at", "id"),  # spot-check queue
        # The board's flagged events, newest first (few of 100k: a partial index, not a scan);
        # drop-downs' units in schedule order (each unit's lowest 序号: one probe per unit).
        sa.Index(
            "ix_event_flagged_id",
            "id",
            postgresql_where=sa.text(_FLAGGED),
            sqlite_where=sa.text(_FLAGGED),
        ),
        sa.Index("ix_event_unit_seq", "unit_id", "seq"),
        # The report's summaries first submitted late, and those of held events never submitted
        # (few of a campaign's events each).
        sa.Index(
            "ix_event_summary_late",
            "campaign_id",
            postgresql_where=sa.text(_SUMMARY_LATE),
            sqlite_where=sa.text(_SUMMARY_LATE),
        ),
        sa.Index(
            "ix_event_summary_unsent",
            "campaign_id",
            "summary_due_at",
            postgresql_where=sa.text(_SUMMARY_UNSENT),
            sqlite_where=sa.text(_SUMMARY_UNSENT),
        ),
        # An imported row is identified by its unit and theme within the campaign, so importing
        # the same table twice (even after a reschedule) creates nothing new.
        sa.UniqueConstraint("campaign_id", "source_key", name="uq_event_campaign_source_key"),
    )
    __mapper_args__ = {"version_id_col": _version_column}

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    unit_id: int = Field(foreign_key="unit.id")
    seq: int | None = Field(default=None, description="序号 in the notice's table")
    source_key: str | None = Field(default=None, sa_type=sa.String(500))
    theme: str = Field(sa_type=sa.String(300))
    # A single day has date_earliest == date_latest; 9月中旬 is [09-11, 09-20].
    date_earliest: date
    date_latest: date
    date_text: str | None = Field(default=None, sa_type=sa.String(100))
    tentative: bool = False
    # An event planned over several days (9月16日、17日) runs from date_earliest to this, its
    # last day (equal to date_latest); NULL: one day within [date_earliest, date_latest].
    planned_until: date | None = None
    location: str | None = Field(default=None, sa_type=sa.String(300))
    # Local (Asia/Shanghai) time of day, when the schedule gives one (14:30–17:00, 上午10:00).
    start_time: time | None = None
    end_time: time | None = None
    forms: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    # Places open to public registration (公开邀请); 0: this event takes no public registration.
    public_places: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    state: str = Field(default=EventState.planned, sa_type=sa.String(32))
    version: int = Field(default=1, sa_column=_version_column)
    held_on: date | None = None  # the (first) day held
    # The last day held, for an event held over several days (9月15日至17日); the summary's
    # clock runs from it. Equal to held_on for a one-day event.
    held_until: date | None = None
    # What the hold recorded (issue 25): the forms actually held (EventForm values; `forms` is
    # what was planned) and who met the visitors ([{"name", "post"}], post: LeaderPost).
    forms_held: list[str] | None = Field(default=None, sa_type=sa.JSON(none_as_null=True))
    met_by: list[dict[str, Any]] | None = Field(default=None, sa_type=sa.JSON(none_as_null=True))
    # Deviations recorded by moves in a rule's `flag` mode (workflows/event/flags.py); SQL NULL
    # when there are none.
    flags: list[dict[str, Any]] | None = Field(default=None, sa_type=sa.JSON(none_as_null=True))
    # The deadline the event currently answers to: being held by date_latest, then the summary.
    summary_due_on: date | None = None
    summary_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # How late the summary's FIRST submission came, in seconds (0: on time, or no deadline);
    # NULL: never submitted. Set once by the submit_summary move (its log line keeps the same
    # figure); the report's on-time and late summaries read it instead of every event's lines.
    summary_late_seconds: int | None = None
    escalation_level: int = 0  # highest level sent for the current deadline
    last_notified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
