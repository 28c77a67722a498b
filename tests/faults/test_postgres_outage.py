"""PostgreSQL stopped for 30 s under the API, the scheduler and the workers.

A throwaway cluster (initdb + pg_ctl on a free port; as user postgres when the tests run as
root) — never the machine's server. While it is down the API answers 503 database_unavailable
quickly; the scheduler and the workers back off and carry on when it returns, without being
restarted, and every escalation arrives exactly once.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session

from models.db import make_engine, migrate
from tests.conftest import unavailable
from tests.faults.harness import (
    Fleet,
    PostgresServer,
    WebhookSink,
    assert_exactly_once,
    check_exactly_once,
    free_port,
    log_events,
    postgres_bindir,
    report,
    scheduler_and_worker,
    seed_hold_escalations,
    service_env,
    settled,
    wait_until,
)
from workflows.accounts.service import create_user, issue_token

OUTAGE_SECONDS = 30
ANSWER_WITHIN = 10.0  # seconds: "503, not a hang" (PostgreSQL connects time out after 5 s)
RECOVERY_LIMIT = 120.0


@pytest.fixture
def pg_cluster() -> Iterator[PostgresServer]:
    """A private PostgreSQL cluster, removed afterwards."""
    bindir = postgres_bindir()
    if bindir is None:
        unavailable("PostgreSQL binaries", "no initdb/pg_ctl under /usr/lib/postgresql/*/bin")
    if os.geteuid() == 0 and not shutil.which("runuser"):
        unavailable("runuser", "needed to run initdb as user postgres when running as root")
    server = PostgresServer(bindir)  # type: ignore[arg-type]
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.close()


def _probe(client: httpx.Client, method: str, path: str, **kwargs) -> dict:  # noqa: ANN003
    began = time.monotonic()
    try:
        response = client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        return {
            "path": path,
            "status": None,
            "error": repr(exc),
            "seconds": time.monotonic() - began,
        }
    try:
        code = response.json().get("error", {}).get("code")
    except ValueError:
        code = None
    return {
        "path": path,
        "status": response.status_code,
        "code": code,
        "retry_after": response.headers.get("retry-after"),
        "body": response.text[:300],
        "seconds": round(time.monotonic() - began, 2),
    }


def _worst(probes: list[dict]) -> str:
    """The probes that were not a quick 503, or a summary when all were."""
    bad = [p for p in probes if p["status"] != 503 or p["seconds"] > ANSWER_WITHIN]
    if bad:
        return f"{len(bad)} bad of {len(probes)}: {bad[:4]}"
    return f"all {len(probes)} answered 503, slowest {max(p['seconds'] for p in probes)} s"


@pytest.mark.postgresql
def test_postgres_stopped_for_30_seconds(
    pg_cluster: PostgresServer, sink: WebhookSink, broker_url: str, fleet: Fleet, tmp_path: Path
) -> None:
    """Stop PostgreSQL (pg_ctl stop -m fast) for 30 s while escalations are being delivered and
    more fall due: the API answers 503 `database_unavailable` (with Retry-After) within
    seconds, reads and writes alike; the scheduler and the worker survive, and once the server
    is back every escalation owed arrives exactly once — no process restarted."""
    url = pg_cluster.create_database("openday")
    migrate(url)
    engine = make_engine(url, pool_pre_ping=True)  # the checker outlives the restart
    try:
        now = datetime.now(UTC)
        with Session(engine, expire_on_commit=False) as s:
            user = create_user(s, username="duban", role="supervisor", now=now)
            token = issue_token(s, user, kind="api", now=now)
            s.commit()
        sink.latency = 0.05  # a webhook takes a while: the outage lands mid-send
        # Half due now; half falling due over the next minute, through the outage.
        seeded = seed_hold_escalations(engine, sink, events=150, levels=(1, 2))
        later = seed_hold_escalations(
            engine, sink, events=150, levels=(1, 2), spread_seconds=45, lead_seconds=5
        )
        seeded.event_ids += later.event_ids
        seeded.timer_ids += later.timer_ids
        seeded.owed.update(later.owed)
        campaign_event = seeded.event_ids[0]

        env = service_env(url, broker_url)
        port = free_port()
        api = fleet.spawn("api", ["api", "--port", str(port)], env)
        client = httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        wait_until(
            lambda: _probe(client, "GET", "/readyz")["status"] == 200,
            60,
            "the API",
            diagnostics=fleet.logs,
        )
        start = time.time()
        scheduler, worker = scheduler_and_worker(fleet, env, processes=2, threads=4)
        wait_until(lambda: sink.distinct() >= 100, 60, "deliveries under way",
                   diagnostics=fleet.logs)  # fmt: skip

        pg_cluster.stop()
        stopped = time.monotonic()
        probes = []
        while time.monotonic() - stopped < OUTAGE_SECONDS:
            probes.append(_probe(client, "GET", "/api/v1/events"))
            probes.append(_probe(client, "GET", f"/api/v1/events/{campaign_event}"))
            probes.append(
                _probe(
                    client,
                    "POST",
                    f"/api/v1/events/{campaign_event}/transitions",
                    json={"trigger": "cancel", "expected_version": 1, "reason": "停电"},
                )
            )
            probes.append(_probe(client, "GET", "/readyz"))
            time.sleep(1)
        alive_during = {"api": api.alive(), "scheduler": scheduler.alive(), "worker": worker.starts}
        pg_cluster.start()
        back = time.monotonic()

        took = wait_until(
            settled(engine, sink, seeded),
            RECOVERY_LIMIT,
            "everything owed after the outage",
            diagnostics=lambda: report(
                engine,
                sink,
                seeded,
                fleet,
                worker,
                start=start,
                extra=f"probes during the outage: {_worst(probes)}",
            ),
        )
        after = _probe(client, "GET", "/api/v1/events")
        verdict = check_exactly_once(engine, sink, seeded, settle=3)
        print(
            f"\n{len(probes)} probes during the outage, slowest {max(p['seconds'] for p in probes)}"
            f" s; settled {time.monotonic() - back:.1f} s after the restart ({took:.1f} s of"
            f" waiting); worker started {worker.starts}x; {verdict.summary()}"
        )
        bad = [
            p
            for p in probes
            if p["status"] != 503
            or p.get("code") != "database_unavailable"
            or p["seconds"] > ANSWER_WITHIN
            or (p["path"] != "/readyz" and not p["retry_after"])
        ]
        assert not bad, f"{len(bad)} of {len(probes)} answers were not a quick 503: {bad[:6]}"
        assert after["status"] == 200, after
        assert alive_during == {"api": True, "scheduler": True, "worker": 1}, alive_during
        assert_exactly_once(verdict)
        # the one supervisor (duban) is copied every level-2 item in the inbox, once each
        level_two = sum(1 for _event, level in seeded.owed.values() if level == 2)
        assert verdict.inbox_rows == level_two, verdict.summary()
        assert api.alive() and scheduler.alive(), fleet.logs()
        assert worker.starts == 1, f"the worker had to be restarted: {worker.exits}"
        assert log_events(scheduler.log, "scheduler_database_unavailable"), "no back-off logged"
        client.close()
    finally:
        engine.dispose()
