"""Timers: how late spread-out timers fire, and how fast a burst is escalated and delivered,
against a floor doing the same per-deadline database work set-based in SQL with no queue.

Run from the project root:

    .venv/bin/python bench/timers.py [--spread 2000 --spread-seconds 60] [--burst 100000]

1. floor (the limit the burst is held to): `--burst` pending level-1 hold escalations, all due,
   on their own planned events; then in batches of the scheduler's size, with no broker and no
   worker: claim (one UPDATE … RETURNING with a FOR UPDATE SKIP LOCKED subquery, committed, as
   the scheduler does), then in a second transaction lock the batch's events, raise their
   escalation level, insert the notifications (one multi-row INSERT … ON CONFLICT DO NOTHING …
   RETURNING, recorded as sent, as the log channel's are), mark the timers done, commit; then
   deliver each to the same sink as the service (the log channel, structlog JSON through the
   standard logging handler into a file). Timed from the first claim to the last line written.
   The broker-only figure (a no-op dramatiq actor draining `--burst` messages,
   bench/noop_actor.py) is printed beside it for reference.
2. `openday scheduler` and `openday worker --processes 2 --threads 8` are started (log channel
   only: no SMTP, no webhooks, OPENDAY_NOTIFY_LOG=true; campaign delivery `individual`, so no
   digests: digests are counted separately, see tests/escalation/test_digests.py).
3. spread: `--spread` pending timers (rule event_hold, escalation level 1, each on its own real
   planned event whose date has passed) due evenly over `--spread-seconds`, starting 10 s ahead;
   inserted in SQL followed by the NOTIFY a move sends. Lateness per timer from the rows:
   claimed − due_at (the scheduler's first claim: its first handle_timers outbox row),
   fired_at − due_at (fired_at is overwritten when the reconciler re-drives a timer),
   handled_at − due_at (handle_timers), sent_at − due_at (the log notification delivered).
4. burst: `--burst` such timers all due at one instant T (10 s ahead); timed from T until the last
   of their notifications is `sent`; compared with 3 × the floor.

Then the peak RSS (VmHWM) of the scheduler and of every worker process. Figures taken on a busy
machine (the warning lines at the start) are preliminary.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _common import (  # first: puts the project root on sys.path
    DEFAULT_PG,
    DEFAULT_REDIS,
    OPENDAY,
    Peak,
    Proc,
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
)
from _seed import connect, seed_events, seed_world

from workflows.kernel.clock import SystemClock, local_date

WORKER_ARGS = ["--processes", "2", "--threads", "8"]


def wait_workers(redis_url: str, processes: int, proc: Proc, timeout: float = 60) -> None:
    """Until every worker process has sent a heartbeat to the broker."""
    import redis

    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.zcard("dramatiq:__heartbeats__") >= processes:
            time.sleep(1.0)
            return
        if not proc.alive():
            raise SystemExit(f"{proc.name} exited:\n{proc.tail()}")
        time.sleep(0.1)
    raise SystemExit(f"{proc.name}: no heartbeat after {timeout} s\n{proc.tail()}")


def noop_floor(redis_base: str, db: int, count: int, logdir: Path) -> tuple[float, float, Peak]:
    """Seconds to drain `count` messages through the no-op actor; seconds spent sending."""
    import redis

    with private_redis(redis_base, db) as url:
        env = {**os.environ, "BENCH_NOOP_BROKER_URL": url, "dramatiq_prom_port": str(free_port())}
        worker = spawn(
            "noop-worker",
            [sys.executable, "-m", "dramatiq", "noop_actor", "--path", "bench", *WORKER_ARGS],
            env,
            logdir,
        )
        try:
            wait_workers(url, 2, worker)
            os.environ["BENCH_NOOP_BROKER_URL"] = url
            sys.path.insert(0, str(Path(__file__).parent))
            import noop_actor

            client = redis.Redis.from_url(url)
            msgs = f"dramatiq:{noop_actor.QUEUE}.msgs"
            t0 = time.perf_counter()
            for i in range(count):
                noop_actor.noop.send(i)
            sent = time.perf_counter() - t0
            while client.hlen(msgs):
                time.sleep(0.005)
            drained = time.perf_counter() - t0
            peak = peak_rss("no-op worker", worker)
        finally:
            stop(worker)
    return drained, sent, peak


def insert_timers(conn: Any, first: int, count: int, start: datetime, step: float) -> None:
    """One pending level-1 hold escalation per event [first, first+count), due start + i*step,
    then the NOTIFY a move's commit sends."""
    conn.execute(
        """
        INSERT INTO timer (rule, kind, level, subject_type, subject_id, event_id, deadline_on,
                           due_at, provisional, state, created_at)
        SELECT 'event_hold', 'escalation', 1, 'event', e.id, e.id, e.date_latest,
               %(start)s + (e.id - %(first)s) * %(step)s * interval '1 second', false,
               'pending', now()
        FROM event e WHERE e.id >= %(first)s AND e.id < %(first)s + %(count)s
        """,
        {"start": start, "first": first, "count": count, "step": step},
    )
    conn.execute("NOTIFY openday_timers")


