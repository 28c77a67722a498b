"""The public calendar under load: GET /public (HTML) and /api/v1/public/events (JSON) served by
`openday api --workers 2` on PostgreSQL, against a same-run limit.

Run from the project root:

    .venv/bin/python bench/public_calendar.py [--clients 16] [--seconds 10] [--warmup 3]

A private database holds a realistic campaign: `--units` units (39, as in the founding notice)
with `--events` events (120), every third one open to public registration (5–20 places, some
already taken or full, with their registrations as rows) and the rest targeted-only. The
limit is bench/static_page_app.py: the calendar page's own bytes (fetched from the API first)
answered by a bare ASGI app under the same uvicorn and worker count. Each row: `--clients`
keep-alive clients (bench/_common's lean client) request the path as fast as they are answered,
`--warmup` seconds, then `--seconds` measured. Target: the calendar page ≥ 500 requests/s.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from _common import (  # first: puts the project root on sys.path
    DEFAULT_PG,
    DEFAULT_REDIS,
    OPENDAY,
    HttpConnection,
    MachineLoad,
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
from _seed import connect, seed_events, seed_world

TARGET = 500.0


@dataclass
class Run:
    """One measured row."""

    label: str
    requests: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    size: int = 0
    machine_cores: float = 0.0

    @property
    def rate(self) -> float:
        """Requests answered per second."""
        return self.requests / self.seconds if self.seconds else 0.0


def seed(url: str, units: int, events: int) -> dict[str, int]:
    """The campaign: events, every third taking public registration, with registrations."""
    world = seed_world(url, units, staff_units=0)
    day = date.today() + timedelta(days=30)
    with connect(url) as conn:
        first, last = seed_events(conn, world, events, day=day, theme="走进政府开放日·")
        conn.execute(
            """
            UPDATE event SET
              date_earliest = %(day)s + (id %% 20), date_latest = %(day)s + (id %% 20),
              start_time = make_time(9 + (id %% 6), 30, 0),
              end_time = make_time(12 + (id %% 6), 0, 0),
              location = '资阳市雁江区某街道便民服务中心' || (id %% 7) || '楼会议室',
              forms = '["office_visit", "dialogue"]',
              public_places = CASE WHEN id %% 3 = 0 THEN 5 + (id %% 16) ELSE 0 END
            WHERE id BETWEEN %(first)s AND %(last)s
            """,
            {"day": day, "first": first, "last": last},
        )
        # Places taken: 0 to all of them (every fourth public event is full).
        conn.execute(
            """
            INSERT INTO public_registration (code, event_id, campaign_id, state, name, district,
                                             phone_last4, consent_at, created_at, updated_at)
            SELECT upper(substr(md5(e.id || ':' || g), 1, 10)), e.id, e.campaign_id,
                   'registered', '市民' || g, '雁江区', lpad(g::text, 4, '0'), now(), now(), now()
            FROM event e CROSS JOIN generate_series(1, 20) AS g
            WHERE e.id BETWEEN %(first)s AND %(last)s AND e.public_places > 0
              AND g <= CASE WHEN e.id %% 4 = 0 THEN e.public_places ELSE e.id %% e.public_places END
            """,
            {"first": first, "last": last},
        )
        conn.execute("ANALYZE")
        public = conn.execute("SELECT count(*) FROM event WHERE public_places > 0").fetchone()
        regs = conn.execute("SELECT count(*) FROM public_registration").fetchone()
    return {"events": events, "public": int(public[0]), "registrations": int(regs[0])}  # type: ignore[index]


async def _client(port: int, path: str, run: Run, t_measure: float, t_end: float) -> None:
    conn = HttpConnection("127.0.0.1", port)
    try:
        while True:
            t0 = time.perf_counter()
            if t0 >= t_end:
                return
            status, body = await conn.request("GET", path)
            t1 = time.perf_counter()
            if status != 200:
                raise SystemExit(f"GET {path}: {status} {body[:300]!r}")
            if t0 >= t_measure and t1 <= t_end:
                run.requests += 1
                run.latencies.append((t1 - t0) * 1000)
                run.size = len(body)
    finally:
        await conn.close()


async def load(label: str, port: int, path: str, args: argparse.Namespace) -> Run:
    """`args.clients` clients on one path: warm up, then measure."""
    run = Run(label)
    start = time.perf_counter()
    t_measure, t_end = start + args.warmup, start + args.warmup + args.seconds
    clients = [_client(port, path, run, t_measure, t_end) for _ in range(args.clients)]
    measure = asyncio.create_task(_measure_cpu(run, t_measure, t_end))
    await asyncio.gather(*clients)
    await measure
    run.seconds = args.seconds
    return run


async def _measure_cpu(run: Run, t_measure: float, t_end: float) -> None:
    await asyncio.sleep(max(0.0, t_measure - time.perf_counter()))
    load_ = MachineLoad().start()
    await asyncio.sleep(max(0.0, t_end - time.perf_counter()))
    run.machine_cores = load_.stop()


def main(argv: list[str] | None = None) -> int:
    """Seed, serve the API and the static limit, load each path, print one table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_PG, help="PostgreSQL server URL")
    parser.add_argument("--redis", default=DEFAULT_REDIS, help="Redis server URL (no db)")
    parser.add_argument("--redis-db", type=int, default=11, help="an empty Redis db number (11)")
    parser.add_argument("--units", type=int, default=39)
    parser.add_argument("--events", type=int, default=120)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes (2)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds (10)")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds (3)")
    args = parser.parse_args(argv)
    others = foreign_processes([])
    for line in others:
        print(f"warning: busy machine, another process runs: {line}", file=sys.stderr)

    with (
        tempfile.TemporaryDirectory(prefix="openday-bench-public-") as tmp,
        fresh_database(args.database_url) as url,
        private_redis(args.redis, args.redis_db) as broker_url,
    ):
        logdir = Path(tmp)
        counts = seed(url, args.units, args.events)
        env = service_env(url, broker_url, logdir / "var")
        api_port, static_port = free_port(), free_port()
        api = spawn("api", [OPENDAY, "api", "--port", str(api_port), "--workers",
                            str(args.workers)], env, logdir)  # fmt: skip
        runs: list[Run] = []
        static = None
        try:
            wait_http(f"http://127.0.0.1:{api_port}/readyz", api, listeners=args.workers)
            import httpx

            page = httpx.get(f"http://127.0.0.1:{api_port}/public", timeout=10)
            assert page.status_code == 200 and "查看详情并报名" in page.text, page.text[:300]
            page_file = logdir / "calendar.html"
            page_file.write_bytes(page.content)
            static = spawn(
                "static",
                [str(Path(sys.executable).parent / "uvicorn"), "static_page_app:app",
                 "--app-dir", "bench", "--port", str(static_port), "--workers",
                 str(args.workers), "--no-access-log", "--log-level", "warning"],
                {**env, "BENCH_STATIC_FILE": str(page_file)}, logdir,
            )  # fmt: skip
            wait_http(f"http://127.0.0.1:{static_port}/", static)
            plan = [
                ("limit: static page (bare ASGI)", static_port, "/"),
                ("API: calendar page /public", api_port, "/public"),
                ("API: calendar JSON", api_port, "/api/v1/public/events"),
            ]
            for label, port, path in plan:
                runs.append(asyncio.run(load(label, port, path, args)))
            peak = peak_rss("API", api)
        finally:
            if static is not None:
                stop(static)
            stop(api)
        versions_text = server_versions(url, broker_url)

    limit = runs[0].rate
    rows = [
        [r.label, f"{r.rate:,.0f}", f"{r.rate / limit:.0%}", f"{pct(r.latencies, 50):.1f}",
         f"{pct(r.latencies, 99):.1f}", f"{r.size / 1024:.1f}", f"{r.machine_cores:.2f}"]
        for r in runs
    ]  # fmt: skip
    page_rate = runs[1].rate
    caption = (
        f"{counts['events']} events of {args.units} units, {counts['public']} open to the public, "
        f"{counts['registrations']} registrations; {args.clients} keep-alive clients, uvicorn "
        f"--workers {args.workers}, {args.seconds:.0f} s measured after {args.warmup:.0f} s\n"
        f"target calendar page ≥ {TARGET:.0f} req/s: {page_rate:,.0f} → "
        f"{verdict(page_rate >= TARGET)}\n"
        f"peak RSS API: {peak.describe()}\n{machine()}; {versions_text}; other service/test "
        f"processes at start: {len(others)}"
    )
    print_table("public calendar: requests/s against a static page of the same bytes",
                ["what", "req/s", "of limit", "p50 ms", "p99 ms", "KiB", "machine cores"],
                rows, caption)  # fmt: skip
    return 0 if page_rate >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
