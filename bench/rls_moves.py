"""Row-level security's cost on moves (issue 28): the move benchmark against two APIs on the same
database in the same run, one connecting as the runtime role (RLS enforced) and one as the
owner (the postgres superuser, which bypasses every policy).

Run from the project root, on a quiet machine:

    .venv/bin/python bench/rls_moves.py [--clients 16] [--workers 2] [--seconds 10] [--rounds 3]
    .venv/bin/python bench/rls_moves.py --clients 2 --seconds 1 --warmup 0.5 --rounds 1  # smoke

A private database is seeded as bench/moves.py seeds it (`--clients` units with one staff
account each, `--events-per-client` planned events with their invitees and hold timers). A
runtime role is created as docs/tenancy.md creates it (LOGIN NOSUPERUSER NOBYPASSRLS, DML on
every table, owning nothing; dropped at the end) and checked: no SUPERUSER or BYPASSRLS, the
event table's row-level security enabled and forced, and no event row visible to it with no
district set. Two `openday api --workers N` serve the database at once, one with
`OPENDAY_DATABASE_URL` the runtime role (`OPENDAY_MIGRATE_DATABASE_URL` the owner), one as the
owner. bench/moves.py's clients (reschedule, each client its own unit's events) load them in
turn, owner then RLS, `--rounds` times (3), each for `--warmup` + `--seconds`: alternating
rounds so that a drift in the machine's speed falls on both.

Target (issue 28): RLS on costs ≤ 10% of the moves/s measured without it, the median round of
each, in the same run; also printed: p50/p99 of each and every round's figures with their
spread. Exit 1 on a miss.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from _common import (  # first: puts the project root on sys.path
    DEFAULT_PG,
    DEFAULT_REDIS,
    OPENDAY,
    Events,
    Run,
    foreign_processes,
    free_port,
    fresh_database,
    load,
    machine,
    pct,
    peak_rss,
    print_table,
    private_redis,
    server_versions,
    service_env,
    spawn,
    spread,
    stop,
    verdict,
    wait_http,
)
from _seed import connect, seed_events, seed_hold_timers, seed_invitees, seed_world
from sqlalchemy.engine import make_url

from workflows.kernel.clock import SystemClock, local_date

RLS_COST = 0.10  # issue 28: RLS on versus off costs ≤ 10% on the move benchmark, same run


@contextmanager
def runtime_role(owner_url: str) -> Iterator[str]:
    """A login role like the service's (docs/tenancy.md), its URL; dropped at the end."""
    role = f"openday_bench_rt_{uuid.uuid4().hex[:8]}"
    owner = sa.create_engine(owner_url)
    try:
        with owner.begin() as conn:
            conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS")
            conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA public TO {role}")
            conn.exec_driver_sql(
                f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}"
            )
            conn.exec_driver_sql(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}")
        yield make_url(owner_url).set(username=role).render_as_string(hide_password=False)
    finally:
        with owner.begin() as conn:
            conn.exec_driver_sql(f"DROP OWNED BY {role}")
            conn.exec_driver_sql(f"DROP ROLE {role}")
        owner.dispose()


def check_enforced(role_url: str) -> str:
    """Refuse to measure unless the role is really held by row-level security; one line."""
    engine = sa.create_engine(role_url)
    try:
        with engine.connect() as conn:
            sup, bypass = conn.execute(
                sa.text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
            ).one()
            enabled, forced = conn.execute(
                sa.text(
                    "SELECT relrowsecurity, relforcerowsecurity FROM pg_class "
                    "WHERE oid = 'event'::regclass"
                )
            ).one()
            seen = conn.execute(sa.text("SELECT count(*) FROM event")).scalar_one()
    finally:
        engine.dispose()
    if sup or bypass or not enabled or not forced or seen:
        raise SystemExit(
            f"the runtime role is not held by RLS: superuser={sup} bypassrls={bypass} "
            f"event rls enabled={enabled} forced={forced}, events seen with no district={seen}"
        )
    return "runtime role: no SUPERUSER, no BYPASSRLS; event RLS enabled and forced; 0 rows unset"


