"""Audit lines: recording them, chaining them by hash, verifying the chains, reading the trail.

Event moves and edits of what hangs on an event are in the transition log (the event's
history); everything else a person changes goes to the change log. Both are append-only
(database triggers refuse UPDATE, DELETE and, on SQLite, REPLACE) and tamper-evident: each row
carries `seq` (its place in its table's chain), `prev_hash` (the previous row's `row_hash`) and
`row_hash` = sha256(prev_hash + canonical JSON of the row's content), written in the row's own
transaction. A row changed behind the database's back no longer matches its hash; a row removed
or rehashed breaks the next row's link. `verify()` names the first broken link.

Appending is serialised per table only for the moment of the append: on PostgreSQL a
transaction-scoped advisory lock taken right before the audit INSERT (released at commit), so
concurrent moves stay concurrent until their last statements; SQLite serialises writers anyway.
The unique index on `seq` turns any append that skipped the lock into an error, never a fork.
"""

from __future__ import annotations

import hashlib
import heapq
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from enum import Enum
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from models import ChangeLog, Event, TransitionLog
from models.types import UTCDateTime

if TYPE_CHECKING:  # accounts records its own audit lines: no import cycle at run time
    from workflows.accounts import Actor


def plain(value: Any) -> Any:
    """A value as JSON can hold it (dates and times as ISO text, enums as their value)."""
    if isinstance(value, (date, datetime, time)):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def record(
    session: Session,
    actor: Actor,
    *,
    entity: str,
    entity_id: int | None,
    action: str,
    now: datetime,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    unit_id: int | None = None,
) -> ChangeLog:
    """One audit line: who, when, what, before → after (only the fields that changed)."""
    before, after = plain(before or {}), plain(after or {})
    if before and after:
        changed = {k for k in after if before.get(k) != after.get(k)}
        before = {k: v for k, v in before.items() if k in changed}
        after = {k: v for k, v in after.items() if k in changed}
    line = ChangeLog(
        at=now,
        actor_id=actor.id,
        actor_name=actor.name,
        entity=entity,
        entity_id=entity_id,
        unit_id=unit_id,
        action=action,
        before=before,
        after=after,
    )
    session.add(line)  # chained when flushed (_seal_pending)
    return line


def snapshot(row: Any, fields: set[str] | list[str]) -> dict[str, Any]:
    """The named fields of a row, for before/after."""
    return {f: getattr(row, f) for f in fields}


AUDIT_CURSOR = "audit.v1"


