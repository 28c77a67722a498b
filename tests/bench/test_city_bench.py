"""The city-scale benchmarks keep working (issues 28 and 32): bench/_city.py's seed, bench/city.py
and bench/rls_moves.py, each at a tiny scale (seconds, not a measurement: only that every step
runs, the targets are printed with a figure and a verdict, and the seed has the city's shape).

PostgreSQL (OPENDAY_DATABASE_URL, the server the benchmarks create their private databases on)
and Redis (an empty database number of its own, flushed at the end as the scripts do) are
needed; skipped without them unless OPENDAY_REQUIRE_SERVICES.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.conftest import DATABASE_URL, REDIS_URL, unavailable

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
# Redis database numbers no other suite borrows (tests/faults takes 15, 14, 12, 10, 9, 8).
SPARE_REDIS_DBS = (13, 11, 6, 5)


def _bench(name: str) -> Any:
    sys.path.insert(0, str(BENCH))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(BENCH))


@pytest.fixture
def servers() -> Iterator[tuple[str, str, int]]:
    """(PostgreSQL server URL, Redis base URL, an empty Redis db number)."""
    if not DATABASE_URL.startswith("postgresql"):
        unavailable("PostgreSQL", "OPENDAY_DATABASE_URL is not a postgresql URL")
    if not REDIS_URL:
        unavailable("Redis", "OPENDAY_REDIS_URL is not set")
    import redis

    base = REDIS_URL.rsplit("/", 1)[0] if REDIS_URL.count("/") > 2 else REDIS_URL
    for db in SPARE_REDIS_DBS:
        try:
            if redis.Redis.from_url(f"{base}/{db}").dbsize() == 0:
                yield DATABASE_URL, base, db
                return
        except redis.RedisError as exc:
            unavailable("Redis", str(exc))
    pytest.skip(f"no empty Redis database among {SPARE_REDIS_DBS}")


def _run(script: str, *args: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENDAY_")}
    proc = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    return proc.returncode, proc.stdout + proc.stderr


def _targets(output: str) -> dict[str, tuple[float, str]]:
    """Each target as bench/run_all.py reads it (its own parser): label -> (figure, verdict)."""
    run_all = _bench("run_all")
    result = SimpleNamespace(output=output, targets=[], rss=[])
    run_all.parse(result)
    out = {}
    for line, verdict in result.targets:
        label, _, rest = line.removeprefix("target ").partition(": ")
        found = run_all.FIGURE.search(rest)
        if found:
            out[label] = (float(found.group(0).replace(",", "")), verdict)
    return out


def test_the_city_seed_has_the_city_shape(servers: tuple[str, str, int]) -> None:
    """Districts × units × campaigns, every event's unit and campaign of one district, the
    newest campaign open and the older ones closed, opinions on the events held, tokens."""
    common, city_seed = _bench("_common"), _bench("_city")
    with common.fresh_database(servers[0]) as url:
        city = city_seed.seed_city(url, scale=0.002, districts=3, units=4, campaigns=2, opinions=3)
        with _bench("_seed").connect(url) as conn:
            mixed = conn.execute(
                "SELECT count(*) FROM event e JOIN unit u ON u.id = e.unit_id "
                "JOIN campaign c ON c.id = e.campaign_id WHERE u.district_id <> c.district_id"
            ).fetchone()[0]
            open_campaigns = conn.execute(
                "SELECT count(*) FROM campaign WHERE closed_at IS NULL"
            ).fetchone()[0]
            per_pair = conn.execute(
                "SELECT count(DISTINCT (campaign_id, unit_id)) FROM event"
            ).fetchone()[0]
    assert [len(d.unit_ids) for d in city.districts] == [4, 4, 4]
    assert [len(d.campaign_ids) for d in city.districts] == [2, 2, 2]
    assert city.counts["events"] == 200  # 100,000 × 0.002
    assert 0 < city.counts["opinions"] <= 3 * 200
    assert mixed == 0 and open_campaigns == 3
    assert per_pair == 3 * 4 * 2  # round-robin: every unit in every campaign
    assert city.city_supervisor_token and all(
        d.supervisor_token and d.staff_token for d in city.districts
    )
    assert "3 districts × 4 units × 2 campaigns" in city.describe()


def test_the_city_pages_benchmark_runs(servers: tuple[str, str, int], tmp_path: Path) -> None:
    """bench/city.py at a tiny scale: every page answers 200 (it exits otherwise), each target
    is printed with its figure and verdict, and the page queries are explained."""
    pg, redis_base, db = servers
    explain = tmp_path / "explain.txt"
    code, out = _run(
        "city.py", "--database-url", pg, "--redis", redis_base, "--redis-db", str(db),
        "--scale", "0.002", "--districts", "2", "--units", "3", "--campaigns", "2",
        "--requests", "2", "--rounds", "2", "--depth", "2", "--explain-file", str(explain),
    )  # fmt: skip
    assert code in (0, 1), out  # 1: a target missed (a busy machine), not a failure
    found = _targets(out)
    labels = " | ".join(found)
    for page in ("/board p95", "/board/overdue", "unit staff / p95", "/board/city p95",
                 "/board/city.xlsx time"):  # fmt: skip
        assert page in labels, (page, labels)
    assert all(figure > 0 for figure, _ in found.values()), found
    assert "median of 2 rounds" in out
    assert "/board/city (HTTP 200):" in out and "statements" in out
    assert "EXPLAIN" not in explain.read_text() and "Execution Time" in explain.read_text()


def test_the_rls_moves_benchmark_runs(servers: tuple[str, str, int]) -> None:
    """bench/rls_moves.py for a second: the runtime role is checked to be held by RLS, both APIs
    move events without an error, and the cost target is printed with its figure."""
    pg, redis_base, db = servers
    code, out = _run(
        "rls_moves.py", "--database-url", pg, "--redis", redis_base, "--redis-db", str(db),
        "--clients", "2", "--events-per-client", "5", "--workers", "1",
        "--seconds", "1", "--warmup", "0.3", "--rounds", "1",
    )  # fmt: skip
    assert code in (0, 1), out
    assert "no SUPERUSER, no BYPASSRLS; event RLS enabled and forced; 0 rows unset" in out
    assert "errors 0" in out
    (label,) = [k for k in _targets(out) if k.startswith("RLS on costs")]
    assert "≤ 10%" in label
