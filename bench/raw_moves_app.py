"""The ceiling for moves: a minimal ASGI app doing a move's writes in raw SQL, nothing else.

    POST /raw/events/{id}/move   {"expected_version": 3, "date": "2026-12-30"}

One transaction: SELECT … FOR UPDATE the event, check the version, UPDATE the event (dates,
version + 1), INSERT the audit line (transition_log, chained as the service chains it: the
chain's advisory lock, its last hash, sha256), INSERT an outbox row, COMMIT; answers
{"version": new}. No auth, no ORM, no framework: async psycopg with a small connection pool per
process, under the same uvicorn[standard] (uvloop, httptools) and worker count as the real API.
Run by bench/moves.py as `uvicorn raw_moves_app:app --app-dir bench --workers N`.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from models import TransitionLog  # noqa: E402 - the audit chain's digest, as the service's
from workflows.audit import _LOCK_KEYS, GENESIS, row_digest  # noqa: E402

DSN = os.environ["BENCH_RAW_DSN"]
POOL_SIZE = int(os.environ.get("BENCH_RAW_POOL", "10"))
PATH = re.compile(r"^/raw/events/(\d+)/move$")

_pool: asyncio.Queue[psycopg.AsyncConnection[Any]] | None = None
_pool_lock = asyncio.Lock()


async def _connections() -> asyncio.Queue[psycopg.AsyncConnection[Any]]:
    global _pool
    async with _pool_lock:
        if _pool is None:
            queue: asyncio.Queue[psycopg.AsyncConnection[Any]] = asyncio.Queue()
            for _ in range(POOL_SIZE):
                queue.put_nowait(await psycopg.AsyncConnection.connect(DSN))
            _pool = queue
    return _pool


async def move(event_id: int, expected: int, new_day: date) -> tuple[int, dict[str, Any]]:
    """The move's writes in one transaction."""
    pool = await _connections()
    conn = await pool.get()
    try:
        async with conn.transaction():
            cur = await conn.execute(
                "SELECT version, state, date_earliest, date_latest FROM event "
                "WHERE id = %s FOR UPDATE",
                (event_id,),
            )
            row = await cur.fetchone()
            if row is None:
                return 404, {"error": "event_not_found"}
            version, state, old_earliest, old_latest = row
            if version != expected:
                return 409, {"error": "stale_version", "current_version": version}
            await conn.execute(
                "UPDATE event SET date_earliest = %s, date_latest = %s, version = version + 1, "
                "updated_at = now() WHERE id = %s AND version = %s",
                (new_day, new_day, event_id, version),
            )
            audit = {
                "old_earliest": old_earliest.isoformat(),
                "old_latest": old_latest.isoformat(),
                "new_earliest": new_day.isoformat(),
                "new_latest": new_day.isoformat(),
            }
            line = {
                "event_id": event_id, "feedback_item_id": None, "trigger": "reschedule",
                "from_state": state, "to_state": state, "version": version + 1, "actor_id": None,
                "actor_name": "raw", "at": datetime.now(UTC), "reason": "bench", "data": audit,
            }  # fmt: skip
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEYS["transition_log"],))
            cur = await conn.execute(
                "SELECT seq, row_hash FROM transition_log ORDER BY seq DESC LIMIT 1"
            )
            tail = await cur.fetchone()
            line["seq"], prev = (tail[0] + 1, tail[1]) if tail else (1, GENESIS)
            digest = row_digest(TransitionLog.__table__, line, prev)  # type: ignore[attr-defined]
            await conn.execute(
                "INSERT INTO transition_log (event_id, trigger, from_state, to_state, version, "
                "actor_id, actor_name, at, reason, data, seq, prev_hash, row_hash) "
                "VALUES (%s, 'reschedule', %s, %s, %s, NULL, 'raw', %s, %s, %s, %s, %s, %s)",
                (
                    event_id, state, state, version + 1, line["at"], "bench", json.dumps(audit),
                    line["seq"], prev, digest,
                ),
            )  # fmt: skip
            await conn.execute(
                "INSERT INTO outbox (actor, args, created_at) VALUES ('raw_bench', %s, now())",
                (json.dumps([event_id]),),
            )
        return 200, {"id": event_id, "version": version + 1}
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
        status, payload = 404, {"error": "not_found"}
    else:
        body = json.loads(await _body(receive))
        status, payload = await move(
            int(match.group(1)), int(body["expected_version"]), date.fromisoformat(body["date"])
        )
    data = json.dumps(payload).encode()
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
