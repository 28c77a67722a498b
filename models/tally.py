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
