"""Moves through the real API against a raw-SQL endpoint doing the same writes.

Run from the project root:

    .venv/bin/python bench/moves.py [--clients 16] [--workers 2] [--seconds 20] [--warmup 5]

A private PostgreSQL database gets a campaign, 16 units with one unit_staff account each, and
`--events-per-client` planned events per client with a valid invitee list (15 people, 5
citizens) and their two hold-deadline timers. Each client owns its unit's events and moves them
one after another with `reschedule` (reason, a new date 30 or 31 days ahead, alternating), keeping
each event's version from the previous answer — every request is a successful move.

Targets, measured in turn on the same events, same client, same worker count:

- raw SQL: bench/raw_moves_app.py under uvicorn: the same work as the API's reschedule (token's
  account, event + unit locked, campaign rules and window, the guards, calendar revision, timers
  read and moved, version-checked UPDATE, hash-chained audit line, COMMIT) — no ORM, no
  framework (bench/README.md lists both side by side);
- API: `openday api --workers N`: bearer auth, unit scoping, version check, guards, the
  transitions machine, timers moved in the same transaction, NOTIFY, audit line, response;
- API under granian: the same app (`api:app`) served by granian (Rust HTTP, `--workers N`)
  instead of uvicorn, to compare servers in the same run (issue 32); shown, not judged;
- API + scheduler: the same with `openday scheduler` running, LISTENing for the NOTIFY every
  move sends (as in production).

The load generator is one asyncio process with a lean keep-alive HTTP/1.1 client (bench/_common)
so that it costs little of the 2 CPUs. Prints moves/s, p50/p99 latency, CPU used by each side,
the API's rate as a share of the raw endpoint's, and the peak RSS of the API and scheduler.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from _common import (  # first: puts the project root on sys.path
    DEFAULT_PG,
    DEFAULT_REDIS,
    OPENDAY,
    Events,
    Peak,
    Proc,
    Run,
    foreign_processes,
    free_port,
    fresh_database,
    libpq_dsn,
    load,
    machine,
    pct,
    peak_rss,
    print_table,
    private_redis,
    server_versions,
    service_env,
    spawn,
    stop,
    verdict,
    wait_http,
)
from _seed import connect, seed_events, seed_hold_timers, seed_invitees, seed_world

from workflows.kernel.clock import SystemClock, local_date

RATE_SHARE = 0.75  # issue 32: moves through the API ≥ 75% of the raw endpoint's, same run
P99_TIMES = 1.5  # and their p99 ≤ 1.5 × the raw endpoint's p99


def main(argv: list[str] | None = None) -> int:
    """Seed, start the servers, load each target, print one table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_PG, help="PostgreSQL server URL")
    parser.add_argument("--redis", default=DEFAULT_REDIS, help="Redis server URL (no db)")
    parser.add_argument("--redis-db", type=int, default=9, help="an empty Redis db number (9)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes (2)")
    parser.add_argument("--events-per-client", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds (20)")
    parser.add_argument("--warmup", type=float, default=5.0, help="warm-up seconds (5)")
    parser.add_argument(
        "--targets",
        default="raw,api,granian,api+scheduler",
        help="which to load, in order (raw,api,granian,api+scheduler)",
    )
    args = parser.parse_args(argv)
    others = foreign_processes([])
    for line in others:
        print(f"warning: busy machine, another process runs: {line}", file=sys.stderr)
    targets = set(args.targets.split(","))

    today = local_date(SystemClock().now())
    day1, day2 = today + timedelta(days=30), today + timedelta(days=31)
    with (
        tempfile.TemporaryDirectory(prefix="openday-bench-moves-") as tmp,
        fresh_database(args.database_url) as url,
        private_redis(args.redis, args.redis_db) as broker_url,
    ):
        logdir = Path(tmp)
        t0 = time.perf_counter()
        world = seed_world(url, args.clients)
        owners_ids: list[list[int]] = []
        with connect(url) as conn:
            first, last = seed_events(conn, world, args.clients * args.events_per_client, day=day1)
            seed_invitees(conn, first, last)
            seed_hold_timers(conn, first, last)
            conn.execute("ANALYZE")
            by_unit: dict[int, list[int]] = {}
            for eid, uid in conn.execute("SELECT id, unit_id FROM event ORDER BY id").fetchall():
                by_unit.setdefault(uid, []).append(eid)
        for uid in world.unit_ids:
            owners_ids.append(by_unit[uid])
        all_ids = [e for ids in owners_ids for e in ids]
        events = Events(all_ids, day1, day2)
        seed_seconds = time.perf_counter() - t0

        env = service_env(url, broker_url, logdir / "var")
        raw_port, api_port = free_port(), free_port()
        raw = spawn(
            "raw",
            [  # served as the API is (serving.serve: a socket per worker), without access log
                sys.executable,
                "-c",
                "import sys; sys.path.insert(0, 'bench'); from serving import serve; "
                f"serve('raw_moves_app:app', '127.0.0.1', {raw_port}, {args.workers}, "
                "access_log=False, log_level='warning')",
            ],
            {**env, "BENCH_RAW_DSN": libpq_dsn(url)},
            logdir,
        )
        api = spawn(
            "api",
            [OPENDAY, "api", "--port", str(api_port), "--workers", str(args.workers)],
            env,
            logdir,
        )
        granian: Proc | None = None
        if "granian" in targets:  # the same app under granian (issue 32: servers compared)
            granian_port = free_port()
            granian = spawn(
                "granian",
                [str(Path(sys.executable).parent / "granian"), "--interface", "asgi",
                 "--workers", str(args.workers), "--host", "127.0.0.1",
                 "--port", str(granian_port), "--loop", "uvloop", "--no-ws",
                 "--log-level", "warning", "--no-access-log", "api:app"],
                env,
                logdir,
            )  # fmt: skip
        scheduler: Proc | None = None
        runs: list[Run] = []
        peaks: list[Peak] = []
        try:
            wait_http(f"http://127.0.0.1:{raw_port}/healthz", raw, listeners=args.workers)
            wait_http(f"http://127.0.0.1:{api_port}/readyz", api, listeners=args.workers)
            raw_owners = [(world.staff_tokens[uid], by_unit[uid]) for uid in world.unit_ids]
            api_owners = [(world.staff_tokens[uid], by_unit[uid]) for uid in world.unit_ids]
            if "raw" in targets:
                runs.append(
                    asyncio.run(
                        load("raw SQL endpoint", "raw", raw_port, raw_owners, events,
                             args.warmup, args.seconds, [raw])
                    )
                )  # fmt: skip
            if "api" in targets:
                runs.append(
                    asyncio.run(
                        load("API (openday api)", "api", api_port, api_owners, events,
                             args.warmup, args.seconds, [api])
                    )
                )  # fmt: skip
            if granian is not None:
                wait_http(f"http://127.0.0.1:{granian_port}/readyz", granian, listeners=1)
                runs.append(
                    asyncio.run(
                        load("API under granian", "api", granian_port, api_owners, events,
                             args.warmup, args.seconds, [granian])
                    )
                )  # fmt: skip
            scheduler = spawn("scheduler", [OPENDAY, "scheduler"], env, logdir)
            time.sleep(2)
            if not scheduler.alive():
                raise SystemExit(f"scheduler exited:\n{scheduler.tail()}")
            if "api+scheduler" in targets:
                runs.append(
                    asyncio.run(
                        load("API + scheduler LISTENing", "api", api_port, api_owners, events,
                             args.warmup, args.seconds, [api, scheduler])
                    )
                )  # fmt: skip
            # Only the processes of the targets that ran (the others idled, started or not).
            if targets & {"api", "api+scheduler"}:
                peaks.append(peak_rss("API", api))
            if "api+scheduler" in targets:
                peaks.append(peak_rss("scheduler", scheduler))
            if granian is not None:
                peaks.append(peak_rss("API under granian", granian))
            if "raw" in targets:
                peaks.append(peak_rss("raw endpoint", raw))
        finally:
            for proc in (scheduler, granian, api, raw):
                if proc is not None:
                    stop(proc)
        with connect(url) as conn:
            logged = conn.execute(
                "SELECT count(*) FROM transition_log WHERE trigger = 'reschedule'"
            ).fetchone()[0]  # type: ignore[index]
        versions = sum(v - 1 for v in events.version.values())
        if logged != versions:
            raise SystemExit(f"audit lines {logged} != version bumps {versions}")
        versions_text = server_versions(url, broker_url)

    base = next((r for r in runs if r.label.startswith("raw")), None)
    columns = ["target", "moves/s", "p50 ms", "p99 ms", "errors", "service CPU", "postgres CPU",
               "client CPU", "other CPU", "vs raw"]  # fmt: skip
    rows = []
    for r in runs:
        lat = [x * 1000 for x in r.latencies]
        rows.append(
            [
                r.label,
                f"{r.rate:,.0f}",
                f"{pct(lat, 50):.1f}",
                f"{pct(lat, 99):.1f}",
                str(r.errors),
                f"{r.server_cpu / r.seconds:.2f}",
                f"{r.postgres_cpu / r.seconds:.2f}",
                f"{r.client_cpu / r.seconds:.2f}",
                f"{r.machine_cpu - (r.server_cpu + r.postgres_cpu + r.client_cpu) / r.seconds:.2f}",
                f"{r.rate / base.rate:.0%}" if base and base.rate else "-",
            ]
        )
    # The targets judge the server the service runs (uvicorn); granian's row is the comparison.
    api_runs = [r for r in runs if r is not base and "granian" not in r.label]
    worst_ratio = min(r.rate / base.rate for r in api_runs) if base and api_runs else 0.0
    worst_p99 = max((pct([x * 1000 for x in r.latencies], 99) for r in api_runs), default=0.0)
    for r in runs:
        for sample in r.error_samples:
            print(f"{r.label}: {sample}", file=sys.stderr)
    goals = []  # only what the targets that ran can tell (issue 32: same-run ratios)
    if base and api_runs:
        base_p99 = pct([x * 1000 for x in base.latencies], 99)
        goals.append(
            f"API ≥ {RATE_SHARE:.0%} of raw: {worst_ratio:.0%} ({min(r.rate for r in api_runs):.0f}"
            f" vs {base.rate:.0f} moves/s) → {verdict(worst_ratio >= RATE_SHARE)}"
        )
        goals.append(
            f"API p99 ≤ {P99_TIMES:g} × raw p99: {worst_p99 / base_p99:.2f}× ({worst_p99:.1f} vs "
            f"{base_p99:.1f} ms) → {verdict(worst_p99 <= P99_TIMES * base_p99)}"
        )
    caption = (
        f"{args.clients} clients, uvicorn --workers {args.workers}, {args.seconds:.0f} s measured "
        f"after {args.warmup:.0f} s warm-up; {len(all_ids)} events seeded in {seed_seconds:.1f} s; "
        f"CPU columns in cores (2 = the whole machine; other = the rest of the machine's busy "
        f"time: anything but a few hundredths means the run was disturbed); load average at "
        f"start {', '.join(r.loadavg for r in runs)}\n"
        + (f"target {'; '.join(goals)}\n" if goals else "")
        + "\n".join(f"peak RSS {p.name}: {p.describe()}" for p in peaks)
        + f"\n{machine()}; {versions_text}; other service/test processes at start: {len(others)}"
    )
    print_table("moves: reschedule through the API vs raw SQL", columns, rows, caption)
    return 0


if __name__ == "__main__":
    sys.exit(main())
