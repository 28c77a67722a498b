"""The outbox relay: hands committed outbox rows to dramatiq, then marks them sent.

Rows are claimed with FOR UPDATE SKIP LOCKED, so several relays (schedulers) never hand out the
same row at once. A relay that dies after enqueueing but before its commit leaves the rows
unsent; the next pass enqueues them again, which is harmless because every actor is idempotent.
Each message gets its row's district as its last argument (workflows/kernel/jobs.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import dramatiq
import structlog
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from models import OutboxMessage
from models.db import session_scope
from workflows.kernel import jobs, tenancy

log = structlog.get_logger("openday.relay")

Send = Callable[[str, list[Any]], None]


def relay(
    engine: Engine,
    send: Send,
    now: datetime,
    *,
    batch: int = 500,
    only_ids: Iterable[int] | None = None,
) -> int:
    """Enqueue unsent outbox rows (all, or just `only_ids`); returns how many were sent."""
    with session_scope(engine, tenant=tenancy.JOBS) as session:
        stmt = select(OutboxMessage).where(col(OutboxMessage.sent_at).is_(None))
        if only_ids is not None:
            ids = list(only_ids)
            if not ids:
                return 0
            stmt = stmt.where(col(OutboxMessage.id).in_(ids))
        rows = session.exec(
            stmt.order_by(col(OutboxMessage.id)).limit(batch).with_for_update(skip_locked=True)
        ).all()
        for row in rows:
            try:
                # The message names its district (or CITY_WIDE): the worker binds it.
                send(row.actor, [*row.args, jobs.message_district(row.district_id)])
            except dramatiq.errors.ActorNotFound:
                # A row no actor can take (written by something else): log it and move on
                # rather than stopping every relay on it forever.
                log.error("outbox_unknown_actor", outbox_id=row.id, actor=row.actor)
            row.sent_at = now
    if rows:
        log.debug("outbox_relayed", count=len(rows))
    return len(rows)
