"""Audit lines: recording them, chaining them by hash, verifying the chains, reading the trail.

Event moves and edits of what hangs on an event are in the transition log (the event's
history); everything else a person changes goes to the change log. Both are append-only
(database triggers refuse UPDATE, DELETE and, on SQLite, REPLACE) and tamper-evident: each row
carries `seq` (its place in its chain), `prev_hash` (the previous row's `row_hash`) and
`row_hash` = HMAC(key, prev_hash + canonical JSON of the row's content), written in the
row's own transaction: HMAC-SHA256, or HMAC-SM3 under the 国密 profile (OPENDAY_CRYPTO=sm), the
stored hash naming which (`mac`), so a chain verifies across a switch of profile. The key lives
outside the database (OPENDAY_AUDIT_KEY, else var/audit.key, generated once), so whoever can
rewrite rows cannot re-hash them: a row changed behind the database's back no longer matches its
hash; a row removed or rehashed breaks the next row's link. Lines older than the retention may
be archived and removed (audit_archive.py): the chain then resumes from its MAC'd anchor.
`verify()` names the first broken link, and `unmatched_events()` the events whose version or
state no chain accounts for (a whole history deleted leaves no broken link, only an event
without one). Before migration 0018 the chains were unkeyed SHA-256 (`plain_digest`); 0018
verified them so and re-sealed them under the key, recording the switch in the change log.

The change log is one chain; the transition log is one chain per event (an event's history is
what a reader checks, and moves of different events then never queue behind one lock). Appending
is serialised per chain, for the moment of the append only: on PostgreSQL a transaction-scoped
advisory lock (per event, or the change log's one) taken right before the audit INSERT and
released at commit; SQLite serialises writers anyway. The unique index on (event_id, seq), or on
`seq` for the change log, turns any append that skipped the lock into an error, never a fork.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import json
import os
import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from enum import Enum
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from models import AuditAnchor, Campaign, ChangeLog, Event, TransitionLog, User
from models.types import UTCDateTime
from settings import Settings
from workflows.kernel import paging
from workflows.kernel.visibility import Actor, visible, visible_with


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


# ((at, source, id), row): the key merges the trail; the models type ids as Optional.
_Keyed = tuple[tuple[Any, str, int | None], dict[str, Any]]


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

    Supervisors, viewers and administrators read everything; unit staff their own unit's lines. The
    order is (at, source, id), newest first; `after` (a cursor of this list) continues after a
    row however deep it is, and `page_info["next_after"]` gets the next page's cursor.
    """
    cursor = _cursor_of(after)
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
    changes = visible_with(changes, actor, ChangeLog.unit_id, _district_lines)
    moves = visible(moves, actor, Event.unit_id)
    sources: list[list[_Keyed]] = []
    if entity in (None, "event"):
        sources.append(
            [_move_line(t, unit_id) for t, unit_id in session.exec(moves.limit(want)).all()]
        )
    if entity != "event":
        if entity is not None:
            changes = changes.where(ChangeLog.entity == entity)
        sources.append([_change_line(c) for c in session.exec(changes.limit(want)).all()])
    merged = list(heapq.merge(*sources, key=lambda r: r[0], reverse=True))
    start = 0 if cursor else offset
    rows = merged[start : start + limit]
    if page_info is not None:
        more = len(merged) > start + limit and rows
        page_info["next_after"] = paging.encode(AUDIT_CURSOR, rows[-1][0]) if more else None
    return [row for _, row in rows]


def _district_lines(district_id: int) -> Any:
    """Change-log lines of no unit that are the district's: its campaigns' and accounts'."""
    campaigns = select(Campaign.id).where(Campaign.district_id == district_id)
    accounts = select(User.id).where(User.district_id == district_id)
    return sa.or_(
        sa.and_(col(ChangeLog.entity) == "campaign", col(ChangeLog.entity_id).in_(campaigns)),
        sa.and_(col(ChangeLog.entity) == "account", col(ChangeLog.entity_id).in_(accounts)),
    )