FLOOR_CLAIM = """
UPDATE timer SET state = 'fired', fired_at = now()
WHERE id IN (SELECT id FROM timer WHERE state = 'pending' AND due_at <= now()
             ORDER BY due_at LIMIT %(batch)s FOR UPDATE SKIP LOCKED)
RETURNING id
"""
FLOOR_LOCK = "SELECT e.id FROM event e WHERE e.id = ANY(%(events)s) ORDER BY e.id FOR UPDATE"
FLOOR_TIMERS = """
SELECT t.id, t.event_id FROM timer t WHERE t.id = ANY(%(ids)s) AND t.state = 'fired'
ORDER BY t.id FOR UPDATE
"""
FLOOR_LEVEL = """
UPDATE event SET escalation_level = greatest(escalation_level, 1), last_notified_at = now()
WHERE id = ANY(%(events)s)
"""
FLOOR_NOTIFY = """
INSERT INTO notification (key, timer_id, subject_type, subject_id, event_id, unit_id, rule, kind,
                          level, channel, recipient, title, body, state, attempts, created_at,
                          sent_at)
SELECT 'event:' || t.subject_id || ':event_hold:escalation:1:' || t.deadline_on || ':log:' || u.id,
       t.id, t.subject_type, t.subject_id, e.id, u.id, t.rule, t.kind, t.level, 'log',
       'unit:' || u.id, '【催办】' || u.name || '：政府开放日活动未按期开展',
       u.name || '：' || chr(10) || '贵单位“' || e.theme || '”政府开放日活动计划于 '
         || e.date_latest || ' 开展，截至 ' || t.deadline_on || ' 尚未登记开展。',
       'sent', 1, now(), now()
FROM timer t JOIN event e ON e.id = t.event_id JOIN unit u ON u.id = e.unit_id
WHERE t.id = ANY(%(ids)s)
ORDER BY t.subject_id, t.level
ON CONFLICT (key) DO NOTHING
RETURNING id, key, channel, recipient, title
"""
FLOOR_DONE = "UPDATE timer SET state = 'done', handled_at = now() WHERE id = ANY(%(ids)s)"


def sql_floor(url: str, count: int, batch: int, sink: Path) -> tuple[float, int]:
    """Seconds for the same per-deadline work as the service, set-based SQL, no queue, each
    notification written to the log channel's sink; how many were delivered."""
    import logging

    from settings import Settings, configure_logging
    from workers.channels import LogChannel, Message

    configure_logging(Settings(log_format="json", log_level="INFO"))
    root = logging.getLogger()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    stream = sink.open("w", encoding="utf-8")
    handler.setStream(stream)
    channel = LogChannel()
    delivered = 0
    try:
        with connect(url) as conn:
            t0 = time.perf_counter()
            while True:
                with conn.transaction():
                    ids = [r[0] for r in conn.execute(FLOOR_CLAIM, {"batch": batch})]
                if not ids:
                    break
                with conn.transaction():
                    rows = conn.execute(
                        "SELECT event_id FROM timer WHERE id = ANY(%(ids)s)", {"ids": ids}
                    ).fetchall()
                    events = sorted({r[0] for r in rows})
                    conn.execute(FLOOR_LOCK, {"events": events})
                    conn.execute(FLOOR_TIMERS, {"ids": ids})
                    conn.execute(FLOOR_LEVEL, {"events": events})
                    sent = conn.execute(FLOOR_NOTIFY, {"ids": ids}).fetchall()
                    conn.execute(FLOOR_DONE, {"ids": ids})
                    for row_id, key, chan, recipient, title in sent:
                        channel.send(
                            Message(key=key, channel=chan, recipient=recipient, subject=title,
                                    body="", data={"notification_id": row_id})
                        )  # fmt: skip
                        delivered += 1
            elapsed = time.perf_counter() - t0
    finally:
        stream.close()
    return elapsed, delivered


