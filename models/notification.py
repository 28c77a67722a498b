"""Notifications: one row per message owed to one recipient on one channel, unique by key."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime


class NotificationState(StrEnum):
    """pending → sending (leased by a worker) → sent; failed when retrying cannot help.

    Digests (workflows/escalation/digests.py): an item for a recipient who takes a daily digest is
    `digested` (it travels inside its digest, never alone); the digest itself is `held` until
    its hour, then pending like any other; an item no longer open at that hour is `withdrawn`
    (and so is a digest left with nothing to say).
    """

    pending = "pending"
    sending = "sending"
    sent = "sent"
    failed = "failed"
    digested = "digested"
    held = "held"
    withdrawn = "withdrawn"


class Notification(SQLModel, table=True):
    """A reminder or escalation owed to one recipient; `key` makes redelivery harmless."""

    __table_args__ = (
        sa.Index("ix_notification_state", "state"),
        sa.Index("ix_notification_subject", "subject_type", "subject_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # Its district, for row-level security (migration 0043; on PostgreSQL filled at insert from
    # the row it concerns when the writer leaves it unset). NULL: a city-level row.
    district_id: int | None = Field(default=None, foreign_key="district.id")
    key: str = Field(sa_type=sa.String(500), unique=True)
    timer_id: int | None = Field(default=None, foreign_key="timer.id")
    subject_type: str = Field(sa_type=sa.String(32))
    subject_id: int
    # Both unset on a digest (kind `digest`), which may list items of many events and units.
    event_id: int | None = Field(default=None, foreign_key="event.id", index=True)
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    rule: str = Field(sa_type=sa.String(32))
    kind: str = Field(sa_type=sa.String(16))
    level: int = 0
    channel: str = Field(sa_type=sa.String(16))
    recipient: str = Field(sa_type=sa.String(500))
    title: str = Field(sa_type=sa.String(300))
    body: str = Field(sa_type=sa.Text)
    state: str = Field(default=NotificationState.pending, sa_type=sa.String(16))
    attempts: int = 0
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = Field(sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The digest (a notification of kind `digest`) this `digested` item travels in.
    digest_id: int | None = Field(default=None, foreign_key="notification.id", index=True)