def _cursor_of(after: str | None) -> tuple[datetime, str, int] | None:
    """The (at, source, id) an `after` cursor of the trail names, if one is given."""
    if after is None:
        return None
    at, source, ident = paging.decode(AUDIT_CURSOR, after, [datetime, str, int])
    if source not in ("change", "event") or ident < 1:
        raise paging.BadCursor("wrong value type")
    return (at, source, ident)


def _move_line(t: TransitionLog, unit_id: int) -> _Keyed:
    """An event's move or edit as a trail line."""
    return (
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


def _change_line(c: ChangeLog) -> _Keyed:
    """A change-log line as a trail line."""
    return (
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


def _before(cursor: tuple[datetime, str, int], source: str, at: Any, ident: Any) -> list[Any]:
    """Rows of `source` after the cursor in newest-first (at, source, id) order."""
    c_at, c_source, c_id = cursor
    if source < c_source:
        return [col(at) <= c_at]
    if source > c_source:
        return [col(at) < c_at]
    return [sa.tuple_(col(at), col(ident)) < sa.tuple_(sa.literal(c_at, at.type), c_id)]


# ---- the hash chain ------------------------------------------------------------------------------

GENESIS = "0" * 64  # prev_hash of a chain's first row
CHAINED: tuple[type[Any], ...] = (TransitionLog, ChangeLog)
_CHAIN_COLUMNS = ("seq", "prev_hash", "row_hash")
# The change log is one chain. The transition log is one chain per event (the event's history,
# keyed by event_id), so moves of different events never wait for one another; a move already
# holds its event's row lock, and the per-event chain lock below costs it no extra wait.
PER_EVENT = frozenset({"transition_log"})
# pg_advisory_xact_lock keys: the change log's one chain (a bigint key), and the class of the
# per-event chains (the (int4, int4) form: class, event id). Any constants unique in this database.
_LOCK_KEYS = {"change_log": 0x6F70656E64617902}
EVENT_CHAIN_LOCK_CLASS = 0x6F64
# PostgreSQL function (migration 0015) that takes the chain locks of the given events in id order
# and then reads each chain's last (seq, row_hash): one round trip, and its query runs with a
# snapshot taken after the locks are held, so it always sees the previous holder's row.
TAILS_FUNCTION = "openday_audit_tails"
# PostgreSQL function (migration 0043) that takes the change log's lock and reads its tail under
# a city scope: a district's transaction appends to the city's one chain without seeing it.
CHANGE_LOG_TAIL_FUNCTION = "openday_change_log_tail"


def _table(model: type[Any]) -> sa.Table:
    return model.__table__


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


KEY_FILE = "audit.key"
_KEYS: dict[str, bytes] = {}


def load_key(secret: str | None, var_dir: Path) -> bytes:
    """The configured key, else var_dir/audit.key, generated once (atomically: a process that
    loses the race reads the winner's key)."""
    if secret:
        return secret.encode()
    path = var_dir / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32))
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    return path.read_text().strip().encode()


def chain_key() -> bytes:
    """The process's audit key, from the settings (read once)."""
    if "key" not in _KEYS:
        settings = Settings()
        secret = settings.audit_key.get_secret_value() if settings.audit_key else None
        _KEYS["key"] = load_key(secret, settings.var_dir)
    return _KEYS["key"]


# The chain's MACs. A row's hash says which made it: 64 hex digits are HMAC-SHA256 (every row
# before the 国密 profile existed), "sm3:" + unpadded base64url is HMAC-SM3 (GB/T 32905), so a
# deployment switches OPENDAY_CRYPTO and its old rows still verify; the column stays 64 wide.
SHA256 = "hmac-sha256"
SM3 = "hmac-sm3"
SM3_TAG = "sm3:"
_ALGORITHMS: dict[str, str] = {}


