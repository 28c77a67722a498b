"""Where a move's CPU goes: reschedule moves through the real ASGI app, in one process, profiled.

    .venv/bin/python bench/profile_moves.py [--moves 2000] [--html profile.html]
    .venv/bin/python bench/profile_moves.py --moves 500 --repeat 8 --no-profile
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=/tmp/cg.out \
        .venv/bin/python bench/profile_moves.py --moves 200 --callgrind

A private PostgreSQL database is seeded as bench/moves.py seeds it (one unit, its staff token,
planned events with their invitees and hold timers). The app (`api.create_app`) is called
directly as uvicorn calls it — an ASGI scope, a receive and a send — so nothing but the service
is measured: no HTTP parsing, no sockets. Prints the SQL statements of one move, the CPU per move
(process time / moves, single client, so no contention) and pyinstrument's call tree of the
measured moves (`--html` writes the interactive view too), or cProfile's costliest functions
(`--cprofile N`, CPU clock). On a shared machine CPU time swings by ±20 %: `--repeat` measures
several batches (take the least), and `--callgrind` counts the instructions of the measured moves
(valgrind reports "Collected"; divide by --moves), which repeats to within 0.3 %.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import resource
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from _common import DEFAULT_PG, fresh_database  # first: puts the project root on sys.path
from _seed import connect, seed_events, seed_hold_timers, seed_invitees, seed_world

from workflows.kernel.clock import SystemClock, local_date


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
    parser.add_argument(
        "--repeat", type=int, default=1, help="measure the CPU per move this many times"
    )
    parser.add_argument("--no-profile", action="store_true", help="measure only, no profile")
    parser.add_argument(
        "--callgrind",
        action="store_true",
        help="under valgrind --tool=callgrind --instr-atstart=no: count the moves' instructions",
    )
    parser.add_argument(
        "--cprofile",
        type=int,
        metavar="N",
        help="instead of pyinstrument's tree, cProfile's N costliest functions by own time",
    )
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
            text = " ".join(statement.split())
            # Long column lists say little: keep what is selected from, joined, filtered.
            text = re.sub(r"^SELECT (.{60}).*? FROM ", r"SELECT \1… FROM ", text)
            statements.append(text[:220])

        engine = app.state.engine
        sa.event.listen(engine, "before_cursor_execute", log_sql)
        loop.run_until_complete(run(1))
        sa.event.remove(engine, "before_cursor_execute", log_sql)
        print(f"SQL statements of one move ({len(statements)}, plus BEGIN/COMMIT):")
        for s in statements:
            print("  ", s)
        print()
        if args.callgrind:
            # Under `valgrind --tool=callgrind --instr-atstart=no`: instructions of the measured
            # moves only (deterministic where CPU time on a shared machine is not).
            import os
            import subprocess

            def instrument(on: bool) -> None:
                subprocess.run(
                    ["callgrind_control", "-i", "on" if on else "off", str(os.getpid())],
                    check=True,
                    capture_output=True,
                )

            instrument(True)
            loop.run_until_complete(run(args.moves))
            instrument(False)
            loop.close()
            app.state.engine.dispose()
            return 0
        for _ in range(args.repeat):
            r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
            loop.run_until_complete(run(args.moves))
            r1, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - t0
            user, system = r1.ru_utime - r0.ru_utime, r1.ru_stime - r0.ru_stime
            per = 1000 / args.moves
            print(
                f"{args.moves} moves, one at a time, no profiler: {(user + system) * per:.2f} ms "
                f"CPU (all threads; {user * per:.2f} user, {system * per:.2f} system) and "
                f"{wall * per:.2f} ms wall per move"
            )
        if args.no_profile:
            loop.close()
            app.state.engine.dispose()
            return 0
        # Sync routes and dependencies run in anyio's worker threads, which a sampling profiler
        # of the main thread does not see: run them inline while profiling.
        import anyio.to_thread

        real_run_sync = anyio.to_thread.run_sync

        async def inline(func: Any, *fargs: Any, **_: Any) -> Any:
            return func(*fargs)

        anyio.to_thread.run_sync = inline  # type: ignore[assignment]
        profiler = Profiler(interval=0.0005, async_mode="disabled")
        c0 = time.process_time()
        if args.cprofile:
            import cProfile
            import pstats

            cprof = cProfile.Profile(time.process_time)
            cprof.enable()
            loop.run_until_complete(run(args.moves))
            cprof.disable()
        else:
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
        if args.cprofile:
            cprof.dump_stats("/tmp/profile_moves.pstats")  # for pstats' callers/callees
            stats = pstats.Stats(cprof).sort_stats("tottime")
            stats.print_stats(args.cprofile)
            stats.sort_stats("cumulative").print_stats(args.cprofile)
        else:
            print(profiler.output_text(unicode=True, color=False, show_all=False))
        if args.html:
            Path(args.html).write_text(profiler.output_html())
        app.state.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
