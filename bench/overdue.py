"""The overdue list at scale: GET /api/v1/overdue against the bare SQL it needs.

Run from the project root:

    .venv/bin/python bench/overdue.py [--events 100000] [--items-per-event 10] [--requests 300]

A private PostgreSQL database is filled in plain SQL: `--events` events over `--units` units
(1% planned with their date passed, 1% held with the summary overdue, 10% planned for later,
the rest done) and `--items-per-event` feedback items each (1,000,000 by default): 1% open with
the answer deadline passed (received / assigned / overdue), 0.5% open and due within the
3-day window, 20% open and due later, the rest answered or closed. Then ANALYZE.

First every page's cursor is collected by walking the whole list with `after=` (supervisor: all
~15,000 rows; each of 20 units' staff: their unit's list). Then, one request at a time (latency,
not throughput), after a warm-up, each `--requests` times:

- API supervisor, cursor: `GET /api/v1/overdue?limit=50&after=C`, C any page of the whole list
  (deep pages included) — the documented way, and the target;
- API unit staff, cursor: the same for one of 20 units' staff, any page of their unit's list;
- API supervisor, offset: `?limit=50&offset=K`, K one of the first 20 pages (old clients; the
  first page, counted, is what a cursor walk starts with);
- bare page SQL: the three source queries the endpoint runs for the same cursor pages
  (feedback answers, summaries, unheld events, each after the cursor, ORDER BY deadline LIMIT
  limit+1), compiled from workflows/escalation/overdue.py and sent with psycopg — no ORM, no HTTP;
- bare counts: the three COUNT(*) queries the endpoint adds for `total` on a first page.

EXPLAIN (ANALYZE, BUFFERS) of the answers query and its count are written next to the table
(`--explain-file`, default bench/overdue-explain.txt) to show which indexes are used.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from _common import (  # first: puts the project root on sys.path
    DEFAULT_PG,
    DEFAULT_REDIS,
    OPENDAY,
    HttpConnection,
    foreign_processes,
    free_port,
    fresh_database,
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
from _seed import World, connect, rebuild_tally, seed_world
from sqlalchemy.dialects import postgresql

from workflows.escalation import overdue as overdue_list
from workflows.kernel.clock import SystemClock, local_date
from workflows.workdays.deadlines import end_of_local_day

LIMIT = 50
PAGES = 20


def seed(conn: Any, world: World, events: int, per_event: int) -> dict[str, int]:
    """Events and feedback items in bulk SQL; returns row counts by kind."""
    conn.execute(
        """
        INSERT INTO event (campaign_id, unit_id, theme, date_earliest, date_latest, tentative,
                           forms, state, version, held_on, summary_due_on, summary_due_at,
                           escalation_level, created_at, updated_at, summary_late_seconds)
        SELECT %(campaign)s, (%(units)s::int[])[1 + (g %% %(n)s)], '基准活动' || g, d, d, false,
               '[]',
               CASE WHEN f = 0 THEN 'planned'
                    WHEN f = 1 THEN 'held'
                    WHEN f BETWEEN 2 AND 11 THEN 'planned'
                    WHEN g %% 2 = 0 THEN 'summary_submitted'
                    ELSE 'spot_checked' END,
               2,
               CASE WHEN f = 1 OR f >= 12 THEN d END,
               CASE WHEN f = 1 OR f >= 12 THEN d + 3 END,
               CASE WHEN f = 1 OR f >= 12
                    THEN ((d + 4)::timestamp AT TIME ZONE 'Asia/Shanghai') END,
               0, now(), now(),
               -- a done event's summary went in on time (its first submission's lateness, as the
               -- submit_summary move keeps it; NULL would read as never submitted)
               CASE WHEN f >= 12 THEN 0 END
        FROM (
            -- f: the event's fate, a hash of g so that it does not follow the unit (g mod units)
            SELECT g, f, CASE WHEN f BETWEEN 2 AND 11 THEN current_date + 20 + (g %% 60)
                              ELSE current_date - 10 - (g %% 200) END AS d
            FROM (SELECT g, abs(hashint4(g)) %% 100 AS f
                  FROM generate_series(1, %(count)s) AS g) AS h
        ) AS s
        """,
        {
            "campaign": world.campaign_id,
            "units": world.unit_ids,
            "n": len(world.unit_ids),
            "count": events,
        },
    )
    # f = hash(k) mod 1000 picks the item's fate (uncorrelated with its event and unit): 0-9
    # overdue (1%), 10-14 due within the window (0.5%), 15-214 open and due later (20%), the
    # rest answered or closed.
    conn.execute(
        """
        INSERT INTO feedback_item (event_id, unit_id, content, state, collected_on, due_on,
                                   due_at, due_provisional, escalation_level, version,
                                   created_at, updated_at, answered_at, told_at, overdue_since)
        SELECT event_id, unit_id, '建议' || k, state, due_on - 21, due_on,
               (due_on + 1)::timestamp AT TIME ZONE 'Asia/Shanghai',
               false, CASE WHEN state = 'overdue' THEN 1 ELSE 0 END, 1, now(), now(),
               CASE WHEN state IN ('answered', 'closed') THEN now() END,
               -- told as answered, but for one answer in 100 still waiting to be told
               CASE WHEN state = 'closed' OR (state = 'answered' AND k %% 100 <> 0)
                    THEN now() END,
               CASE WHEN state = 'overdue' THEN now() END
        FROM (
            SELECT e.id AS event_id, e.unit_id, k,
                   CASE WHEN f < 10 THEN (ARRAY['received', 'assigned', 'overdue'])[1 + k %% 3]
                        WHEN f < 15 THEN 'received'
                        WHEN f < 215 THEN (ARRAY['received', 'assigned'])[1 + k %% 2]
                        WHEN k %% 2 = 0 THEN 'answered'
                        ELSE 'closed' END AS state,
                   CASE WHEN f < 10 THEN current_date - 1 - (k %% 30)
                        WHEN f < 15 THEN current_date + 1
                        WHEN f < 215 THEN current_date + 10 + (k %% 30)
                        ELSE current_date - 40 - (k %% 100) END AS due_on
            FROM (
                SELECT e.id, e.unit_id, k, abs(hashint4(k + 7)) %% 1000 AS f
                FROM (SELECT e.id, e.unit_id, (e.id - 1) * %(per)s + i AS k
                      FROM event e CROSS JOIN generate_series(1, %(per)s) AS i) AS e
            ) AS e
        ) AS s
        """,
        {"per": per_event},
    )
    rebuild_tally(conn)  # the report counts kept beside the opinions (workflows/feedback/tally.py)
    conn.execute("VACUUM ANALYZE")
    counts = {}
    for label, sql in (
        ("events", "SELECT count(*) FROM event"),
        ("feedback items", "SELECT count(*) FROM feedback_item"),
        (
            "items overdue",
            "SELECT count(*) FROM feedback_item WHERE state IN ('received', 'assigned', "
            "'overdue') AND due_at < now()",
        ),
    ):
        counts[label] = conn.execute(sql).fetchone()[0]
    return counts


def compiled(stmt: Any) -> tuple[str, dict[str, Any]]:
    """SQL text and parameters of a SQLAlchemy statement, as the psycopg dialect renders it."""
    c = stmt.compile(
        dialect=postgresql.psycopg.dialect(), compile_kwargs={"render_postcompile": True}
    )
    return str(c), dict(c.params)


def bare_queries(
    unit_id: int | None, after: str | None, now: Any
) -> tuple[list[tuple[str, dict[str, Any]]], list[tuple[str, dict[str, Any]]]]:
    """The endpoint's three page queries (after a cursor) and three count queries."""
    today = local_date(now)
    last_day = today + timedelta(days=3)
    horizon = end_of_local_day(last_day)
    cursor = overdue_list.decode_cursor(after) if after else None
    sources = overdue_list.statements(horizon, last_day, unit_id, LIMIT + 1, cursor)
    pages = [compiled(source.page) for source in sources]
    counts = [compiled(source.count) for source in sources]
    return pages, counts