def wait_sent(conn: Any, first: int, count: int, procs: list[Proc], timeout: float) -> int:
    """Until every notification of timers on events [first, first+count) is sent."""
    deadline = time.monotonic() + timeout
    sent = 0
    while time.monotonic() < deadline:
        sent = conn.execute(
            "SELECT count(*) FROM notification WHERE state = 'sent' AND event_id >= %s "
            "AND event_id < %s",
            (first, first + count),
        ).fetchone()[0]
        if sent >= count:
            return sent
        for proc in procs:
            if not proc.alive():
                raise SystemExit(f"{proc.name} exited:\n{proc.tail()}")
        time.sleep(0.25)
    return sent


def lateness(conn: Any, first: int, count: int) -> dict[str, list[float]]:
    """fired/handled/sent − due, seconds, per timer."""
    rows = conn.execute(
        """
        SELECT extract(epoch FROM t.fired_at - t.due_at),
               extract(epoch FROM t.handled_at - t.due_at),
               extract(epoch FROM n.sent_at - t.due_at)
        FROM timer t LEFT JOIN notification n ON n.timer_id = t.id
        WHERE t.event_id >= %s AND t.event_id < %s
        """,
        (first, first + count),
    ).fetchall()
    out: dict[str, list[float]] = {"claimed": [], "fired": [], "handled": [], "sent": []}
    for fired, handled, sent in rows:
        for key, value in (("fired", fired), ("handled", handled), ("sent", sent)):
            if value is not None:
                out[key].append(float(value))
    # The reconciler overwrites fired_at when it re-drives a timer; the first handle_timers
    # outbox row naming each timer keeps when the scheduler first claimed it.
    claimed = conn.execute(
        """
        SELECT extract(epoch FROM min(o.created_at) - min(t.due_at))
        FROM outbox o
        CROSS JOIN LATERAL jsonb_array_elements_text((o.args::jsonb) -> 0) AS ids(id)
        JOIN timer t ON t.id = ids.id::int
        WHERE o.actor = 'handle_timers' AND t.event_id >= %s AND t.event_id < %s
        GROUP BY t.id
        """,
        (first, first + count),
    ).fetchall()
    out["claimed"] = [float(r[0]) for r in claimed]
    return out


