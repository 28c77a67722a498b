"""Exports at scale: a 100,000-event list as xlsx and CSV from the real API process, and the
campaign report for 1,000 units.

Run from the project root:

    .venv/bin/python bench/exports.py [--events 100000] [--units 1000]

A private PostgreSQL database gets `--units` units and `--events` events in plain SQL, then the
API (`openday api`, one worker) is started and, one request at a time:

- `GET /api/v1/exports/events.xlsx` and `.csv` as the supervisor, read to the end in 64 KB
  chunks: wall time, bytes, and the rows counted back from the file (CSV);
- `GET /api/v1/campaigns/{id}/report` (JSON) and `/report.xlsx`: wall time.

The API's peak RSS (VmHWM) is read before the exports (baseline) and after them. Targets
(issue 16): export ≤ 10 s and ≤ 150 MB RSS; report ≤ 1 s.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import urllib.request
from datetime import date
from pathlib import Path

from _common import (  # first: puts the project root on sys.path
    DEFAULT_PG,
    DEFAULT_REDIS,
    OPENDAY,
    free_port,
    fresh_database,
    machine,
    peak_rss,
    print_table,
    private_redis,
    service_env,
    spawn,
    stop,
    verdict,
    wait_http,
)
from _seed import connect, seed_events, seed_world

EXPORT_SECONDS, EXPORT_MB, REPORT_SECONDS = 10.0, 150.0, 1.0


def fetch(port: int, token: str, path: str) -> tuple[float, int, bytes]:
    """(seconds, bytes, first 64 KB) of one GET read to the end."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {token}"}
    )
    t0 = time.perf_counter()
    size, head = 0, b""
    with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 - localhost
        assert response.status == 200, response.status
        while chunk := response.read(65536):
            if not head:
                head = chunk
            size += len(chunk)
    return time.perf_counter() - t0, size, head


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--units", type=int, default=1_000)
    parser.add_argument("--database-url", default=DEFAULT_PG)
    parser.add_argument("--redis", default=DEFAULT_REDIS)
    parser.add_argument("--redis-db", type=int, default=14)
    args = parser.parse_args()
    print(machine())
    with (
        tempfile.TemporaryDirectory(prefix="openday-bench-exports-") as tmp,
        fresh_database(args.database_url) as url,
        private_redis(args.redis, args.redis_db) as broker_url,
    ):
        world = seed_world(url, args.units, staff_units=1)
        with connect(url) as conn:
            seed_events(conn, world, args.events, day=date(2022, 9, 16))
            conn.execute("ANALYZE")
        port = free_port()
        api = spawn("api", [OPENDAY, "api", "--port", str(port), "--workers", "1"],
                    service_env(url, broker_url, Path(tmp) / "var"), Path(tmp))  # fmt: skip
        rows = []
        try:
            wait_http(f"http://127.0.0.1:{port}/readyz", api)
            token, cid = world.supervisor_token, world.campaign_id
            fetch(port, token, "/api/v1/exports/spot-checks.csv")  # warm-up
            base = peak_rss("API", api).total_mb
            for fmt in ("xlsx", "csv"):
                secs, size, _ = fetch(port, token, f"/api/v1/exports/events.{fmt}")
                rows.append((f"events.{fmt} ({args.events:,} rows)", secs, f"{size / 1e6:.1f} MB",
                             EXPORT_SECONDS))  # fmt: skip
            peak = peak_rss("API", api)
            for path in ("report", "report.xlsx"):
                secs, size, _ = fetch(port, token, f"/api/v1/campaigns/{cid}/{path}")
                rows.append((f"{path} ({args.units:,} units)", secs, f"{size / 1e3:.0f} kB",
                             REPORT_SECONDS))  # fmt: skip
        finally:
            stop(api)
    table = [(what, f"{secs:.2f} s", size, verdict(secs <= limit))
             for what, secs, size, limit in rows]  # fmt: skip
    print_table("exports and report", ["request", "time", "size", "verdict"], table)
    ok = peak.total_mb <= EXPORT_MB
    # The targets in the form every bench script prints (bench/run_all.py collects them).
    targets = [f"{what} ≤ {limit:.0f} s: {secs:.2f} s → {verdict(secs <= limit)}"
               for what, secs, _, limit in rows]  # fmt: skip
    targets.append(f"API peak RSS ≤ {EXPORT_MB:.0f} MB: {peak.total_mb:.0f} MB "
                   f"(before the exports: {base:.0f} MB) → {verdict(ok)}")  # fmt: skip
    print("target " + "; ".join(targets))
    print(f"peak RSS API: {peak.describe()}")
    return 0 if ok and all(row[3] == "MET" for row in table) else 1


if __name__ == "__main__":
    sys.exit(main())
