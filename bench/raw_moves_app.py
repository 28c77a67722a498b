"""The limit for moves: the same work as the API's `reschedule`, in raw SQL, with nothing else.

    POST /raw/events/{id}/move   Authorization: Bearer <token>
                                 {"expected_version": 3, "date": "2026-12-30", "reason": "…"}

What it does per move is what `POST /api/v1/events/{id}/transitions` (trigger `reschedule`)
does on PostgreSQL, statement for statement, in one transaction (bench/README.md lists both):

1. the bearer token's account: SELECT api_token JOIN account by the token's SHA-256, checked
   (revoked, expired, account disabled), the account's role and unit;
2. the event, its unit's name, (3.) its campaign's rules (the escalation ladder) and window and
   (5.) the working-day calendar's revision, in one statement, the event locked
   (`SELECT … FOR UPDATE OF event`), scoped to the caller's unit (404 otherwise); the caller may
   write (viewers may not);
4. the move's checks in the service's order: version (409 `stale_version`), state (planned or
   invited), then the guards — a reason, the new date not before today, inside the campaign's
   window. `reschedule`'s guards count nothing (the invite and hold guards would count
   invitees), so nothing is counted;
5. the working-day calendar (rebuilt only when its revision changed, as the service caches it)
   and the hold deadline's escalation ladder from the campaign's rules;
6. the hold deadline's timers created or moved to the new ladder (and pending again) in one
   `INSERT … ON CONFLICT DO UPDATE`; the filings' timers (issue 30; the benchmark's campaign
   asks none) cancelled if pending, in one `UPDATE`;
7. UPDATE event: dates, date_text, tentative, escalation level, version + 1, updated_at,
   `WHERE version = expected` (the service's version counter);
8. the audit line, hash-chained as workflows/kernel/audit.py chains it: the event's chain lock
   and the chain's last (seq, row_hash) in one call (`openday_audit_tails`), sha256 (`row_digest`,
   the service's own function), INSERT;
9. NOTIFY the schedulers only when a moved timer falls due within the wake horizon (as the
   service's wake hook; a date 30 days out sends none), and no outbox row — a reschedule owes no
   message;
10. COMMIT, and answer 200 with the event and the move as JSON (the fields the API answers).

No framework, no ORM, no pydantic: async psycopg, a small pool of connections per process,
under the same uvicorn[standard] (uvloop, httptools) and worker count as the real API. Pure
domain arithmetic (the working-day calendar, the audit digest) is the service's own code.
Run by bench/moves.py as `uvicorn raw_moves_app:app --app-dir bench --workers N`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from models import TransitionLog  # noqa: E402 - the audit chain's digest, as the service's
from workflows.filing.timers import RULES as FILING_RULES  # noqa: E402
from workflows.kernel.audit import GENESIS, TAILS_FUNCTION, row_digest  # noqa: E402
from workflows.workdays.days import DayRule, WorkdayCalendar  # noqa: E402

DSN = os.environ["BENCH_RAW_DSN"]
POOL_SIZE = int(os.environ.get("BENCH_RAW_POOL", "10"))
PATH = re.compile(r"^/raw/events/(\d+)/move$")
LOCAL = ZoneInfo("Asia/Shanghai")
WAKE_HORIZON = timedelta(seconds=60)
ALL_UNITS = ("admin", "supervisor", "viewer")
TRANSITION_LOG = TransitionLog.__table__  # type: ignore[attr-defined]
STATE_LABELS = {"planned": "已计划", "invited": "已邀请"}

_pool: asyncio.Queue[psycopg.AsyncConnection[Any]] | None = None
_pool_lock = asyncio.Lock()
_calendar: tuple[tuple[Any, ...], WorkdayCalendar] | None = None


class Refused(Exception):
    """An answer other than 200."""

    def __init__(self, status: int, code: str, **details: Any) -> None:
        super().__init__(code)
        self.status, self.body = status, {"error": {"code": code, "details": details}}


async def _connections() -> asyncio.Queue[psycopg.AsyncConnection[Any]]:
    global _pool
    async with _pool_lock:
        if _pool is None:
            queue: asyncio.Queue[psycopg.AsyncConnection[Any]] = asyncio.Queue()
            for _ in range(POOL_SIZE):
                queue.put_nowait(await psycopg.AsyncConnection.connect(DSN))
            _pool = queue
    return _pool


def end_of_local_day(day: date) -> datetime:
    """Local midnight after `day`, in UTC (a deadline's moment)."""
    return datetime.combine(day + timedelta(days=1), time(0), LOCAL).astimezone(UTC)


async def calendar(
    conn: psycopg.AsyncConnection[Any], revision: tuple[Any, ...]
) -> WorkdayCalendar:
    """The working-day calendar, rebuilt only when its revision changed (as the service)."""
    global _calendar
    if _calendar is None or _calendar[0] != revision:
        cur = await conn.execute("SELECT day, workday, source, reason FROM calendar_day")
        days = [DayRule(*r) for r in await cur.fetchall()]
        cur = await conn.execute("SELECT year FROM calendar_year")
        years = [r[0] for r in await cur.fetchall()]
        _calendar = (revision, WorkdayCalendar(loaded_days=days, complete_years=years))
    return _calendar[1]


async def move(
    token: str, event_id: int, expected: int, new_day: date, reason: str
) -> dict[str, Any]:
    """The reschedule move, in one transaction."""
    now = datetime.now(UTC)
    today = now.astimezone(LOCAL).date()
    pool = await _connections()
    conn = await pool.get()
    try:
        async with conn.transaction():
            # 1. the caller
            cur = await conn.execute(
                "SELECT a.id, a.username, a.role, a.unit_id, a.is_active, t.revoked_at, "
                "t.expires_at FROM api_token t JOIN account a ON a.id = t.user_id "
                "WHERE t.token_hash = %s",
                (hashlib.sha256(token.encode()).hexdigest(),),
            )
            who = await cur.fetchone()
            if who is None or not who[4] or who[5] is not None or (who[6] and who[6] <= now):
                raise Refused(401, "invalid_token")
            actor_id, actor_name, role, actor_unit = who[:4]
            # 2. the event, locked, scoped, with its unit's name, (3.) its campaign and (5.) the
            # calendar's revision
            cur = await conn.execute(
                "SELECT e.id, e.campaign_id, e.unit_id, e.state, e.version, e.date_earliest, "
                "e.date_latest, e.theme, e.seq, e.location, e.start_time, e.end_time, e.forms, "
                "e.public_places, e.held_on, e.summary_due_on, e.last_notified_at, "
                "e.created_at, u.name, c.rules, c.starts_on, c.ends_on, "
                "(SELECT count(*) FROM calendar_day), (SELECT max(loaded_at) FROM calendar_day), "
                "(SELECT count(*) FROM calendar_year), (SELECT max(loaded_at) FROM calendar_year) "
                "FROM event e JOIN unit u ON u.id = e.unit_id "
                "JOIN campaign c ON c.id = e.campaign_id WHERE e.id = %s FOR UPDATE OF e",
                (event_id,),
            )
            ev = await cur.fetchone()
            if ev is None or (role not in ALL_UNITS and ev[2] != actor_unit):
                raise Refused(404, "event_not_found")
            if role == "viewer":
                raise Refused(403, "read_only")
            (_, campaign_id, unit_id, state, version, old_earliest, old_latest) = ev[:7]
            rules, starts_on, ends_on = ev[19:22]
            # 4. version, state, guards
            if version != expected:
                raise Refused(409, "stale_version", current_version=version)
            if state not in ("planned", "invited"):
                raise Refused(409, "move_not_allowed", state=state)
            violations = []
            if not reason.strip():
                violations.append("reason_required")
            if new_day < today:
                violations.append("reschedule_date_in_past")
            if not (starts_on <= new_day and new_day <= ends_on) and role not in (
                "admin",
                "supervisor",
            ):
                violations.append("outside_campaign_window")
            if violations:
                raise Refused(409, violations[0], violations=violations)
            # 5. the hold deadline's ladder
            cal = await calendar(conn, tuple(ev[22:26]))
            ladder = {}
            for rung in rules.get("escalations", []):
                if rung["after_workdays"]:
                    later = cal.add_workdays(new_day, rung["after_workdays"])
                    ladder[rung["level"]] = (end_of_local_day(later.day), later.provisional)
                else:
                    ladder[rung["level"]] = (end_of_local_day(new_day), False)
            # 6. the timers: created or moved (pending again) in one upsert
            moved = [(level, due, prov) for level, (due, prov) in ladder.items()]
            await conn.cursor().executemany(
                "INSERT INTO timer (rule, kind, level, subject_type, subject_id, event_id, "
                "deadline_on, due_at, provisional, state, created_at) "
                "VALUES ('event_hold', 'escalation', %s, 'event', %s, %s, %s, %s, %s, "
                "'pending', %s) ON CONFLICT (subject_type, subject_id, rule, kind, level) "
                "DO UPDATE SET state = 'pending', fired_at = NULL, handled_at = NULL, "
                "due_at = EXCLUDED.due_at, deadline_on = EXCLUDED.deadline_on, "
                "provisional = EXCLUDED.provisional",
                [(lv, event_id, event_id, new_day, due, prov, now) for lv, due, prov in moved],
            )
            # 6b. the filings' timers (issue 30), none asked by the benchmark's campaign:
            # cancelled if pending, in one UPDATE, as the service's filing.arm does
            await conn.execute(
                "UPDATE timer SET state = 'cancelled' WHERE subject_type = 'event' "
                "AND subject_id = %s AND rule = ANY(%s) AND state = 'pending'",
                (event_id, list(FILING_RULES)),
            )
            # 7. the event
            cur = await conn.execute(
                "UPDATE event SET date_earliest = %s, date_latest = %s, date_text = NULL, "
                "tentative = false, escalation_level = 0, version = version + 1, "
                "updated_at = %s WHERE id = %s AND version = %s",
                (new_day, new_day, now, event_id, version),
            )
            if cur.rowcount != 1:
                raise Refused(409, "stale_version")
            # 8. the audit line, chained
            line = {
                "event_id": event_id, "feedback_item_id": None, "trigger": "reschedule",
                "from_state": state, "to_state": state, "version": version + 1,
                "actor_id": actor_id, "actor_name": actor_name, "at": now,
                "reason": reason.strip(),
                "data": {
                    "old_earliest": old_earliest.isoformat(),
                    "old_latest": old_latest.isoformat(),
                    "new_earliest": new_day.isoformat(),
                    "new_latest": new_day.isoformat(),
                },
            }  # fmt: skip
            cur = await conn.execute(  # the event's chain lock and its tail, one round trip
                f"SELECT tail_seq, tail_hash FROM {TAILS_FUNCTION}(ARRAY[%s]::integer[])",
                (event_id,),
            )
            tail = await cur.fetchone()
            line["seq"], prev = (tail[0] + 1, tail[1]) if tail else (1, GENESIS)
            digest = row_digest(TRANSITION_LOG, line, prev)
            cur = await conn.execute(
                "INSERT INTO transition_log (event_id, trigger, from_state, to_state, version, "
                "actor_id, actor_name, at, reason, data, seq, prev_hash, row_hash) "
                "VALUES (%s, 'reschedule', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "RETURNING id",
                (
                    event_id, state, state, version + 1, actor_id, actor_name, now,
                    line["reason"], json.dumps(line["data"]), line["seq"], prev, digest,
                ),
            )  # fmt: skip
            log_id = (await cur.fetchone())[0]  # type: ignore[index]
            # 9. wake the schedulers only for a timer due soon
            if any(due <= now + WAKE_HORIZON for _, due, _ in moved):
                await conn.execute("NOTIFY openday_timers")
        # 10. the answer
        event = {
            "id": event_id, "campaign_id": campaign_id, "unit_id": unit_id, "unit_name": ev[18],
            "seq": ev[8], "theme": ev[7], "date_earliest": new_day.isoformat(),
            "date_latest": new_day.isoformat(), "date_text": None, "tentative": False,
            "location": ev[9], "start_time": ev[10] and ev[10].isoformat(),
            "end_time": ev[11] and ev[11].isoformat(), "forms": ev[12],
            "public_places": ev[13], "state": state, "state_label": STATE_LABELS.get(state, state),
            "version": version + 1, "held_on": ev[14] and ev[14].isoformat(),
            "summary_due_on": ev[15] and ev[15].isoformat(), "escalation_level": 0,
            "last_notified_at": ev[16] and ev[16].isoformat(),
            "allowed_triggers": ["invite", "reschedule", "cancel"] if state == "planned"
            else ["hold", "reschedule", "cancel"],
            "created_at": ev[17].isoformat(), "updated_at": now.isoformat(),
        }  # fmt: skip
        entry = {
            "id": log_id, "trigger": "reschedule", "from_state": state, "to_state": state,
            "version": version + 1, "actor_id": actor_id, "actor_name": actor_name,
            "at": now.isoformat(), "reason": line["reason"], "data": line["data"],
        }  # fmt: skip
        return {"event": event, "move": entry}
    finally:
        pool.put_nowait(conn)


async def _body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The ASGI entry point."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    match = PATH.match(scope["path"])
    if scope["path"] == "/healthz":
        status, payload = 200, {"status": "ok"}
    elif match is None or scope["method"] != "POST":
        status, payload = 404, {"error": {"code": "not_found"}}
    else:
        headers = dict(scope["headers"])
        scheme, _, token = headers.get(b"authorization", b"").decode().partition(" ")
        try:
            if scheme.lower() != "bearer" or not token:
                raise Refused(401, "not_authenticated")
            body = json.loads(await _body(receive))
            status, payload = (
                200,
                await move(
                    token.strip(),
                    int(match.group(1)),
                    int(body["expected_version"]),
                    date.fromisoformat(body["date"]),
                    str(body.get("reason") or ""),
                ),
            )
        except Refused as refused:
            status, payload = refused.status, refused.body
    data = json.dumps(payload, ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})
