"""Background jobs by name, and how a transaction owes one: an outbox row, relayed after commit.

Routes, workflows and workers share these names (DESIGN.md: nothing is enqueued before the
commit). Workers declare the actors under these names; everyone else only writes outbox rows.

Every message names its district (docs/tenancy.md): an outbox row carries `district_id` (the
notification's or timers' district, else the writing transaction's), and the relay appends it
to the message's arguments, or `CITY_WIDE` for a city-level row (a digest). A worker binds
`tenant_of(district)` for its transaction; a message naming neither is refused (`Refused`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from models import Notification, OutboxMessage
from models.db import TENANT_KEY
from workflows.kernel import tenancy

HANDLE_TIMERS_ACTOR = "handle_timers"
DELIVER_ACTOR = "deliver_notification"
CITY_WIDE = "city"
"""What a message names instead of a district when its rows are city-level (a digest)."""


class Refused(Exception):
    """A job message that names no district (nor CITY_WIDE): nothing is written, and the actor
    does not retry it (dramatiq dead-letters it)."""


def message_district(district_id: int | None) -> int | str:
    """What a message carries for an outbox row's district."""
    return CITY_WIDE if district_id is None else int(district_id)


def tenant_of(actor: str, district: object) -> tenancy.Tenant:
    """The tenant a job message's transaction works for: its district, or the jobs' city scope
    for a city-level message; `Refused` for a message naming neither (no district is ever
    guessed: a missing one must not widen what the job sees)."""
    if district == CITY_WIDE:
        return tenancy.JOBS
    if isinstance(district, int) and not isinstance(district, bool) and district > 0:
        return tenancy.Tenant(district)
    raise Refused(
        f"job message for {actor} names no district ({district!r}): refused, nothing written"
    )


_FROM_SESSION: Any = object()


def _writer_district(session: Session) -> int | None:
    """The district of the transaction writing an outbox row (None: a city scope)."""
    tenant = session.info.get(TENANT_KEY)
    return getattr(tenant, "district_id", None)


def owe(
    session: Session,
    actor: str,
    args: list[Any],
    now: datetime,
    *,
    dedupe_key: str | None = None,
    district_id: int | None = _FROM_SESSION,
) -> OutboxMessage:
    """Write an outbox row in the caller's transaction; the relay enqueues it after commit.
    Its district: `district_id` (None: city-level), else the writing transaction's."""
    row = OutboxMessage(
        actor=actor,
        args=args,
        dedupe_key=dedupe_key,
        created_at=now,
        district_id=_writer_district(session) if district_id is _FROM_SESSION else district_id,
    )
    session.add(row)
    return row


def owe_delivery(session: Session, notification_id: int, now: datetime) -> OutboxMessage:
    """Owe the delivery of one notification (in the notification's district)."""
    district = _notification_districts(session, [notification_id]).get(notification_id)
    return owe(session, DELIVER_ACTOR, [notification_id], now, district_id=district)


def _notification_districts(session: Session, ids: list[int]) -> dict[int, int | None]:
    """The districts of these notifications (one query; NULL on SQLite, which has no
    row-level security to tell)."""
    session.flush()
    table = Notification.__table__  # type: ignore[attr-defined]
    rows = session.execute(
        sa.select(table.c.id, table.c.district_id).where(table.c.id.in_(ids))
    ).all()
    return {int(r.id): r.district_id for r in rows}


def owe_deliveries(session: Session, notification_ids: list[int], now: datetime) -> list[int]:
    """Owe the delivery of many notifications: one multi-row insert; returns the outbox ids."""
    if not notification_ids:
        return []
    table = OutboxMessage.__table__  # type: ignore[attr-defined]
    districts = _notification_districts(session, notification_ids)
    rows = [
        {"actor": DELIVER_ACTOR, "args": [n], "dedupe_key": f"deliver:{n}", "created_at": now,
         "district_id": districts.get(n)}
        for n in notification_ids
    ]  # fmt: skip
    return list(session.execute(sa.insert(table).returning(table.c.id), rows).scalars())


def owe_many(
    session: Session,
    actor: str,
    args: list[list[Any]],
    now: datetime,
    *,
    district_id: int | None = _FROM_SESSION,
) -> list[int]:
    """Owe many messages to one actor, of one district (`district_id`, None: city-level; else
    the writing transaction's): one multi-row insert; returns the outbox ids."""
    if not args:
        return []
    table = OutboxMessage.__table__  # type: ignore[attr-defined]
    district = _writer_district(session) if district_id is _FROM_SESSION else district_id
    rows = [
        {"actor": actor, "args": a, "dedupe_key": None, "created_at": now, "district_id": district}
        for a in args
    ]
    return list(session.execute(sa.insert(table).returning(table.c.id), rows).scalars())