def time_sql(conn: Any, requests: list[tuple[int | None, str | None]], which: str) -> list[float]:
    """Run the bare queries for each (unit, cursor), timing each request's set (ms)."""
    out = []
    now = SystemClock().now()
    for unit_id, after in requests:
        pages, counts = bare_queries(unit_id, after, now)
        queries = pages if which == "pages" else counts
        t0 = time.perf_counter()
        for sql, params in queries:
            conn.execute(sql, params).fetchall()
        out.append((time.perf_counter() - t0) * 1000)
    return out


async def time_api(port: int, requests: list[tuple[str, str]]) -> list[float]:
    """GET each (token, path) one after another on one keep-alive connection (ms)."""
    out = []
    conn = HttpConnection("127.0.0.1", port)
    for token, path in requests:
        t0 = time.perf_counter()
        status, body = await conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        out.append((time.perf_counter() - t0) * 1000)
        if status != 200:
            raise SystemExit(f"GET {path}: {status} {body[:300]!r}")
    await conn.close()
    return out


async def walk(port: int, token: str) -> list[str | None]:
    """Every page's `after` of the whole list, walked by cursor (None: the first page)."""
    conn = HttpConnection("127.0.0.1", port)
    cursors: list[str | None] = [None]
    while True:
        path = f"/api/v1/overdue?limit={LIMIT}" + (f"&after={cursors[-1]}" if cursors[-1] else "")
        status, body = await conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        if status != 200:
            raise SystemExit(f"GET {path}: {status} {body[:300]!r}")
        following = json.loads(body)["next_after"]
        if following is None:
            break
        cursors.append(following)
    await conn.close()
    return cursors


