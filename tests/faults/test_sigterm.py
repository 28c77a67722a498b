"""SIGTERM under load: `openday worker` (twice) and `openday scheduler` (once) are stopped the
way a deploy or `docker stop` stops them, mid-stream, and started again. No job is lost, none
is done twice, and each stops cleanly on its own."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from tests.faults.harness import (
    Fleet,
    WebhookSink,
    assert_exactly_once,
    check_exactly_once,
    report,
    seed_hold_escalations,
    service_env,
    settled,
    wait_until,
)

GRACEFUL_WITHIN = 30.0  # seconds from SIGTERM to exit, in-flight work finished


@pytest.mark.postgresql
def test_sigterm_under_load_loses_nothing(
    engine: Engine, sink: WebhookSink, broker_url: str, fleet: Fleet, tmp_path: Path
) -> None:
    """800 escalations due; SIGTERM the worker at ~150 and ~400 deliveries and the scheduler
    at ~250, each started again afterwards (the worker by its supervisor as soon as it exits).
    Every escalation arrives exactly once, and every stop is a clean exit (code 0) within
    30 s: in-flight messages finished, prefetched ones handed back to the broker."""
    seeded = seed_hold_escalations(engine, sink, events=400, levels=(1, 2))
    env = service_env(engine.url.render_as_string(hide_password=False), broker_url)
    scheduler = fleet.spawn("scheduler", ["scheduler"], env)
    worker = fleet.worker(env, processes=2, threads=4)
    start = time.time()
    stops: list[tuple[str, float, int | None]] = []  # (what, seconds to exit, exit code)

    def diagnostics() -> str:
        return report(engine, sink, seeded, fleet, worker, start=start, extra=f"stops {stops}")

    for at, target in ((150, "worker"), (250, "scheduler"), (400, "worker")):

        def reached(at: int = at) -> bool:
            return sink.distinct() >= at

        wait_until(reached, 90, f"{at} deliveries", diagnostics=diagnostics)
        proc = worker.current if target == "worker" else scheduler
        assert proc is not None and proc.alive(), diagnostics()
        began = time.monotonic()
        proc.popen.send_signal(signal.SIGTERM)
        try:
            code = proc.popen.wait(GRACEFUL_WITHIN + 30)
        except Exception:  # noqa: BLE001 - reported below with the logs
            code = None
        stops.append((target, round(time.monotonic() - began, 1), code))
        if target == "scheduler":
            scheduler = fleet.spawn("scheduler", ["scheduler"], env)

    took = wait_until(settled(engine, sink, seeded), 120, "everything owed",
                      diagnostics=diagnostics)  # fmt: skip
    verdict = check_exactly_once(engine, sink, seeded, settle=3)
    print(f"\nstops {stops}; settled {took:.1f} s after the last; {verdict.summary()}")
    assert_exactly_once(verdict)
    assert all(code == 0 and seconds <= GRACEFUL_WITHIN for _, seconds, code in stops), (
        diagnostics()
    )
    assert worker.starts == 3, f"the worker restarted {worker.starts - 1}x, not twice: {stops}"