def main(argv: list[str] | None = None) -> int:
    """Seed, start both APIs, load them in alternating rounds, print one table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_PG, help="PostgreSQL server URL")
    parser.add_argument("--redis", default=DEFAULT_REDIS, help="Redis server URL (no db)")
    parser.add_argument("--redis-db", type=int, default=13, help="an empty Redis db number (13)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes (2)")
    parser.add_argument("--events-per-client", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds a round")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds a round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    others = foreign_processes([])
    for line in others:
        print(f"warning: busy machine, another process runs: {line}", file=sys.stderr)

    today = local_date(SystemClock().now())
    day1, day2 = today + timedelta(days=30), today + timedelta(days=31)
    with (
        tempfile.TemporaryDirectory(prefix="openday-bench-rls-") as tmp,
        fresh_database(args.database_url) as url,
        private_redis(args.redis, args.redis_db) as broker_url,
        runtime_role(url) as role_url,
    ):
        logdir = Path(tmp)
        t0 = time.perf_counter()
        world = seed_world(url, args.clients)
        with connect(url) as conn:
            first, last = seed_events(conn, world, args.clients * args.events_per_client, day=day1)
            seed_invitees(conn, first, last)
            seed_hold_timers(conn, first, last)
            conn.execute("ANALYZE")
            by_unit: dict[int, list[int]] = {}
            for eid, uid in conn.execute("SELECT id, unit_id FROM event ORDER BY id").fetchall():
                by_unit.setdefault(uid, []).append(eid)
        events = Events([e for ids in by_unit.values() for e in ids], day1, day2)
        seed_seconds = time.perf_counter() - t0
        enforced = check_enforced(role_url)

        owner_port, rls_port = free_port(), free_port()
        owner_env = service_env(url, broker_url, logdir / "var-owner")
        rls_env = service_env(
            role_url,
            broker_url,
            logdir / "var-rls",
            OPENDAY_MIGRATE_DATABASE_URL=url,
            OPENDAY_ALLOW_PRIVILEGED_DB_ROLE="false",
        )
        workers = str(args.workers)
        owner_api = spawn(
            "api-owner", [OPENDAY, "api", "--port", str(owner_port), "--workers", workers],
            owner_env, logdir,
        )  # fmt: skip
        rls_api = spawn(
            "api-rls", [OPENDAY, "api", "--port", str(rls_port), "--workers", workers],
            rls_env, logdir,
        )  # fmt: skip
        owners = [(world.staff_tokens[uid], by_unit[uid]) for uid in world.unit_ids]
        runs: dict[str, list[Run]] = {"owner": [], "rls": []}
        try:
            wait_http(f"http://127.0.0.1:{owner_port}/readyz", owner_api, listeners=args.workers)
            wait_http(f"http://127.0.0.1:{rls_port}/readyz", rls_api, listeners=args.workers)
            for n in range(args.rounds):
                for key, port, proc, label in (
                    ("owner", owner_port, owner_api, "owner (superuser: RLS bypassed)"),
                    ("rls", rls_port, rls_api, "runtime role (RLS enforced)"),
                ):
                    runs[key].append(
                        asyncio.run(
                            load(f"{label}, round {n + 1}", "api", port, owners, events,
                                 args.warmup, args.seconds, [proc])
                        )
                    )  # fmt: skip
            peaks = [peak_rss("API as owner", owner_api), peak_rss("API with RLS", rls_api)]
        finally:
            stop(owner_api)
            stop(rls_api)
        versions_text = server_versions(url, broker_url)

    for group in runs.values():
        for r in group:
            for sample in r.error_samples:
                print(f"{r.label}: {sample}", file=sys.stderr)
    rows = []
    for group in runs.values():
        for r in group:
            lat = [x * 1000 for x in r.latencies]
            rows.append(
                [r.label, f"{r.rate:,.0f}", f"{pct(lat, 50):.1f}", f"{pct(lat, 99):.1f}",
                 str(r.errors), f"{r.server_cpu / r.seconds:.2f}",
                 f"{r.postgres_cpu / r.seconds:.2f}", r.loadavg]
            )  # fmt: skip
    owner_rates = [r.rate for r in runs["owner"]]
    rls_rates = [r.rate for r in runs["rls"]]
    owner_rate, rls_rate = statistics.median(owner_rates), statistics.median(rls_rates)
    cost = 1 - rls_rate / owner_rate if owner_rate else 1.0
    errors = sum(r.errors for g in runs.values() for r in g)
    met = cost <= RLS_COST and errors == 0

    def listed(values: list[float]) -> str:
        return ", ".join(f"{x:.0f}" for x in values)

    every = ", ".join(f"{1 - r / o:.0%}" for o, r in zip(owner_rates, rls_rates, strict=True))
    caption = (
        f"{args.clients} clients, uvicorn --workers {args.workers} each, {args.rounds} rounds of "
        f"{args.seconds:g} s after {args.warmup:g} s warm-up, owner then RLS; "
        f"{len(events.version)} events seeded in {seed_seconds:.1f} s; CPU in cores\n"
        f"{enforced}\n"
        f"moves/s median: owner {owner_rate:,.0f} (rounds {listed(owner_rates)}, spread "
        f"{spread(owner_rates)}), RLS {rls_rate:,.0f} (rounds {listed(rls_rates)}, spread "
        f"{spread(rls_rates)}); errors {errors}\n"
        f"target RLS on costs ≤ {RLS_COST:.0%} of moves/s: {100 * cost:.1f}% ({rls_rate:.0f} vs "
        f"{owner_rate:.0f} moves/s, median rounds, each round {every}) → {verdict(met)}\n"
        + "\n".join(f"peak RSS {p.name}: {p.describe()}" for p in peaks)
        + f"\n{machine()}; {versions_text}; other service/test processes at start: {len(others)}"
    )
    print_table(
        "RLS on versus off: reschedule moves through the API, same database, same run",
        ["round", "moves/s", "p50 ms", "p99 ms", "errors", "API CPU", "postgres CPU", "load avg"],
        rows,
        caption,
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