def trail(
    session: Session,
    actor: Actor,
    *,
    entity: str | None,
    limit: int,
    offset: int,
    after: str | None = None,
    page_info: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Newest first: change-log lines and the edits and moves of events, as one list.

    Supervisors, admins and viewers read everything; unit staff their own unit's lines. The
    order is (at, source, id), newest first; `after` (a cursor of this list) continues after a
    row however deep it is, and `page_info["next_after"]` gets the next page's cursor.
    """
    cursor = None
    if after is not None:
        from workflows import paging  # no import cycle: paging needs only errors

        at, source, ident = paging.decode(AUDIT_CURSOR, after, [datetime, str, int])
        if source not in ("change", "event") or ident < 1:
            raise paging.BadCursor("wrong value type")
        cursor = (at, source, ident)
    want = limit + 1 + (0 if cursor else offset)
    changes = select(ChangeLog).order_by(col(ChangeLog.at).desc(), col(ChangeLog.id).desc())
    moves = (
        select(TransitionLog, Event.unit_id)
        .join(Event, Event.id == TransitionLog.event_id)  # type: ignore[arg-type]
        .order_by(col(TransitionLog.at).desc(), col(TransitionLog.id).desc())
    )
    if cursor is not None:
        changes = changes.where(*_before(cursor, "change", ChangeLog.at, ChangeLog.id))
        moves = moves.where(*_before(cursor, "event", TransitionLog.at, TransitionLog.id))
    if not actor.sees_all_units:
        changes = changes.where(ChangeLog.unit_id == actor.unit_id)
        moves = moves.where(Event.unit_id == actor.unit_id)
    sources: list[list[tuple[tuple[Any, str, int], dict[str, Any]]]] = []
    if entity in (None, "event"):
        sources.append(
            [
                (
                    (t.at, "event", t.id),
                    {
                        "source": "event",
                        "at": t.at,
                        "actor_name": t.actor_name,
                        "entity": "event",
                        "entity_id": t.event_id,
                        "unit_id": unit_id,
                        "action": t.trigger,
                        "before": {"state": t.from_state},
                        "after": {"state": t.to_state, "version": t.version, **t.data},
                    },
                )
                for t, unit_id in session.exec(moves.limit(want)).all()
            ]
        )
    if entity != "event":
        if entity is not None:
            changes = changes.where(ChangeLog.entity == entity)
        sources.append(
            [
                (
                    (c.at, "change", c.id),
                    {
                        "source": "change",
                        "at": c.at,
                        "actor_name": c.actor_name,
                        "entity": c.entity,
                        "entity_id": c.entity_id,
                        "unit_id": c.unit_id,
                        "action": c.action,
                        "before": c.before,
                        "after": c.after,
                    },
                )
                for c in session.exec(changes.limit(want)).all()
            ]
        )
    merged = list(heapq.merge(*sources, key=lambda r: r[0], reverse=True))
    start = 0 if cursor else offset
    rows = merged[start : start + limit]
    if page_info is not None:
        from workflows import paging

        more = len(merged) > start + limit and rows
        page_info["next_after"] = paging.encode(AUDIT_CURSOR, rows[-1][0]) if more else None
    return [row for _, row in rows]


def _before(cursor: tuple[datetime, str, int], source: str, at: Any, ident: Any) -> list[Any]:
    """Rows of `source` after the cursor in newest-first (at, source, id) order."""
    c_at, c_source, c_id = cursor
    if source < c_source:
        return [col(at) <= c_at]
    if source > c_source:
        return [col(at) < c_at]
    return [sa.tuple_(col(at), col(ident)) < sa.tuple_(sa.literal(c_at, at.type), c_id)]


# ---- the hash chain ------------------------------------------------------------------------------

GENESIS = "0" * 64  # prev_hash of a table's first row
CHAINED: tuple[type[Any], ...] = (TransitionLog, ChangeLog)
_CHAIN_COLUMNS = ("seq", "prev_hash", "row_hash")
# pg_advisory_xact_lock keys, one per chained table (any constant unique in this database).
_LOCK_KEYS = {"transition_log": 0x6F70656E64617901, "change_log": 0x6F70656E64617902}


def _table(model: type[Any]) -> sa.Table:
    return model.__table__  # type: ignore[no-any-return]


# The fields a row's hash covers (a fixed list: a column added later is not silently hashed,
# which would change every earlier row's digest).
HASHED_FIELDS = {
    "transition_log": (
        "seq", "event_id", "feedback_item_id", "trigger", "from_state", "to_state", "version",
        "actor_id", "actor_name", "at", "reason", "data",
    ),
    "change_log": (
        "seq", "at", "actor_id", "actor_name", "entity", "entity_id", "unit_id", "action",
        "before", "after",
    ),
}  # fmt: skip


def _content_columns(table: sa.Table) -> list[sa.Column[Any]]:
    """The columns a row's hash covers."""
    return [table.c[name] for name in HASHED_FIELDS[table.name]]


def _canonical_value(column: sa.Column[Any], value: Any) -> Any:
    if value is None:
        return None
    if isinstance(column.type, UTCDateTime):
        if value.tzinfo is None:  # as SQLite hands back a raw read: stored as naive UTC
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat()
    if isinstance(column.type, sa.JSON):
        # What the database will give back: JSON's own types (tuples as lists, keys as text).
        return json.loads(json.dumps(value))
    return value


def row_digest(table: sa.Table, row: dict[str, Any], prev_hash: str) -> str:
    """sha256 over the previous hash and the canonical JSON of the row's content (and table)."""
    content = {c.name: _canonical_value(c, row.get(c.name)) for c in _content_columns(table)}
    content["table"] = table.name
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev_hash + text).encode("utf-8")).hexdigest()


