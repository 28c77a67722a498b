"""Every message delivered twice: one notification each."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import redis
from sqlalchemy.engine import Engine

from tests.faults.harness import (
    DOUBLED_COPIES,
    DOUBLED_ORIGINALS,
    Fleet,
    WebhookSink,
    assert_exactly_once,
    check_exactly_once,
    order_delays,
    report,
    seed_hold_escalations,
    service_env,
    settled,
    wait_until,
)


@pytest.mark.postgresql
def test_every_message_delivered_twice_sends_each_notification_once(
    engine: Engine, sink: WebhookSink, broker_url: str, fleet: Fleet, tmp_path: Path
) -> None:
    """The real actors on real Redis, behind a middleware that re-enqueues every message it
    is about to process (tests/faults/doubling.py): every handle_timers and every
    deliver_notification runs twice — concurrently or one after the other — and each of the
    600 escalations still reaches the sink exactly once."""
    seeded = seed_hold_escalations(engine, sink, events=300, levels=(1, 2))
    env = service_env(engine.url.render_as_string(hide_password=False), broker_url)
    scheduler = fleet.spawn("scheduler", ["scheduler"], env)
    worker = fleet.spawn(
        "worker",
        [
            sys.executable,
            "-m",
            "dramatiq",
            "tests.faults.doubling",
            "workers.actors",
            "--processes",
            "2",
            "--threads",
            "4",
            "--skip-logging",
        ],
        env,
    )
    took = wait_until(settled(engine, sink, seeded), 120, "everything owed",
                      diagnostics=lambda: report(engine, sink, seeded, fleet))  # fmt: skip
    counters = redis.Redis.from_url(broker_url)
    try:

        def doubled() -> tuple[dict[str, int], dict[str, int]]:
            originals, copies = (
                {k.decode(): int(v) for k, v in counters.hgetall(key).items()}  # type: ignore[union-attr]
                for key in (DOUBLED_ORIGINALS, DOUBLED_COPIES)
            )
            return originals, copies

        # Every original's copy has been processed too (the delayed ones come 300 ms later).
        wait_until(lambda: doubled()[0] == doubled()[1], 30, "the copies", diagnostics=fleet.logs)
        originals, copies = doubled()
    finally:
        counters.close()
    verdict = check_exactly_once(engine, sink, seeded, settle=2)
    print(f"\nsettled in {took:.1f} s; delivered twice, by actor: {originals}; {verdict.summary()}")
    # Every deliver_notification message, and the timer messages, went through twice.
    assert originals.get("deliver_notification", 0) >= len(seeded.owed), originals
    assert originals.get("handle_timers", 0) > 0, originals
    assert_exactly_once(verdict)
    # Level 2 of each event never before its level 1, and within seconds of it rather than
    # after level 1's 60 s send lease (issue 26).
    delays = sorted(order_delays(sink, seeded))
    assert len(delays) == len(seeded.event_ids) and delays[0] >= 0, delays[:5]
    assert delays[-1] < 45, delays[-5:]
    assert scheduler.alive() and worker.alive(), fleet.logs()
