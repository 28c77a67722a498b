"""The in-app inbox (站内信): delivering notifications on the `inbox` channel, posting messages of
other kinds, and each account's list, unread count and read marks.

A notification on the `inbox` channel is addressed to one staff account (`recipient` =
`user:<id>`): its key is unique per account like any other recipient's, and its delivery is a
row in `inbox_message`, unique per notification — written in the transaction that owes it (or,
for a digest, in the worker's lease transaction), so a retried delivery never doubles it. An
account sees only its own messages.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, func, select

from models import InboxMessage, Notification, NotificationState, Role, Unit, User
from workflows.inbox.kinds import Audience, kind_of
from workflows.kernel.errors import NotFound
from workflows.kernel.visibility import Actor

INBOX = "inbox"  # the channel's name on notification rows
PREFIX = "user:"  # an inbox recipient: user:<account id>

Show = Literal["unread", "all"]


def address(user_id: int) -> str:
    """The recipient of an account's inbox."""
    return f"{PREFIX}{user_id}"


def user_of(recipient: str) -> int | None:
    """The account an inbox recipient names."""
    rest = recipient.removeprefix(PREFIX)
    return int(rest) if recipient.startswith(PREFIX) and rest.isdigit() else None


def _insert_ignoring_duplicates(session: Session, table: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


# --------------------------------------------------------------------------------------------
# Who: the staff accounts an item concerns
# --------------------------------------------------------------------------------------------


def staff_by_unit(session: Session, unit_ids: Iterable[int]) -> dict[int, list[User]]:
    """The active staff accounts of each unit, in one query."""
    ids = sorted(set(unit_ids))
    out: dict[int, list[User]] = defaultdict(list)
    if not ids:
        return out
    for user in session.exec(
        select(User)
        .where(User.role == Role.unit_staff, col(User.is_active), col(User.unit_id).in_(ids))
        .order_by(col(User.id))
    ):
        out[user.unit_id].append(user)  # type: ignore[index]
    return out


EVERY_DISTRICT = -1  # `supervisors(session)`: every district's and the city's


def supervisors(session: Session, district_id: int | None = EVERY_DISTRICT) -> list[User]:
    """The active supervisors of one district's office (区政府办: accounts of that district);
    `None` the city's own supervisors; by default every supervisor of the city."""
    stmt = select(User).where(User.role == Role.supervisor, col(User.is_active))
    if district_id is None:
        stmt = stmt.where(col(User.district_id).is_(None))
    elif district_id != EVERY_DISTRICT:
        stmt = stmt.where(User.district_id == district_id)
    return list(session.exec(stmt.order_by(col(User.id))).all())


def audience_users(
    session: Session,
    audience: Iterable[Audience],
    unit_id: int | None,
    district_id: int | None = None,
) -> list[User]:
    """The accounts an audience names for an item of `unit_id` (or, with no unit, of
    `district_id`, e.g. a campaign's bulletin), each once."""
    out: dict[int | None, User] = {}
    if "unit_staff" in audience and unit_id is not None:
        out.update((u.id, u) for u in staff_by_unit(session, [unit_id]).get(unit_id, []))
    if "supervisors" in audience:
        # An item of a unit reaches its own district's office only, never another district's.
        unit = session.get(Unit, unit_id) if unit_id is not None else None
        where = unit.district_id if unit is not None else (district_id or EVERY_DISTRICT)
        out.update((u.id, u) for u in supervisors(session, where))
    return list(out.values())


# --------------------------------------------------------------------------------------------
# Delivering: notification rows on the inbox channel become inbox messages
# --------------------------------------------------------------------------------------------


def deliver(
    session: Session, rows: Iterable[Mapping[str, Any] | Notification], now: datetime
) -> int:
    """Put inbox notifications (with their ids) into their accounts' inboxes, in the caller's
    transaction: one multi-row insert, a message already there skipped. Returns how many."""
    values = []
    for row in rows:
        n = row if isinstance(row, Notification) else _Row(**{k: row[k] for k in _FIELDS})
        user_id = user_of(n.recipient)
        if n.channel != INBOX or user_id is None:
            continue
        values.append(
            {
                "user_id": user_id,
                "notification_id": n.id,
                "kind": n.kind,
                "level": n.level,
                "event_id": n.event_id,
                "title": n.title,
                "body": n.body,
                "link": kind_of(n.kind).link(n),  # type: ignore[arg-type]
                "created_at": now,
            }
        )
    if not values:
        return 0
    table = InboxMessage.__table__  # type: ignore[attr-defined]
    done = session.execute(
        _insert_ignoring_duplicates(session, table).returning(table.c.id), values
    ).all()
    return len(done)


_FIELDS = (
    "id", "channel", "recipient", "kind", "level", "event_id", "title", "body", "subject_type",
    "subject_id", "rule",
)  # fmt: skip


@dataclass(frozen=True)
class _Row:
    id: int
    channel: str
    recipient: str
    kind: str
    level: int
    event_id: int | None
    title: str
    body: str
    subject_type: str
    subject_id: int
    rule: str


def post(
    session: Session,
    kind: str,
    *,
    subject_type: str,
    subject_id: int,
    event_id: int | None,
    unit_id: int | None,
    title: str,
    body: str,
    now: datetime,
    round: str = "",
    district_id: int | None = None,
) -> int:
    """A message of `kind` to every account its audience (workflows/inbox/kinds.py) names, as
    notification rows on the inbox channel delivered at once, in the caller's transaction.
    `round` tells apart two messages about one subject (a second decision); the same call made
    twice delivers nothing twice. `district_id`: whose supervisors hear an item of no unit (a
    campaign's bulletin); an item of a unit reaches its own district's. Returns how many
    accounts it reached."""
    users = audience_users(session, kind_of(kind).audience, unit_id, district_id)
    if not users:
        return 0
    rows = [
        {
            "key": post_key(kind, subject_type, subject_id, round, u.id),  # type: ignore[arg-type]
            "subject_type": subject_type,
            "subject_id": subject_id,
            "event_id": event_id,
            "unit_id": unit_id,
            "rule": kind,
            "kind": kind,
            "level": 0,
            "channel": INBOX,
            "recipient": address(u.id),  # type: ignore[arg-type]
            "title": title[:300],
            "body": body,
            "state": NotificationState.sent,
            "attempts": 1,
            "created_at": now,
            "sent_at": now,
        }
        for u in users
    ]
    table = Notification.__table__  # type: ignore[attr-defined]
    inserted = session.execute(
        _insert_ignoring_duplicates(session, table).returning(table.c.id, table.c.key), rows
    ).all()
    by_key = {r["key"]: r for r in rows}
    return deliver(session, [{**by_key[key], "id": row_id} for row_id, key in inserted], now)


def post_key(kind: str, subject_type: str, subject_id: int, round: str, user_id: int) -> str:
    """The identity of one posted message to one account."""
    digest = hashlib.sha256(address(user_id).encode()).hexdigest()[:16]
    return f"{subject_type}:{subject_id}:{kind}:{round}:{INBOX}:{digest}"


# --------------------------------------------------------------------------------------------
# Reading: an account's own messages
# --------------------------------------------------------------------------------------------


def unread_count(session: Session, user_id: int) -> int:
    """How many of an account's messages are unread (the partial index answers it)."""
    return int(
        session.exec(
            select(func.count())
            .select_from(InboxMessage)
            .where(InboxMessage.user_id == user_id, col(InboxMessage.read_at).is_(None))
        ).one()
    )


def listing(actor: Actor, show: Show = "unread", kind: str | None = None) -> Any:
    """An account's messages, newest first (unread only, or all; of one kind)."""
    stmt = (
        select(InboxMessage)
        .where(InboxMessage.user_id == actor.id)
        .order_by(col(InboxMessage.id).desc())
    )
    if show == "unread":
        stmt = stmt.where(col(InboxMessage.read_at).is_(None))
    if kind:
        stmt = stmt.where(InboxMessage.kind == kind)
    return stmt


def listing_ids(session: Session, user_id: int) -> list[int]:
    """The ids of an account's messages, newest first."""
    stmt = (
        select(InboxMessage.id)
        .where(InboxMessage.user_id == user_id)
        .order_by(col(InboxMessage.id).desc())
    )
    return [i for i in session.exec(stmt).all() if i is not None]


def kinds_held(session: Session, actor: Actor) -> list[str]:
    """The kinds of message an account has, for its kind filter."""
    return sorted(
        session.exec(
            select(InboxMessage.kind).where(InboxMessage.user_id == actor.id).distinct()
        ).all()
    )


def mark_read(session: Session, actor: Actor, message_id: int, now: datetime) -> InboxMessage:
    """Mark one of the account's messages read (again: no change)."""
    row = session.get(InboxMessage, message_id)
    if row is None or row.user_id != actor.id:
        raise NotFound(
            "inbox_message_not_found",
            f"站内信 {message_id} 不存在",
            f"inbox message {message_id} not found",
        )
    if row.read_at is None:
        row.read_at = now
        session.add(row)
        session.flush()
    return row


def mark_all_read(session: Session, actor: Actor, now: datetime, kind: str | None = None) -> int:
    """Mark every unread message of the account (of one kind) read; returns how many."""
    table = InboxMessage.__table__  # type: ignore[attr-defined]
    stmt = sa.update(table).where(table.c.user_id == actor.id, table.c.read_at.is_(None))
    if kind:
        stmt = stmt.where(table.c.kind == kind)
    result = session.execute(stmt.values(read_at=now).execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
