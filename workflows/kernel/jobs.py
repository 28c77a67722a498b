"""Background jobs by name, and how a transaction owes one: an outbox row, relayed after commit.

Routes, workflows and workers share these names (DESIGN.md: nothing is enqueued before the
commit). Workers declare the actors under these names; everyone else only writes outbox rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from models import OutboxMessage

HANDLE_TIMERS_ACTOR = "handle_timers"
DELIVER_ACTOR = "deliver_notification"


def owe(
    session: Session,
    actor: str,
    args: list[Any],
    now: datetime,
    *,
    dedupe_key: str | None = None,
) -> OutboxMessage:
    """Write an outbox row in the caller's transaction; the relay enqueues it after commit."""
    row = OutboxMessage(actor=actor, args=args, dedupe_key=dedupe_key, created_at=now)
    session.add(row)
    return row


def owe_delivery(session: Session, notification_id: int, now: datetime) -> OutboxMessage:
    """Owe the delivery of one notification."""
    return owe(session, DELIVER_ACTOR, [notification_id], now)


def owe_deliveries(session: Session, notification_ids: list[int], now: datetime) -> list[int]:
    """Owe the delivery of many notifications: one multi-row insert; returns the outbox ids."""
    if not notification_ids:
        return []
    table = OutboxMessage.__table__  # type: ignore[attr-defined]
    rows = [
        {"actor": DELIVER_ACTOR, "args": [n], "dedupe_key": f"deliver:{n}", "created_at": now}
        for n in notification_ids
    ]
    return list(session.execute(sa.insert(table).returning(table.c.id), rows).scalars())


def owe_many(session: Session, actor: str, args: list[list[Any]], now: datetime) -> list[int]:
    """Owe many messages to one actor: one multi-row insert; returns the outbox ids."""
    if not args:
        return []
    table = OutboxMessage.__table__  # type: ignore[attr-defined]
    rows = [{"actor": actor, "args": a, "dedupe_key": None, "created_at": now} for a in args]
    return list(session.execute(sa.insert(table).returning(table.c.id), rows).scalars())