def main(argv: list[str] | None = None) -> int:
    """Floor, spread, burst; one table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_PG, help="PostgreSQL server URL")
    parser.add_argument("--redis", default=DEFAULT_REDIS, help="Redis server URL (no db)")
    parser.add_argument("--redis-db", type=int, default=11, help="empty Redis db for the service")
    parser.add_argument("--noop-redis-db", type=int, default=14, help="empty Redis db (14)")
    parser.add_argument("--spread", type=int, default=2000)
    parser.add_argument("--spread-seconds", type=float, default=60.0)
    parser.add_argument("--burst", type=int, default=100_000)  # issue 32: a city's import
    parser.add_argument("--timeout", type=float, default=600.0, help="give up after (s)")
    parser.add_argument("--keep-logs", help="keep the processes' stdout/stderr in this folder")
    args = parser.parse_args(argv)
    others = foreign_processes([])
    for line in others:
        print(f"warning: busy machine, another process runs: {line}", file=sys.stderr)

    with tempfile.TemporaryDirectory(prefix="openday-bench-timers-") as tmp:
        logdir = Path(args.keep_logs or tmp)
        logdir.mkdir(parents=True, exist_ok=True)
        noop, noop_send, noop_peak = noop_floor(args.redis, args.noop_redis_db, args.burst,
                                                logdir)  # fmt: skip

        with (
            fresh_database(args.database_url) as url,
            private_redis(args.redis, args.redis_db) as broker_url,
        ):
            world = seed_world(url, 1, staff_units=0)
            past = local_date(SystemClock().now()) - timedelta(days=2)
            batch = int(os.environ.get("OPENDAY_SCHEDULER_BATCH", "500"))
            with connect(url) as conn:
                floor_first, _ = seed_events(conn, world, args.burst, day=past)
                spread_first, _ = seed_events(conn, world, args.spread, day=past)
                burst_first, _ = seed_events(conn, world, args.burst, day=past)
                insert_timers(conn, floor_first, args.burst,
                              datetime.now(UTC) - timedelta(seconds=1), 0.0)  # fmt: skip
                conn.execute("ANALYZE")
            floor, floor_sent = sql_floor(url, args.burst, batch, logdir / "floor-sink.log")
            if floor_sent != args.burst:
                raise SystemExit(f"floor: {floor_sent} of {args.burst} delivered")
            env = service_env(url, broker_url, logdir / "var",
                              dramatiq_prom_port=str(free_port()),
                              OPENDAY_SCHEDULER_METRICS_PORT=str(free_port()))  # fmt: skip
            keep = bool(args.keep_logs)
            scheduler = spawn("scheduler", [OPENDAY, "scheduler"], env, logdir, keep_stdout=keep)
            worker = spawn("worker", [OPENDAY, "worker", *WORKER_ARGS], env, logdir,
                           keep_stdout=keep)  # fmt: skip
            peaks: list[Peak] = []
            try:
                wait_workers(broker_url, 2, worker)
                with connect(url) as conn:
                    start = datetime.now(UTC) + timedelta(seconds=10)
                    insert_timers(conn, spread_first, args.spread, start,
                                  args.spread_seconds / args.spread)  # fmt: skip
                    left = (start - datetime.now(UTC)).total_seconds() + args.spread_seconds
                    time.sleep(max(0.0, left))
                    got = wait_sent(conn, spread_first, args.spread, [scheduler, worker],
                                    args.timeout)  # fmt: skip
                    if got < args.spread:
                        raise SystemExit(f"spread: only {got} of {args.spread} sent")
                    spread = lateness(conn, spread_first, args.spread)

                    instant = datetime.now(UTC) + timedelta(seconds=10)
                    insert_timers(conn, burst_first, args.burst, instant, 0.0)
                    time.sleep(max(0.0, (instant - datetime.now(UTC)).total_seconds()))
                    got = wait_sent(conn, burst_first, args.burst, [scheduler, worker],
                                    args.timeout)  # fmt: skip
                    if got < args.burst:
                        raise SystemExit(f"burst: only {got} of {args.burst} sent in time")
                    burst = lateness(conn, burst_first, args.burst)
                    extra = conn.execute(
                        "SELECT count(*) FROM outbox WHERE actor = 'handle_timers'"
                    ).fetchone()[0]
                peaks.append(peak_rss("scheduler", scheduler))
                peaks.append(peak_rss("worker", worker))
            finally:
                stop(scheduler)
                stop(worker)
            versions_text = server_versions(url, broker_url)

    rows = []
    for label, series in (("spread", spread), ("burst", burst)):
        for key in ("claimed", "fired", "handled", "sent"):
            values = series[key]
            rows.append(
                [f"{label}: {key} − due", f"{pct(values, 50):.3f}", f"{pct(values, 99):.3f}",
                 f"{max(values):.3f}", str(len(values))]
            )  # fmt: skip
    burst_total = max(burst["sent"])
    rows.append(["burst: all sent (T → last sent_at)", "", "", f"{burst_total:.2f}",
                 str(len(burst["sent"]))])  # fmt: skip
    rows.append([f"floor: same SQL work set-based + log sink, {args.burst:,}", "", "",
                 f"{floor:.2f}", str(args.burst)])  # fmt: skip
    rows.append([f"reference: no-op actor drains {args.burst:,} messages", "", "", f"{noop:.2f}",
                 str(args.burst)])  # fmt: skip
    spread_p99 = pct(spread["claimed"], 99)
    caption = (
        f"seconds; preliminary unless the machine was quiet; spread: {args.spread:,} timers over "
        f"{args.spread_seconds:.0f} s; burst: "
        f"{args.burst:,} timers due at one instant; worker {' '.join(WORKER_ARGS)}; scheduler "
        f"batch {os.environ.get('OPENDAY_SCHEDULER_BATCH', '500')}; {extra:,} handle_timers "
        f"messages written for {args.spread + args.burst:,} timers\n"
        f"target spread p99 fire lateness ≤ 1 s: {spread_p99:.3f} s → {verdict(spread_p99 <= 1)}\n"
        f"target burst ≤ 3 × floor: {burst_total:.2f} s vs 3 × {floor:.2f} = {3 * floor:.2f} s "
        f"({burst_total / floor:.1f}× the floor) → {verdict(burst_total <= 3 * floor)}\n"
        f"reference: sending {args.burst:,} no-op messages took {noop_send:.2f} s of the "
        f"{noop:.2f} s\n"
        + "\n".join(f"peak RSS {p.name}: {p.describe()}" for p in [*peaks, noop_peak])
        + f"\n{machine()}; {versions_text}; other service/test processes at start: {len(others)}"
    )
    print_table("timers: lateness and burst delivery (log channel)",
                ["what", "p50", "p99", "max", "n"], rows, caption)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