def chain_algorithm() -> str:
    """The MAC new rows get: HMAC-SM3 under OPENDAY_CRYPTO=sm, else HMAC-SHA256 (read once)."""
    if "new" not in _ALGORITHMS:
        _ALGORITHMS["new"] = SM3 if Settings().crypto == "sm" else SHA256
    return _ALGORITHMS["new"]


def algorithm_of(row_hash: str) -> str:
    """Which MAC made a stored hash (its tag)."""
    return SM3 if row_hash.startswith(SM3_TAG) else SHA256


def mac(key: bytes, text: bytes, algorithm: str) -> str:
    """A tagged MAC of `text` (see SM3_TAG)."""
    if algorithm == SM3:
        signer = crypto_hmac.HMAC(key, hashes.SM3())
        signer.update(text)
        return SM3_TAG + base64.urlsafe_b64encode(signer.finalize()).rstrip(b"=").decode()
    return hmac.new(key, text, hashlib.sha256).hexdigest()


def _content_text(table: sa.Table, row: dict[str, Any], prev_hash: str) -> bytes:
    content = {c.name: _canonical_value(c, row.get(c.name)) for c in _content_columns(table)}
    return canonical_text(table.name, content, prev_hash)


def canonical_text(table_name: str, content: dict[str, Any], prev_hash: str) -> bytes:
    """What a row's MAC covers: the previous hash, then its canonical content as JSON."""
    text = json.dumps(
        {**content, "table": table_name}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return (prev_hash + text).encode("utf-8")


def canonical_content(table: sa.Table, row: dict[str, Any]) -> dict[str, Any]:
    """A row's hashed fields as JSON holds them (what an archive stores)."""
    return {c.name: _canonical_value(c, row.get(c.name)) for c in _content_columns(table)}


def plain_digest(table: sa.Table, row: dict[str, Any], prev_hash: str) -> str:
    """The unkeyed sha256 the chains used before migration 0018 (migrations check it)."""
    return hashlib.sha256(_content_text(table, row, prev_hash)).hexdigest()


def row_digest(
    table: sa.Table,
    row: dict[str, Any],
    prev_hash: str,
    key: bytes | None = None,
    algorithm: str | None = None,
) -> str:
    """The keyed MAC (`algorithm`, else the profile's: HMAC-SHA256 or HMAC-SM3) under the audit
    key (`key`, else the process's) over the previous hash and the row's canonical JSON."""
    text = _content_text(table, row, prev_hash)
    return mac(key or chain_key(), text, algorithm or chain_algorithm())


def stored_digest(table: sa.Table, row: dict[str, Any], prev_hash: str) -> str:
    """The MAC a stored row should carry, by the algorithm its own hash names."""
    return row_digest(table, row, prev_hash, algorithm=algorithm_of(str(row["row_hash"])))


def _chain_key(table: sa.Table, row: dict[str, Any]) -> int | None:
    """Which chain of its table a row belongs to: its event, or the table's one chain (None)."""
    return int(row["event_id"]) if table.name in PER_EVENT else None


def _tails(
    connection: Connection, table: sa.Table, keys: Iterable[int | None]
) -> dict[int | None, tuple[int, str]]:
    """Take these chains' locks (PostgreSQL) and read each one's last (seq, row_hash)."""
    wanted = sorted({k for k in keys if k is not None})
    postgres = connection.dialect.name == "postgresql"
    if table.name not in PER_EVENT:
        if postgres and _has_tail_function(connection):
            # The change log is the city's one chain, but a district's transaction sees only
            # its district's lines (row-level security, migration 0043): the function takes
            # the chain's lock and reads the true tail under a city scope, returning only it.
            last = connection.execute(
                sa.text(f"SELECT tail_seq, tail_hash FROM {CHANGE_LOG_TAIL_FUNCTION}()")
            ).first()
            if last is not None and last[0] is None:
                last = None
        else:
            if postgres:
                connection.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEYS[table.name]}
                )
            last = connection.execute(
                sa.select(table.c.seq, table.c.row_hash).order_by(table.c.seq.desc()).limit(1)
            ).first()
        return {None: (0, GENESIS) if last is None else (int(last[0]), str(last[1]))}
    if postgres:
        found = connection.execute(
            sa.text(f"SELECT * FROM {TAILS_FUNCTION}(CAST(:ids AS integer[]))"), {"ids": wanted}
        ).all()
    else:  # SQLite: one writer at a time, no lock to take
        latest = (
            sa.select(table.c.event_id, sa.func.max(table.c.seq).label("seq"))
            .where(table.c.event_id.in_(wanted))
            .group_by(table.c.event_id)
            .subquery()
        )
        found = connection.execute(
            sa.select(table.c.event_id, table.c.seq, table.c.row_hash).join(
                latest, sa.and_(latest.c.event_id == table.c.event_id, latest.c.seq == table.c.seq)
            )
        ).all()
    tails: dict[int | None, tuple[int, str]] = {k: (0, GENESIS) for k in wanted}
    tails.update({int(e): (int(seq), str(digest)) for e, seq, digest in found})
    return tails