def _tail(connection: Connection, table: sa.Table) -> tuple[int, str]:
    """Take the table's chain lock (PostgreSQL) and read the last (seq, row_hash)."""
    if connection.dialect.name == "postgresql":
        connection.execute(
            sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEYS[table.name]}
        )
    last = connection.execute(
        sa.select(table.c.seq, table.c.row_hash).order_by(table.c.seq.desc()).limit(1)
    ).first()
    return (0, GENESIS) if last is None else (int(last[0]), str(last[1]))


def _chain(connection: Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """Give `rows` (in insert order) their seq, prev_hash and row_hash after the table's tail."""
    seq, prev = _tail(connection, table)
    for row in rows:
        seq += 1
        row["seq"], row["prev_hash"] = seq, prev
        prev = row["row_hash"] = row_digest(table, row, prev)


def seal(session: Session, model: type[Any], rows: Sequence[dict[str, Any]]) -> None:
    """Chain rows about to be inserted with a Core INSERT (bulk paths), in the caller's
    transaction; call it right before the INSERT. ORM-added rows are sealed at flush."""
    session.flush()  # rows added through the ORM go first, so the tail read below is current
    _chain(session.connection(), _table(model), rows)


def append(session: Session, entry: Any) -> Any:
    """Add one audit row and write it now, chained to its table's last row (the move path's
    call: the chain lock is taken here, late in the move's transaction, and held to commit)."""
    session.add(entry)
    session.flush()
    return entry


@sa_event.listens_for(OrmSession, "before_flush")
def _seal_pending(session: OrmSession, _context: Any, _instances: Any) -> None:
    """Every audit row added through the ORM is chained as it is flushed, in insert order."""
    pending = [o for o in session.new if isinstance(o, CHAINED) and o.row_hash is None]
    if not pending:
        return
    connection = session.connection()
    for model in CHAINED:
        objects = [o for o in pending if isinstance(o, model)]
        if not objects:
            continue
        objects.sort(key=lambda o: sa.inspect(o).insert_order)
        table = _table(model)
        rows = [{name: getattr(o, name) for name in HASHED_FIELDS[table.name]} for o in objects]
        _chain(connection, table, rows)
        for obj, row in zip(objects, rows, strict=True):
            for name in _CHAIN_COLUMNS:
                setattr(obj, name, row[name])


@dataclass(frozen=True)
class BrokenLink:
    """The first row of a table whose chain does not hold."""

    table: str
    row_id: int
    seq: int
    what: str  # seq | prev_hash | row_hash
    expected: str
    found: str


@dataclass(frozen=True)
class ChainReport:
    """One table's chain: how many rows were checked, its head, its first broken link."""

    table: str
    rows: int
    head_seq: int
    head_hash: str
    broken: BrokenLink | None


def _stored(connection: Connection, table: sa.Table, batch: int) -> Iterator[dict[str, Any]]:
    """Every row of the table in chain order, typed as the application reads it, streamed."""
    query = sa.select(table).order_by(table.c.seq)
    result = connection.execution_options(yield_per=batch).execute(query)
    for row in result.mappings():
        yield dict(row)


def verify_table(connection: Connection, model: type[Any], batch: int = 2000) -> ChainReport:
    """Walk one table's chain from its first row; stop at the first broken link."""
    table = _table(model)
    expected_seq, prev, count = 1, GENESIS, 0
    for row in _stored(connection, table, batch):
        broken = None
        if row["seq"] != expected_seq:
            broken = ("seq", str(expected_seq), str(row["seq"]))
        elif row["prev_hash"] != prev:
            broken = ("prev_hash", prev, str(row["prev_hash"]))
        else:
            digest = row_digest(table, row, prev)
            if row["row_hash"] != digest:
                broken = ("row_hash", digest, str(row["row_hash"]))
        if broken is not None:
            link = BrokenLink(table.name, int(row["id"]), int(row["seq"] or 0), *broken)
            return ChainReport(table.name, count, expected_seq - 1, prev, link)
        count += 1
        expected_seq, prev = expected_seq + 1, str(row["row_hash"])
    return ChainReport(table.name, count, expected_seq - 1, prev, None)


def verify(session: Session, models: Iterable[type[Any]] = CHAINED) -> list[ChainReport]:
    """Every audit chain, checked row by row (read-only)."""
    connection = session.connection()
    return [verify_table(connection, model) for model in models]
