"""OpinionTally: the campaign report's opinion counts, kept as opinions are written.

One row per campaign, event's unit and holding unit (the opinion's `unit_id`, which a transfer
changes): how many opinions, answered (told), answered and not told, answered late and on time,
the working days late summed, and back-dated answers. Every count is a property of the opinion
row alone (none depends on the clock), so workflows/feedback/tally.py adds and subtracts each
written opinion's share in the same flush as the write, and the row is never stale.
"""

from __future__ import annotations

from sqlmodel import Field, SQLModel


class OpinionTally(SQLModel, table=True):
    """The opinion counts of one (campaign, event's unit, holding unit)."""

    __tablename__ = "opinion_tally"

    campaign_id: int = Field(foreign_key="campaign.id", primary_key=True)
    event_unit_id: int = Field(foreign_key="unit.id", primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", primary_key=True)
    district_id: int | None = Field(default=None, foreign_key="district.id")
    opinions: int = 0
    answered: int = 0
    answered_not_told: int = 0
    answered_late: int = 0
    answered_on_time: int = 0
    workdays_late: int = 0
    answered_backdated: int = 0


class EventTally(SQLModel, table=True):
    """How many events of one (campaign, unit) are in one state, kept by the database itself.

    Triggers on `event` (migration 0047, on PostgreSQL and SQLite alike) add one to the row of
    an inserted event's (campaign, unit, state), subtract one for a deleted event, and move one
    from the old row to the new when an update changes the state, the unit, the campaign or
    the first submission's lateness (counted on time or late beside the events): in
    the statement's own transaction, whichever door wrote the event (the ORM, the schedule
    import's Core insert, a benchmark's SQL seed), so the count is never stale. The board's
    funnel and its counts, and the report's summaries on time and late, read these few rows
    instead of counting a district's events."""

    __tablename__ = "event_tally"

    campaign_id: int = Field(foreign_key="campaign.id", primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", primary_key=True)
    state: str = Field(primary_key=True, max_length=32)
    district_id: int | None = Field(default=None, foreign_key="district.id")
    events: int = 0
    # Of those events, the summaries first submitted on time and late
    # (`Event.summary_late_seconds`).
    summaries_on_time: int = 0
    summaries_late: int = 0
