"""The in-app inbox (站内信): one message per staff account and notification."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime


class InboxMessage(SQLModel, table=True):
    """A notification on the `inbox` channel, delivered: it sits in one account's inbox until
    read. Unique per notification (whose key is unique per recipient), so a retried delivery
    never puts a message there twice."""

    __tablename__ = "inbox_message"
    __table_args__ = (
        # The header's unread count: one index-only count per page view.
        sa.Index(
            "ix_inbox_unread",
            "user_id",
            postgresql_where=sa.text("read_at IS NULL"),
            sqlite_where=sa.text("read_at IS NULL"),
        ),
        # The inbox list, newest first, per account (and per kind).
        sa.Index("ix_inbox_user_id", "user_id", "id"),
        sa.Index("ix_inbox_user_kind", "user_id", "kind", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # Its district, for row-level security (migration 0043; on PostgreSQL filled at insert from
    # the row it concerns when the writer leaves it unset). NULL: a city-level row.
    district_id: int | None = Field(default=None, foreign_key="district.id")
    user_id: int = Field(foreign_key="account.id")
    notification_id: int = Field(foreign_key="notification.id", unique=True)
    kind: str = Field(sa_type=sa.String(16))  # the notification's kind
    level: int = 0
    event_id: int | None = Field(default=None, foreign_key="event.id")
    title: str = Field(sa_type=sa.String(300))
    body: str = Field(sa_type=sa.Text)
    # Where the message's item is (an event page, the board…), as a site-relative path.
    link: str = Field(default="", sa_type=sa.String(300))
    created_at: datetime = Field(sa_type=UTCDateTime)
    read_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
