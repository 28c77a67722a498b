"""The in-app inbox (站内信) as the API shows it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from models import InboxMessage
from workflows.inbox.kinds import kind_label


class InboxMessageOut(BaseModel):
    """One message in the signed-in account's inbox."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    notification_id: int
    kind: str = Field(description="reminder | escalation | digest | ext_request | ext_decision | …")
    kind_label: str = Field(description="the kind's Chinese name")
    level: int = Field(description="the escalation level (0: not an escalation)")
    event_id: int | None
    title: str
    body: str
    link: str = Field(description="the site-relative page of the message's item")
    created_at: datetime
    read_at: datetime | None

    @classmethod
    def of(cls, row: InboxMessage) -> InboxMessageOut:
        """The message with its kind's Chinese name."""
        return cls.model_validate({**row.model_dump(), "kind_label": kind_label(row.kind)})


class UnreadOut(BaseModel):
    """How many of the account's messages are unread."""

    unread: int


class MarkedOut(BaseModel):
    """What marking every message read did."""

    marked: int = Field(description="messages marked read now")
    unread: int = Field(description="unread messages left (of other kinds)")