def explain(conn: Any, unit_id: int | None, now: Any, after: str | None = None) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the answers page query (after a cursor) and its count."""
    pages, counts = bare_queries(unit_id, after, now)
    text = []
    for label, (sql, params) in (("answers page", pages[0]), ("answers count", counts[0])):
        plan = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params).fetchall()
        who = "supervisor (all units)" if unit_id is None else f"unit {unit_id} staff"
        who += ", deep page" if after else ", first page"
        text.append(f"-- {label}, {who}\n{sql}\n" + "\n".join(r[0] for r in plan) + "\n")
    return "\n".join(text)


def main(argv: list[str] | None = None) -> int:
    """Seed, serve, time the API and the bare SQL, print one table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_PG, help="PostgreSQL server URL")
    parser.add_argument("--redis", default=DEFAULT_REDIS, help="Redis server URL (no db)")
    parser.add_argument("--redis-db", type=int, default=10, help="an empty Redis db number (10)")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--items-per-event", type=int, default=10)
    parser.add_argument("--units", type=int, default=200)
    parser.add_argument("--requests", type=int, default=300, help="timed requests per row")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes (2)")
    parser.add_argument(
        "--explain-file", default=str(Path(__file__).with_name("overdue-explain.txt"))
    )
    args = parser.parse_args(argv)
    others = foreign_processes([])
    for line in others:
        print(f"warning: busy machine, another process runs: {line}", file=sys.stderr)
    rng = random.Random(6)

    with (
        tempfile.TemporaryDirectory(prefix="openday-bench-overdue-") as tmp,
        fresh_database(args.database_url) as url,
        private_redis(args.redis, args.redis_db) as broker_url,
    ):
        t0 = time.perf_counter()
        world = seed_world(url, args.units, staff_units=PAGES)
        with connect(url) as conn:
            counts = seed(conn, world, args.events, args.items_per_event)
        seed_seconds = time.perf_counter() - t0

        port = free_port()
        env = service_env(url, broker_url, Path(tmp) / "var")
        api = spawn("api", [OPENDAY, "api", "--port", str(port), "--workers", str(args.workers)],
                    env, Path(tmp))  # fmt: skip
        results: dict[str, list[float]] = {}
        try:
            wait_http(f"http://127.0.0.1:{port}/readyz", api, listeners=args.workers)
            staff_units = list(world.staff_tokens)
            sup_cursors = asyncio.run(walk(port, world.supervisor_token))
            staff_cursors = {u: asyncio.run(walk(port, world.staff_tokens[u])) for u in staff_units}
            sup_pages = [(None, rng.choice(sup_cursors)) for _ in range(args.requests)]
            staff_pages = [
                (u, rng.choice(staff_cursors[u]))
                for u in (rng.choice(staff_units) for _ in range(args.requests))
            ]

            def path(after: str | None) -> str:
                return f"/api/v1/overdue?limit={LIMIT}" + (f"&after={after}" if after else "")

            sup_requests = [(world.supervisor_token, path(c)) for _, c in sup_pages]
            staff_requests = [(world.staff_tokens[u], path(c)) for u, c in staff_pages]  # type: ignore[index]
            offset_requests = [
                (world.supervisor_token, f"/api/v1/overdue?limit={LIMIT}&offset="
                 f"{LIMIT * rng.randrange(PAGES)}")
                for _ in range(args.requests)
            ]  # fmt: skip
            warm = sup_requests[:30] + staff_requests[:30] + offset_requests[:10]
            asyncio.run(time_api(port, warm))
            results[f"API, supervisor, cursor (any of {len(sup_cursors)} pages)"] = asyncio.run(
                time_api(port, sup_requests)
            )
            deepest = max(len(c) for c in staff_cursors.values())
            results[f"API, unit staff, cursor (any of ≤ {deepest} pages)"] = asyncio.run(
                time_api(port, staff_requests)
            )
            results["API, supervisor, offset (first 20 pages)"] = asyncio.run(
                time_api(port, offset_requests)
            )
            peak = peak_rss("API", api)
        finally:
            stop(api)

        with connect(url) as conn:
            time_sql(conn, sup_pages[:30] + staff_pages[:30], "pages")  # warm-up
            results["bare page SQL, supervisor (same pages)"] = time_sql(conn, sup_pages, "pages")
            results["bare page SQL, unit staff (same pages)"] = time_sql(conn, staff_pages, "pages")
            first_sup = [(None, None)] * args.requests
            first_staff = [(u, None) for u, _ in staff_pages]
            results["bare COUNT(*) x3, supervisor"] = time_sql(conn, first_sup, "counts")
            results["bare COUNT(*) x3, unit staff"] = time_sql(conn, first_staff, "counts")
            now = SystemClock().now()
            deep = sup_cursors[-1]
            Path(args.explain_file).write_text(
                explain(conn, None, now)
                + "\n"
                + explain(conn, None, now, deep)
                + "\n"
                + explain(conn, staff_units[0], now)
            )
        versions_text = server_versions(url, broker_url)

    rows = []
    for label, values in results.items():
        rows.append(
            [label, f"{pct(values, 50):.1f}", f"{pct(values, 95):.1f}", f"{max(values):.1f}",
             str(len(values))]
        )  # fmt: skip
    api_p95 = max(pct(v, 95) for k, v in results.items() if k.startswith("API") and "cursor" in k)
    offset_p95 = pct(next(v for k, v in results.items() if "offset" in k), 95)
    caption = (
        f"{counts['events']:,} events, {counts['feedback items']:,} feedback items, "
        f"{counts['items overdue']:,} overdue answers; {args.units} units; seeded in "
        f"{seed_seconds:.0f} s; one request at a time, limit {LIMIT}; plans in "
        f"{Path(args.explain_file).name}\n"
        f"target any page p95 ≤ 20 ms (cursor, supervisor and staff): {api_p95:.1f} ms → "
        f"{verdict(api_p95 <= 20)}\n(offset pages, first 20, for old clients: p95 "
        f"{offset_p95:.1f} ms)\n"
        f"peak RSS API: {peak.describe()}\n{machine()}; {versions_text}; other service/test "
        f"processes at start: {len(others)}"
    )
    print_table("overdue list: API pages vs bare SQL (ms)", ["what", "p50", "p95", "max", "n"],
                rows, caption)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