def _has_tail_function(connection: Connection) -> bool:
    """Whether migration 0043's change-log tail function exists (older schemas, such as a
    migration before it appending a line, lock and read the table directly)."""
    key = "openday.change_log_tail"
    known = connection.info.get(key)
    if known is None:
        known = bool(
            connection.execute(
                sa.text("SELECT to_regproc(:name) IS NOT NULL"),
                {"name": CHANGE_LOG_TAIL_FUNCTION},
            ).scalar()
        )
        if known:  # only a present function is remembered: a migration may create it later
            connection.info[key] = known
    return known


def _chain(connection: Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """Give `rows` (in insert order) their seq, prev_hash and row_hash after their chains' tails."""
    keys = [_chain_key(table, row) for row in rows]
    tails = _tails(connection, table, keys)
    for row, key in zip(rows, keys, strict=True):
        seq, prev = tails[key]
        row["seq"], row["prev_hash"] = seq + 1, prev
        row["row_hash"] = row_digest(table, row, prev)
        tails[key] = (seq + 1, row["row_hash"])


def seal(session: Session, model: type[Any], rows: Sequence[dict[str, Any]]) -> None:
    """Chain rows about to be inserted with a Core INSERT (bulk paths), in the caller's
    transaction; call it right before the INSERT. ORM-added rows are sealed at flush."""
    session.flush()  # rows added through the ORM go first, so the tail read below is current
    _chain(session.connection(), _table(model), rows)


def append(session: Session, entry: Any) -> Any:
    """Add one audit row and write it now, chained to its chain's last row (the move path's
    call: the chain lock is taken here, late in the move's transaction, and held to commit)."""
    session.add(entry)
    session.flush()
    return entry


def event_line(
    session: Session,
    event: Event,
    trigger: str,
    actor: Actor,
    now: datetime,
    reason: str | None,
    data: dict[str, Any],
) -> TransitionLog:
    """An audit line about the event that does not change it (its version stays): a request,
    a decision, a publication beside the event's moves."""
    return append(
        session,
        TransitionLog(
            event_id=event.id,  # type: ignore[arg-type]
            trigger=trigger,
            from_state=event.state,
            to_state=event.state,
            version=event.version,
            actor_id=actor.id,
            actor_name=actor.name,
            at=now,
            reason=reason,
            data=data,
        ),
    )


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
    event_id: int | None  # the chain (transition log: the event); None for the change log
    seq: int
    what: str  # seq | prev_hash | row_hash
    expected: str
    found: str


@dataclass(frozen=True)
class ChainReport:
    """One table's chains: rows checked, how many chains, their head, the first broken link.

    `head_hash` is the change log's last row_hash; for the transition log (a chain per event) it
    is a fingerprint of every event's head, sha256 over "event_id:seq:row_hash" lines in event
    order, so one value written down today shows tomorrow whether any history was cut short.
    """

    table: str
    rows: int
    chains: int
    head_seq: int  # the change log's last seq; the transition log's rows in all chains
    head_hash: str
    broken: BrokenLink | None
    anchored: int = 0  # chains resumed from an anchor (their archived beginning removed)


ANCHOR_FIELDS = ("table_name", "event_id", "seq", "row_hash", "cutoff", "archive_name",
                 "archive_sha256", "at")  # fmt: skip


def anchor_mac(anchor: dict[str, Any], algorithm: str | None = None) -> str:
    """The MAC an anchor carries: over its fields, under the audit key."""
    table = _table(AuditAnchor)
    content = {name: _canonical_value(table.c[name], anchor.get(name)) for name in ANCHOR_FIELDS}
    text = canonical_text("audit_anchor", content, "")
    return mac(chain_key(), text, algorithm or chain_algorithm())


def anchors(connection: Connection, table_name: str) -> dict[int | None, dict[str, Any]]:
    """Each chain's latest anchor (highest seq) in a table; none before migration 0038."""
    if not sa.inspect(connection).has_table("audit_anchor"):
        return {}
    table = _table(AuditAnchor)
    found: dict[int | None, dict[str, Any]] = {}
    names = ("id", *ANCHOR_FIELDS, "anchor_hash")
    rows = connection.execute(
        sa.select(*(table.c[n] for n in names))
        .where(table.c.table_name == table_name)
        .order_by(table.c.seq)
    )
    for row in rows.mappings():
        found[row["event_id"]] = dict(row)
    return found


def _bad_anchor(table_name: str, found: dict[int | None, dict[str, Any]]) -> BrokenLink | None:
    """The first anchor whose MAC does not hold (one written behind the service's back)."""
    for key, anchor in found.items():
        stored = str(anchor["anchor_hash"])
        expected = anchor_mac(anchor, algorithm_of(stored))
        if not hmac.compare_digest(stored, expected):
            return BrokenLink(
                table_name, int(anchor["id"]), key, int(anchor["seq"]), "anchor", expected, stored
            )
    return None


def _stored(connection: Connection, table: sa.Table, batch: int) -> Iterator[dict[str, Any]]:
    """Every row of the table in chain order, typed as the application reads it, streamed."""
    order = (table.c.event_id, table.c.seq) if table.name in PER_EVENT else (table.c.seq,)
    # Options on the statement, not the connection: a connection's options stay on it (a
    # migration's connection would then stream its later statements through a cursor).
    # The chain's own columns only: a column added later (district_id, migration 0043) is not
    # there yet when an earlier migration verifies the chain.
    names = ("id", *HASHED_FIELDS[table.name], "prev_hash", "row_hash")
    result = connection.execute(
        sa.select(*(table.c[n] for n in names)).order_by(*order).execution_options(yield_per=batch)
    )
    for row in result.mappings():
        yield dict(row)


def verify_table(
    connection: Connection,
    model: type[Any],
    batch: int = 2000,
    digest: Callable[[sa.Table, dict[str, Any], str], str] = stored_digest,
) -> ChainReport:
    """Walk a table's chains from their first rows, or from their anchors where an archive
    removed their beginning; stop at the first broken link. `digest` is the keyed one;
    migration 0018 passes `plain_digest` to check the chains it re-seals."""
    table = _table(model)
    fingerprint = hashlib.sha256()
    key: int | None = None
    expected_seq, prev, count, chains, resumed = 1, GENESIS, 0, 0, 0
    found = anchors(connection, table.name)
    bad = _bad_anchor(table.name, found)
    if bad is not None:
        return ChainReport(table.name, 0, 0, 0, GENESIS, bad)

    def close_chain() -> None:
        if chains:
            fingerprint.update(f"{key}:{expected_seq - 1}:{prev}\n".encode())

    for row in _stored(connection, table, batch):
        row_key = _chain_key(table, row)
        if chains == 0 or row_key != key:
            close_chain()
            key, expected_seq, prev, chains = row_key, 1, GENESIS, chains + 1
            anchor = found.get(row_key)
            if anchor is not None and row["seq"] != 1:  # resumes after its archived beginning
                expected_seq, prev = int(anchor["seq"]) + 1, str(anchor["row_hash"])
                resumed += 1
        broken = None
        if row["seq"] != expected_seq:
            broken = ("seq", str(expected_seq), str(row["seq"]))
        elif row["prev_hash"] != prev:
            broken = ("prev_hash", prev, str(row["prev_hash"]))
        else:
            computed = digest(table, row, prev)
            if not hmac.compare_digest(str(row["row_hash"]), computed):
                broken = ("row_hash", computed, str(row["row_hash"]))
        if broken is not None:
            link = BrokenLink(table.name, int(row["id"]), row_key, int(row["seq"] or 0), *broken)
            return ChainReport(table.name, count, chains, count, prev, link, resumed)
        count += 1
        expected_seq, prev = expected_seq + 1, str(row["row_hash"])
    if table.name not in PER_EVENT:
        return ChainReport(table.name, count, chains, expected_seq - 1, prev, None, resumed)
    close_chain()
    return ChainReport(table.name, count, chains, count, fingerprint.hexdigest(), None, resumed)


def verify(session: Session, models: Iterable[type[Any]] = CHAINED) -> list[ChainReport]:
    """Every audit chain, checked row by row (read-only)."""
    connection = session.connection()
    return [verify_table(connection, model) for model in models]


CREATED_STATE = "planned"  # an event's state when created, before any line of its history


@dataclass(frozen=True)
class Unmatched:
    """An event whose version or state its chain does not end on (or that has no chain)."""

    event_id: int
    version: int
    state: str
    chain_version: int | None  # None: no history at all
    chain_state: str | None


def unmatched_events(session: Session, batch: int = 2000) -> list[Unmatched]:
    """Events whose current version and state no audit chain accounts for: every move and edit
    writes a line carrying the event's new version and state, so an event's chain ends on them
    (an event just created, planned at version 1, has none yet).
    A history deleted whole (or cut short and re-linked) leaves no broken link to find, only
    this mismatch."""
    log = _table(TransitionLog)
    last = (  # the event's own lines (a feedback item's moves carry the item's state)
        sa.select(log.c.event_id, sa.func.max(log.c.seq).label("seq"))
        .where(log.c.feedback_item_id.is_(None))
        .group_by(log.c.event_id)
        .subquery()
    )
    tail = (
        sa.select(log.c.event_id, log.c.version, log.c.to_state)
        .join(last, sa.and_(last.c.event_id == log.c.event_id, last.c.seq == log.c.seq))
        .subquery()
    )
    stmt = (
        sa.select(col(Event.id), col(Event.version), col(Event.state), tail.c.version,
                  tail.c.to_state)
        .outerjoin(tail, tail.c.event_id == col(Event.id))
        .where(
            sa.or_(
                # No history is right only for an event as created: planned, version 1.
                sa.and_(
                    tail.c.event_id.is_(None),
                    sa.or_(col(Event.version) != 1, col(Event.state) != CREATED_STATE),
                ),
                tail.c.version != col(Event.version),
                tail.c.to_state != col(Event.state),
            )
        )
        .order_by(col(Event.id))
    )  # fmt: skip
    rows = session.connection().execute(stmt.execution_options(yield_per=batch))
    return [Unmatched(int(r[0]), int(r[1]), str(r[2]), r[3], r[4]) for r in rows]
