"""Append-only log of every move (and creation) of an event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime

# The triggers the campaign report reads lines of (a partial index each).
REPORTED_TRIGGERS = ("submit_summary", "return_for_rework")


class TransitionLog(SQLModel, table=True):
    """Who moved which event from where to where, when, by which trigger and why.

    The migration installs triggers that refuse UPDATE and DELETE on this table, on SQLite and
    PostgreSQL alike (and, on SQLite, an INSERT that would replace an existing row), so the trail
    cannot be rewritten through the application; each row is also chained to the previous one by
    a hash, so a change made behind the database's back is found by `openday audit verify`.
    """

    __tablename__ = "transition_log"
    # One hash chain per event (workflows/kernel/audit.py): seq counts 1, 2, 3… within an event.
    __table_args__ = (
        sa.Index("ux_transition_log_event_seq", "event_id", "seq", unique=True),
        # The report's summaries (submitted, first submission, missing) and reworks: per event,
        # its few lines of one trigger, not a read of every line of the campaign (issue 32).
        *(
            sa.Index(
                f"ix_transition_log_{trigger}",
                "event_id",
                "id",
                postgresql_where=sa.text(f"trigger = '{trigger}'"),
                sqlite_where=sa.text(f"trigger = '{trigger}'"),
            )
            for trigger in REPORTED_TRIGGERS
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    # Its district, for row-level security (migration 0043; on PostgreSQL filled at insert from
    # the row it concerns when the writer leaves it unset). NULL: a city-level row.
    district_id: int | None = Field(default=None, foreign_key="district.id")
    event_id: int = Field(foreign_key="event.id", index=True)
    # Moves of a feedback item (and deadline recomputations) name the item too.
    feedback_item_id: int | None = Field(default=None, foreign_key="feedback_item.id")
    trigger: str = Field(sa_type=sa.String(32))
    from_state: str | None = Field(default=None, sa_type=sa.String(32))
    to_state: str = Field(sa_type=sa.String(32))
    version: int  # the event's version after the move
    actor_id: int | None = Field(default=None, foreign_key="account.id")
    actor_name: str = Field(sa_type=sa.String(100))
    at: datetime = Field(sa_type=UTCDateTime)
    reason: str | None = Field(default=None, sa_type=sa.Text)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    # Tamper evidence (workflows/kernel/audit.py seals a row when it is flushed): the row's place in
    # its event's hash chain, the previous row's hash, and sha256 over this row's content and
    # that previous hash. `openday audit verify` recomputes the chain.
    seq: int | None = Field(default=None, sa_type=sa.BigInteger, nullable=False)
    prev_hash: str | None = Field(default=None, sa_type=sa.String(64), nullable=False)
    row_hash: str | None = Field(default=None, sa_type=sa.String(64), nullable=False)


class AuditAnchor(SQLModel, table=True):
    """Where an audit chain resumes after its archived beginning was removed.

    `openday audit archive` writes the lines older than the retention to a verifiable archive,
    then writes one anchor per chain it shortens (the last removed row's seq and hash) and only
    then removes those rows: the append-only triggers let a DELETE through only for rows at or
    below their chain's anchor. `openday audit verify` resumes each chain from its anchor; the
    anchor's own MAC (under the audit key) shows it was written by the service. Append-only too.
    """

    __tablename__ = "audit_anchor"
    __table_args__ = (sa.Index("ix_audit_anchor_chain", "table_name", "event_id", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    # Its district, for row-level security (migration 0043; on PostgreSQL filled at insert from
    # the row it concerns when the writer leaves it unset). NULL: a city-level row.
    district_id: int | None = Field(default=None, foreign_key="district.id")
    table_name: str = Field(sa_type=sa.String(32))  # transition_log | change_log
    event_id: int | None = None  # the transition log's chain; None: the change log's one chain
    seq: int = Field(sa_type=sa.BigInteger)  # the last removed row: the chain resumes at seq + 1
    row_hash: str = Field(sa_type=sa.String(64))  # its hash, the next row's prev_hash
    cutoff: datetime = Field(sa_type=UTCDateTime)  # every removed row was older than this
    archive_name: str = Field(sa_type=sa.String(200))
    archive_sha256: str = Field(sa_type=sa.String(64))
    at: datetime = Field(sa_type=UTCDateTime)
    anchor_hash: str = Field(sa_type=sa.String(64))  # MAC over the fields above
