"""kill -9 of worker processes at random points while 1,000 escalations are due."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from tests.faults.harness import (
    REDRIVE_AFTER_SECONDS,
    Fleet,
    WebhookSink,
    all_delivered,
    assert_exactly_once,
    check_exactly_once,
    log_events,
    report,
    scheduler_and_worker,
    seed_hold_escalations,
    service_env,
    settled,
    wait_until,
)

KILLS = 4
REDRIVE_LIMIT = 120.0  # the issue: owed work re-driven within 2 minutes


@pytest.mark.postgresql
def test_kill_9_of_workers_at_random_points_loses_and_doubles_nothing(
    engine: Engine, sink: WebhookSink, broker_url: str, fleet: Fleet, tmp_path: Path
) -> None:
    """1,000 escalations due; a worker process is killed (SIGKILL) four times at random moments
    — mid handle_timers, mid delivery, between, during the master's shutdown — and
    `openday worker` is started again as a supervisor would (dramatiq's master exits when one
    of its processes dies). Within 2 minutes of the last kill everything owed has arrived and
    the database owes nothing: the scheduler's reconciler re-drove the orphaned work
    (OPENDAY_REDRIVE_AFTER_SECONDS=10 here; every other setting, the delivery lease included,
    is the default). Nothing arrives twice, except a key whose first POST was made by a worker
    killed before it could record the success (the checker ties each such replay to a kill).

    OPENDAY_FAULT_SEED=<n> replays the same random choices."""
    seed = int(os.environ.get("OPENDAY_FAULT_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    sink.latency = 0.05  # a webhook takes a while: kills land mid-send, not just between
    seeded = seed_hold_escalations(engine, sink, events=500, levels=(1, 2))
    assert len(seeded.owed) == 1000
    env = service_env(engine.url.render_as_string(hide_password=False), broker_url)
    scheduler, worker = scheduler_and_worker(fleet, env, processes=2, threads=4)
    start = time.time()
    kills: list[float] = []
    progress: list[int] = []

    def diagnostics() -> str:
        return report(engine, sink, seeded, fleet, worker, start=start,
                      extra=f"seed {seed}; kills at deliveries {progress}")  # fmt: skip

    while len(kills) < KILLS and not all_delivered(sink, seeded)():
        # Kill a worker that is at work (one killed while booting makes dramatiq's master wait
        # out its 30 s fork timeout: slow, and not the point), at a random moment of it.
        starts, before = worker.starts, sink.distinct()

        def at_work(before: int = before) -> bool:
            return sink.distinct() >= min(before + 20, len(seeded.owed)) and bool(
                worker.worker_pids()
            )

        wait_until(at_work, 90, "the restarted worker to deliver", diagnostics=diagnostics)
        time.sleep(rng.uniform(0.0, 1.0))
        if worker.starts == starts and worker.kill_random_child(rng) is not None:
            kills.append(time.time())
            progress.append(sink.distinct())
    assert len(kills) >= 3, f"only {len(kills)} kills before the work ran out (seed {seed})"

    took = wait_until(settled(engine, sink, seeded), REDRIVE_LIMIT + 60, "everything owed",
                      diagnostics=diagnostics)  # fmt: skip
    verdict = check_exactly_once(engine, sink, seeded, kills=kills, settle=3)
    print(
        f"\nseed {seed}; {len(kills)} kills at {progress} distinct deliveries; worker started"
        f" {worker.starts}x; settled {took:.1f} s after the last kill; {verdict.summary()}"
    )
    assert_exactly_once(verdict, allow_explained_replays=True)
    assert took <= REDRIVE_LIMIT, (
        f"owed work took {took:.0f} s after the last kill to be re-driven and delivered "
        f"(limit {REDRIVE_LIMIT:.0f} s; redrive_after {REDRIVE_AFTER_SECONDS} s)\n{diagnostics()}"
    )
    # The reconciler, not dramatiq's heartbeat (60 s), brought the orphaned work back.
    assert log_events(scheduler.log, "work_redriven"), "the reconciler re-drove nothing"
    assert scheduler.alive(), diagnostics()
