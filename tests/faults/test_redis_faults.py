"""Redis restarted (with and without persistence) and paused for 30 s with messages in flight.

Each test runs its own redis-server (never the machine's) as the broker of a real scheduler and
worker. Messages the broker loses (all of them when it restarts without persistence; the ones
a worker had fetched when its connection broke) are re-driven by the scheduler's reconciler
from the database, which owes them; nothing is sent twice because every actor re-checks its row.
"""

from __future__ import annotations

import random
import signal
import time
from collections import Counter
from pathlib import Path

import pytest
import redis
from dramatiq.message import Message
from sqlalchemy.engine import Engine

from tests.faults.harness import (
    Fleet,
    RedisServer,
    WebhookSink,
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

RECOVERY_LIMIT = 120.0  # owed work re-driven within 2 minutes of the broker's return


def _run_until_in_flight(
    engine: Engine, sink: WebhookSink, redis_server: RedisServer, fleet: Fleet
) -> tuple:
    """Seed 600 escalations — half due now, half falling due over the next 20 s, so the
    scheduler is still firing and relaying when the fault hits — start the processes and wait
    until deliveries are under way."""
    seeded = seed_hold_escalations(engine, sink, events=150, levels=(1, 2))
    later = seed_hold_escalations(
        engine, sink, events=150, levels=(1, 2), spread_seconds=20, lead_seconds=3
    )
    seeded.event_ids += later.event_ids
    seeded.timer_ids += later.timer_ids
    seeded.owed.update(later.owed)
    env = service_env(engine.url.render_as_string(hide_password=False), redis_server.url)
    scheduler, worker = scheduler_and_worker(fleet, env, processes=2, threads=4)
    wait_until(lambda: sink.distinct() >= 100, 60, "deliveries under way", diagnostics=fleet.logs)
    time.sleep(random.uniform(0, 1))  # a random moment of the work
    return seeded, scheduler, worker


def _finish(engine, sink, seeded, scheduler, worker, fleet, since: float, start: float) -> None:
    took = wait_until(
        settled(engine, sink, seeded),
        RECOVERY_LIMIT,
        "everything owed after the fault",
        diagnostics=lambda: report(engine, sink, seeded, fleet, worker, start=start),
    )
    verdict = check_exactly_once(engine, sink, seeded, settle=3)
    print(
        f"\nsettled {time.monotonic() - since:.1f} s after the broker came back ({took:.1f} s"
        f" of waiting); worker started {worker.starts}x; {verdict.summary()}"
    )
    assert_exactly_once(verdict)
    assert scheduler.alive(), "the scheduler died:\n" + fleet.logs()
    assert worker.starts == 1, f"the worker had to be restarted: {worker.exits}\n{fleet.logs()}"


@pytest.mark.postgresql
@pytest.mark.parametrize(
    ("appendonly", "stops"),
    [(False, [signal.SIGKILL]), (True, [signal.SIGTERM, signal.SIGKILL])],
    ids=["no-persistence", "appendonly"],
)
def test_redis_restart_with_messages_in_flight(
    engine: Engine,
    sink: WebhookSink,
    redis_server: RedisServer,
    fleet: Fleet,
    tmp_path: Path,
    appendonly: bool,
    stops: list[signal.Signals],
) -> None:
    """Redis goes away for 3 s and comes back, with messages in flight. Without persistence
    it is killed and comes back empty: every queued, delayed and unacknowledged message is
    gone. With an append-only file (fsync every second, as in docker-compose.yml) it is first
    restarted cleanly (everything comes back, the workers' unacknowledged messages included),
    then killed (the last second of writes — enqueues, acks — is lost). Every escalation
    arrives exactly once, and no process is restarted."""
    redis_server.start(appendonly=appendonly)
    start = time.time()
    seeded, scheduler, worker = _run_until_in_flight(engine, sink, redis_server, fleet)
    for n, sig in enumerate(stops):
        if n:  # the next fault once more work has gone through (and some is still owed)

            def further(target: int = min(sink.distinct() + 150, len(seeded.owed) - 100)) -> bool:
                return sink.distinct() >= target

            wait_until(further, 60, "more deliveries", diagnostics=fleet.logs)
        redis_server.stop(sig)
        time.sleep(3)
        redis_server.start(appendonly=appendonly)
    back = time.monotonic()
    _finish(engine, sink, seeded, scheduler, worker, fleet, back, start)


@pytest.mark.postgresql
def test_redis_paused_for_30_seconds_with_messages_in_flight(
    engine: Engine, sink: WebhookSink, redis_server: RedisServer, fleet: Fleet, tmp_path: Path
) -> None:
    """SIGSTOP on Redis for 30 s (it keeps its sockets open and answers nothing: every client
    call times out after redis-py's 5 s), then SIGCONT: everything owed arrives once, nothing
    restarted; the worker logs no traceback and one warning per process, and its acks sets
    drain at once."""
    redis_server.start(appendonly=False)
    start = time.time()
    seeded, scheduler, worker = _run_until_in_flight(engine, sink, redis_server, fleet)
    redis_server.pause()
    try:
        time.sleep(30)
    finally:
        redis_server.resume()
    back = time.monotonic()
    _finish(engine, sink, seeded, scheduler, worker, fleet, back, start)
    # A socket timeout is a lost connection (dramatiq issue 894): no traceback, one warning per
    # worker process, and nothing left behind in the workers' acks sets.
    text = (fleet.logdir / "worker.log").read_text(errors="replace")
    at = max(text.find("Traceback"), text.find("found a bug in Dramatiq"), text.find('"critical"'))
    assert at < 0, text[max(0, at - 1500) : at + 4000]
    lost = Counter(
        r["pid"] for r in log_events(fleet.logdir / "worker.log", "broker_connection_lost")
    )
    assert lost and set(lost.values()) == {1}, lost
    client = redis.Redis.from_url(redis_server.url, socket_timeout=5)

    def acks_empty() -> bool:
        """No message is stuck unacknowledged. A delay queue's acks set rightly holds the
        delayed messages its consumer is waiting on (level 2 waiting for level 1's backoff):
        those must be waiting for an eta still ahead, not left behind by the outage."""
        now_ms = time.time() * 1000
        for key in client.scan_iter("dramatiq:__acks__.*"):
            members = client.smembers(key)
            queue = key.decode().split(".", 2)[-1]
            if not queue.endswith(".DQ"):
                if members:
                    return False
                continue
            for message_id in members:
                data = client.hget(f"dramatiq:{queue}.msgs", message_id)
                if data is None or Message.decode(data).options.get("eta", 0) < now_ms - 5000:
                    return False
        return True

    def acks_left() -> str:
        keys = {k.decode(): client.scard(k) for k in client.scan_iter("dramatiq:__acks__.*")}
        now_ms = time.time() * 1000
        sample = []
        for key in client.scan_iter("dramatiq:__acks__.*"):
            queue = key.decode().split(".", 2)[-1]
            for message_id in list(client.smembers(key))[:5]:
                data = client.hget(f"dramatiq:{queue}.msgs", message_id)
                if data is None:
                    sample.append((queue, "no message body"))
                else:
                    m = Message.decode(data)
                    eta = m.options.get("eta", 0)
                    sample.append((queue, m.actor_name, f"eta {(eta - now_ms) / 1000:.1f} s"))
        return f"acks sets: {keys}\nsample: {sample}\n" + fleet.logs()

    took = wait_until(acks_empty, 15, "the workers' acks sets empty", diagnostics=acks_left)
    print(f"acks sets empty {took:.1f} s after everything settled; warnings per pid {dict(lost)}")
