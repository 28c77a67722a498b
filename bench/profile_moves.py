"""Where a move's CPU goes: reschedule moves through the real ASGI app, in one process, profiled.

    .venv/bin/python bench/profile_moves.py [--moves 2000] [--html profile.html]

A private PostgreSQL database is seeded as bench/moves.py seeds it (one unit, its staff token,
planned events with their invitees and hold timers). The app (`api.create_app`) is called
directly as uvicorn calls it — an ASGI scope, a receive and a send — so nothing but the service
is measured: no HTTP parsing, no sockets. Prints the SQL statements of one move, the CPU per move
(process time / moves, single client, so no contention) and pyinstrument's call tree of the
measured moves (`--html` writes the interactive view too).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from _common import DEFAULT_PG, fresh_database  # first: puts the project root on sys.path
from _seed import connect, seed_events, seed_hold_timers, seed_invitees, seed_world

from workflows.clock import SystemClock, local_date


async def call(app: Any, method: str, path: str, token: str, body: Any) -> tuple[int, bytes]:
    """One request straight into the ASGI app."""
    data = json.dumps(body).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"bench"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(data)).encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    sent = False
    out: dict[str, Any] = {"body": b""}

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": data, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
        elif message["type"] == "http.response.body":
            out["body"] += message.get("body", b"")

    await app(scope, receive, send)
    return out["status"], out["body"]


def main(argv: list[str] | None = None) -> int:
    """Seed, warm up, count statements, profile."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_PG)
    parser.add_argument("--moves", type=int, default=2000)
    parser.add_argument("--html", help="also write pyinstrument's HTML view here")
    args = parser.parse_args(argv)

    import sqlalchemy as sa
    from pyinstrument import Profiler

    from api import create_app
    from settings import Settings, configure_logging

    today = local_date(SystemClock().now())
    days = (today + timedelta(days=30), today + timedelta(days=31))
    with fresh_database(args.database_url) as url:
        world = seed_world(url, 1)
        with connect(url) as conn:
            first, last = seed_events(conn, world, 200, day=days[0])
            seed_invitees(conn, first, last)
            seed_hold_timers(conn, first, last)
            conn.execute("ANALYZE")
        settings = Settings(database_url=url, log_format="json", log_level="WARNING")
        configure_logging(settings)
        app = create_app(settings=settings)
        token = world.staff_tokens[world.unit_ids[0]]
        ids = list(range(first, last + 1))
        version = dict.fromkeys(ids, 1)
        n = 0

        async def move_once() -> None:
            nonlocal n
            eid = ids[n % len(ids)]
            body = {
                "trigger": "reschedule",
                "expected_version": version[eid],
                "reason": "基准测试：改期",
                "data": {"date": days[(version[eid]) % 2].isoformat()},
            }
            status, payload = await call(
                app, "POST", f"/api/v1/events/{eid}/transitions", token, body
            )
            if status != 200:
                raise SystemExit(f"{status} {payload[:300]!r}")
            version[eid] = json.loads(payload)["event"]["version"]
            n += 1

        async def run(count: int) -> None:
            for _ in range(count):
                await move_once()

        loop = asyncio.new_event_loop()
        loop.run_until_complete(run(300))  # warm-up: caches, pool, code paths
        statements: list[str] = []

        def log_sql(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            statements.append(" ".join(statement.split())[:150])

        engine = app.state.engine
        sa.event.listen(engine, "before_cursor_execute", log_sql)
        loop.run_until_complete(run(1))
        sa.event.remove(engine, "before_cursor_execute", log_sql)
        print(f"SQL statements of one move ({len(statements)}, plus BEGIN/COMMIT):")
        for s in statements:
            print("  ", s)
        c0, t0 = time.process_time(), time.perf_counter()
        loop.run_until_complete(run(args.moves))
        cpu, wall = time.process_time() - c0, time.perf_counter() - t0
        print(
            f"\n{args.moves} moves, one at a time, no profiler: {cpu / args.moves * 1000:.2f} ms "
            f"CPU (all threads) and {wall / args.moves * 1000:.2f} ms wall per move"
        )
        # Sync routes and dependencies run in anyio's worker threads, which a sampling profiler
        # of the main thread does not see: run them inline while profiling.
        import anyio.to_thread

        real_run_sync = anyio.to_thread.run_sync

        async def inline(func: Any, *fargs: Any, **_: Any) -> Any:
            return func(*fargs)

        anyio.to_thread.run_sync = inline  # type: ignore[assignment]
        profiler = Profiler(interval=0.0005, async_mode="disabled")
        c0 = time.process_time()
        profiler.start()
        loop.run_until_complete(run(args.moves))
        profiler.stop()
        anyio.to_thread.run_sync = real_run_sync
        inline_cpu = time.process_time() - c0
        loop.close()
        print(
            f"the same with thread hops inlined, profiled: {inline_cpu / args.moves * 1000:.2f} ms "
            "CPU per move (profiler overhead included)\n"
        )
        print(profiler.output_text(unicode=True, color=False, show_all=False))
        if args.html:
            Path(args.html).write_text(profiler.output_html())
        app.state.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
