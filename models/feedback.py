"""Feedback item: one opinion or suggestion (意见建议) collected at an event."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.codes import new_code
from models.types import UTCDateTime


class FeedbackState(StrEnum):
    """States of a feedback item (workflows/feedback/machine.py); answer within 15 working days."""

    received = "received"
    assigned = "assigned"
    overdue = "overdue"  # set by the workers when the answer deadline passes unanswered
    answered = "answered"
    closed = "closed"


# SQLAlchemy's version counter, as on events: every UPDATE checks and bumps it.
_version_column = sa.Column("version", sa.Integer, nullable=False)

OPEN_FEEDBACK_STATES = (FeedbackState.received, FeedbackState.assigned, FeedbackState.overdue)
_OPEN = "state IN ('received', 'assigned', 'overdue')"
_NOT_TOLD = "state = 'answered' AND told_at IS NULL"


class FeedbackItem(SQLModel, table=True):
    """An opinion raised at an event and what became of it."""

    __tablename__ = "feedback_item"
    __table_args__ = (
        sa.Index("ix_feedback_item_state_due_at", "state", "due_at"),
        # The overdue list walks open items in deadline order and stops after a page: partial
        # indexes matching its filter and sort, for everyone and per unit (issue 6 benchmark).
        sa.Index(
            "ix_feedback_item_open_due",
            "due_at",
            "id",
            postgresql_where=sa.text(_OPEN),
            sqlite_where=sa.text(_OPEN),
        ),
        sa.Index(
            "ix_feedback_item_unit_open_due",
            "unit_id",
            "due_at",
            "id",
            postgresql_where=sa.text(_OPEN),
            sqlite_where=sa.text(_OPEN),
        ),
        # The board's 已答复未告知 count: answers not yet told are few (telling follows the
        # answer), so a partial index holds only them instead of a scan of every opinion; by unit
        # first, so a district's board probes its own units, not every district's (issue 32).
        sa.Index(
            "ix_feedback_item_answered_not_told",
            "unit_id",
            "event_id",
            postgresql_where=sa.text(_NOT_TOLD),
            sqlite_where=sa.text(_NOT_TOLD),
        ),
    )
    __mapper_args__ = {"version_id_col": _version_column}

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="event.id", index=True)
    # The unit holding the opinion: the event's unit, or the unit it was transferred to (转办).
    unit_id: int = Field(foreign_key="unit.id")
    content: str = Field(sa_type=sa.Text)
    # The receipt code given to whoever raised it: /public/track shows status and answer by it.
    receipt_code: str | None = Field(
        default_factory=new_code, sa_type=sa.String(12), unique=True, index=True, nullable=True
    )
    raised_by_invitee_id: int | None = Field(default=None, foreign_key="invitee.id")
    state: str = Field(default=FeedbackState.received, sa_type=sa.String(32))
    assignee: str | None = Field(default=None, sa_type=sa.String(100))
    answer: str | None = Field(default=None, sa_type=sa.Text)
    # The local day the opinion was collected; the 15 working days count from the day after.
    collected_on: date | None = None
    # When the answer was typed in (answered_at) and the day it was given (answered_on, which a
    # person states and lateness counts from), and who entered it (a back-dated entry names them).
    answered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    answered_on: date | None = None
    answered_by: str | None = Field(default=None, sa_type=sa.String(100))
    # When the person who raised it was told the answer (SMS or e-mail sent, letter posted; at
    # once when nobody is identified): the 15 working days are met then, not when typed (issue
    # 26). Unset while answered and not yet told, and again when a 不满意 reopens it.
    told_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Added after the collect_feedback move (活动过程中收集，由本单位统一整理), until the summary.
    added_late: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    due_on: date | None = None  # the 15th working day after collection
    due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # end of due_on, local
    due_provisional: bool = False
    overdue_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    answered_late_workdays: int | None = None
    escalation_level: int = 0
    # 签收: the holding unit signs for the opinion by sign_due_on (a campaign rule's working
    # days) or it is escalated; a transfer (models/transfer.py) asks the receiving unit anew.
    sign_due_on: date | None = None
    signed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    signed_by: str | None = Field(default=None, sa_type=sa.String(100))
    last_notified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    version: int = Field(default=1, sa_column=_version_column)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
