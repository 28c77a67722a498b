"""What every fault test needs: the real processes, throwaway servers to break, a sink that
records what arrives, cheap seeding of due escalations, and the exactly-once checker.

The checker compares the escalations *owed* — computed here, independently of the service, from
the seeded events and timers — with the ones *delivered* — the `Idempotency-Key` of every POST
that reached the sink (a local HTTP receiver standing in for a unit's JSON webhook). Every owed
one must arrive, nothing else may, and no key may arrive twice, except (only in tests that
kill -9 a worker) a key whose earlier POST was made by a worker killed before it could record
the success: no sender can tell that apart from a lost request, which is what the key is for.
Those replays are reported, bounded and tied to a kill, never silently accepted.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import redis
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from models import Campaign, Event, Notification, OutboxMessage, Timer, Unit
from tests.ports import free_port
from workflows.campaign.rules import CampaignRules
from workflows.inbox.service import INBOX

PROJECT_DIR = Path(__file__).resolve().parents[2]
OPENDAY = str(Path(sys.executable).parent / "openday")

# Test-time scale of the reconciler (OPENDAY_REDRIVE_AFTER_SECONDS; the default is 60 s): owed
# work untouched this long is re-sent by the scheduler. Everything else keeps its default.
REDRIVE_AFTER_SECONDS = 10
HELD_BY = date(2022, 9, 16)  # the seeded events' date: their hold deadline is long past
# Redis hashes (actor -> count) kept by tests/faults/doubling.py's middleware. Not imported from
# there: importing that module installs a broker as dramatiq's global one.
DOUBLED_ORIGINALS = "fault:originals"
DOUBLED_COPIES = "fault:copies"


# ------------------------------------------------------------------------------------------
# Small tools
# ------------------------------------------------------------------------------------------


def wait_until(
    predicate: Callable[[], Any],
    timeout: float,
    what: str,
    *,
    interval: float = 0.2,
    diagnostics: Callable[[], str] | None = None,
) -> float:
    """Poll until `predicate()` is truthy; seconds it took, or AssertionError after `timeout`."""
    start = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            extra = f"\n{diagnostics()}" if diagnostics else ""
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}{extra}")
        time.sleep(interval)


def tail(path: Path, chars: int = 4000) -> str:
    """The end of a log file."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return f"({path.name}: no file)"
    return f"--- {path.name} (last {chars} chars) ---\n{text[-chars:]}"


def log_events(path: Path, event: str) -> list[dict[str, Any]]:
    """The JSON log lines of a process (OPENDAY_LOG_FORMAT=json) whose event is `event`."""
    out: list[dict[str, Any]] = []
    try:
        lines = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return out
    for line in lines:
        if f'"{event}"' not in line:
            continue
        try:
            record = json.loads(line[line.index("{") :])
        except ValueError:
            continue
        if record.get("event") == event:
            out.append(record)
    return out


# ------------------------------------------------------------------------------------------
# The sink: a JSON webhook receiver keyed by Idempotency-Key
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Post:
    """One request that reached the sink."""

    key: str
    path: str
    at: float  # time.time() when it arrived


class WebhookSink:
    """A local HTTP receiver (threads) recording every POST's Idempotency-Key; answers 200."""

    def __init__(self, *, latency: float = 0.0) -> None:
        """`latency`: seconds between recording a POST and answering it (a real webhook takes
        a while; a worker killed meanwhile has delivered without knowing it)."""
        self.posts: list[Post] = []
        self.latency = latency
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                key = self.headers.get("Idempotency-Key") or ""
                with sink._lock:
                    sink.posts.append(Post(key, self.path, time.time()))
                if sink.latency:
                    time.sleep(sink.latency)
                body = b'{"ok": true}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 256

            def handle_error(self, request: Any, client_address: Any) -> None:
                # A sender killed while waiting for the answer: expected here, not an error.
                if not isinstance(sys.exc_info()[1], ConnectionError):
                    super().handle_error(request, client_address)

        self._server = Server(("127.0.0.1", 0), Handler)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> WebhookSink:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    def url(self, unit: int | str) -> str:
        """The webhook URL of one unit."""
        return f"http://127.0.0.1:{self.port}/unit/{unit}"

    def snapshot(self) -> list[Post]:
        """Every POST so far."""
        with self._lock:
            return list(self.posts)

    def counts(self) -> Counter[str]:
        """POSTs per key."""
        return Counter(p.key for p in self.snapshot())

    def distinct(self) -> int:
        """How many different keys arrived."""
        return len(self.counts())


# ------------------------------------------------------------------------------------------
# Seeding due escalations (SQL, cheap) and what they owe
# ------------------------------------------------------------------------------------------


def webhook_key(event_id: int, level: int, deadline_on: date, url: str) -> str:
    """The key the service must put on an event_hold escalation to a JSON webhook.

    Written out here, not imported, so the checker does not trust the code under test.
    """
    address = hashlib.sha256(url.encode()).hexdigest()[:16]
    return (
        f"event:{event_id}:event_hold:escalation:{level}:{deadline_on.isoformat()}:"
        f"webhook_json:{address}"
    )


@dataclass
class Seeded:
    """What was seeded and what it owes: one webhook POST per (event, level)."""

    event_ids: list[int]
    timer_ids: list[int]
    owed: dict[str, tuple[int, int]]  # key -> (event id, level)
    first_due: datetime
    last_due: datetime


def seed_hold_escalations(
    engine: Engine,
    sink: WebhookSink,
    *,
    events: int,
    units: int = 20,
    levels: tuple[int, ...] = (1, 2),
    spread_seconds: float = 0.0,
    lead_seconds: float = 0.0,
) -> Seeded:
    """`events` planned events whose hold deadline passed, each with a due escalation timer per
    level (campaign default rules: level 1 to the unit contact and head, level 2 also to the
    supervisors — here only the unit's JSON webhook exists, so one POST per timer is owed).

    Timers are due now (the default), or spread evenly over the next `spread_seconds` starting
    `lead_seconds` from now, so a fault can hit the scheduler while it is still firing.
    """
    now = datetime.now(UTC)
    tag = uuid.uuid4().hex[:8]
    with engine.begin() as conn:
        campaign_id = _seed_campaign(conn, tag, now)
        unit_ids, urls = _seed_units(conn, sink, units, tag, now)
        unit_of = [unit_ids[i % units] for i in range(events)]
        event_ids = _seed_events(conn, campaign_id, unit_of, now)
        dues = _due_moments(now, events * len(levels), spread_seconds, lead_seconds)
        timer_rows = []
        owed: dict[str, tuple[int, int]] = {}
        for i, event_id in enumerate(event_ids):
            for level in levels:
                timer_rows.append(_hold_timer_row(event_id, level, next(dues), now))
                key = webhook_key(event_id, level, HELD_BY, urls[unit_of[i]])
                owed[key] = (event_id, level)
        timer_table = Timer.__table__  # type: ignore[attr-defined]
        timer_ids = list(
            conn.execute(
                sa.insert(timer_table).returning(timer_table.c.id, sort_by_parameter_order=True),
                timer_rows,
            ).scalars()
        )
    moments = [r["due_at"] for r in timer_rows]
    return Seeded(event_ids, timer_ids, owed, min(moments), max(moments))


def _seed_campaign(conn: sa.Connection, tag: str, now: datetime) -> int:
    """A campaign with the default rules."""
    return conn.execute(
        sa.insert(Campaign.__table__).returning(Campaign.__table__.c.id),  # type: ignore[attr-defined]
        {
            "doc_number": f"故障测试〔{tag}〕",
            "title": "故障测试",
            "issuing_office": "资阳市雁江区人民政府办公室",
            "starts_on": date(2022, 8, 22),
            "ends_on": date(2022, 9, 22),
            "rules": CampaignRules().model_dump(),
            "created_at": now,
        },
    ).scalar_one()


def _seed_units(
    conn: sa.Connection, sink: WebhookSink, units: int, tag: str, now: datetime
) -> tuple[list[int], dict[int, str]]:
    """`units` units, each with a JSON webhook of its own on the sink; their ids and URLs."""
    unit_table = Unit.__table__  # type: ignore[attr-defined]
    unit_rows = [
        {
            "name": f"故障测试单位{i}-{tag}",
            "kind": "department",
            "webhook_url": "",
            "webhook_format": "json",
            "created_at": now,
        }
        for i in range(units)
    ]
    unit_ids = list(
        conn.execute(
            sa.insert(unit_table).returning(unit_table.c.id, sort_by_parameter_order=True),
            unit_rows,
        ).scalars()
    )
    urls = {uid: sink.url(uid) for uid in unit_ids}
    for uid, url in urls.items():
        conn.execute(sa.update(unit_table).where(unit_table.c.id == uid).values(webhook_url=url))
    return unit_ids, urls


def _seed_events(
    conn: sa.Connection, campaign_id: int, unit_of: list[int], now: datetime
) -> list[int]:
    """One planned event per entry of `unit_of` (its unit), to be held by HELD_BY."""
    event_rows = [
        {
            "campaign_id": campaign_id,
            "unit_id": unit_id,
            "theme": f"开放日{i}",
            "date_earliest": HELD_BY,
            "date_latest": HELD_BY,
            "tentative": False,
            "forms": [],
            "state": "planned",
            "version": 1,
            "escalation_level": 0,
            "created_at": now,
            "updated_at": now,
        }
        for i, unit_id in enumerate(unit_of)
    ]
    event_table = Event.__table__  # type: ignore[attr-defined]
    return list(
        conn.execute(
            sa.insert(event_table).returning(event_table.c.id, sort_by_parameter_order=True),
            event_rows,
        ).scalars()
    )


def _due_moments(
    now: datetime, total: int, spread_seconds: float, lead_seconds: float
) -> Iterator[datetime]:
    """Due an hour ago (a second apart), or spread over `spread_seconds` after `lead_seconds`."""
    for n in range(total):
        if spread_seconds:
            yield now + timedelta(seconds=lead_seconds + spread_seconds * n / total)
        else:
            yield now - timedelta(hours=1, seconds=n)


def _hold_timer_row(event_id: int, level: int, due: datetime, now: datetime) -> dict[str, Any]:
    """A pending event_hold escalation timer of one level."""
    return {
        "rule": "event_hold",
        "kind": "escalation",
        "level": level,
        "subject_type": "event",
        "subject_id": event_id,
        "event_id": event_id,
        "deadline_on": HELD_BY,
        "due_at": due,
        "provisional": False,
        "state": "pending",
        "created_at": now,
    }


# ------------------------------------------------------------------------------------------
# The checker
# ------------------------------------------------------------------------------------------


@dataclass
class Verdict:
    """Owed versus delivered, and what the database says."""

    owed: int
    delivered: int
    lost: list[str]
    unexpected: list[str]
    replays: dict[str, int]
    unexplained_replays: dict[str, str]
    timer_states: dict[str, int]
    notification_states: dict[str, int]
    db_missing: list[str]
    db_extra: list[str]
    handle_timer_messages: dict[int, int] = field(default_factory=dict)
    # Rows of the in-app inbox channel (issue 26): written with the item, never posted to the
    # sink, so they are counted apart (one per level-2 item and supervisor account).
    inbox_rows: int = 0

    def summary(self) -> str:
        """One paragraph for assertion messages and the report."""
        return (
            f"owed {self.owed}, delivered {self.delivered} distinct keys; lost {len(self.lost)}"
            f" {self.lost[:5]}; unexpected {len(self.unexpected)} {self.unexpected[:5]};"
            f" replays {len(self.replays)} (unexplained {len(self.unexplained_replays)}:"
            f" {dict(list(self.unexplained_replays.items())[:5])}); timers"
            f" {self.timer_states}; notifications {self.notification_states}; notification rows"
            f" missing {len(self.db_missing)} extra {len(self.db_extra)}; inbox rows"
            f" {self.inbox_rows}"
        )


def db_states(engine: Engine, seeded: Seeded) -> tuple[dict[str, int], dict[str, int]]:
    """Timer states of the seeded timers, and notification states of their events (the
    channels that post to the sink; the inbox's rows are Verdict.inbox_rows)."""
    timer_table = Timer.__table__  # type: ignore[attr-defined]
    notification_table = Notification.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        timers: dict[str, int] = dict(
            conn.execute(
                sa.select(timer_table.c.state, sa.func.count())
                .where(timer_table.c.id.in_(seeded.timer_ids))
                .group_by(timer_table.c.state)
            ).all()
        )
        notes: dict[str, int] = dict(
            conn.execute(
                sa.select(notification_table.c.state, sa.func.count())
                .where(notification_table.c.event_id.in_(seeded.event_ids))
                .where(notification_table.c.channel != INBOX)  # counted apart (inbox_rows)
                .group_by(notification_table.c.state)
            ).all()
        )
    return timers, notes


def all_delivered(sink: WebhookSink, seeded: Seeded) -> Callable[[], bool]:
    """A predicate: every owed key has reached the sink."""
    owed = set(seeded.owed)
    return lambda: owed <= set(sink.counts())


def _nearest(kills: list[float], t: float) -> float:
    """Seconds from `t` to the nearest kill (negative: the kill came first); nan if none."""
    return min((k - t for k in kills), key=lambda gap: abs(gap), default=float("nan"))


def timer_ids_of(actor: str, args: list[Any]) -> list[int]:
    """The timers a handle_timers message (a list of ids) is for."""
    if actor == "handle_timers":
        return [int(t) for t in args[0]]
    return []


def check_exactly_once(
    engine: Engine,
    sink: WebhookSink,
    seeded: Seeded,
    *,
    kills: list[float] | None = None,
    replay_window: tuple[float, float] = (-2.0, 5.0),
    settle: float = 0.0,
) -> Verdict:
    """Compare owed with delivered; `kills` (time.time() of each kill -9) may explain replays.

    A replay is explained only when every POST of that key but the last was recorded by the
    sink shortly before a kill (up to `replay_window[1]` s; or up to -`replay_window[0]` s
    after it: a request already sent can be recorded by the busy sink after the sender died),
    and the database counts at least as many attempts as POSTs (each POST had its own lease:
    the earlier outcome died with its worker).
    """
    if settle:
        time.sleep(settle)  # let anything that would still arrive (a duplicate) arrive
    posts = sink.snapshot()
    counts = Counter(p.key for p in posts)
    owed = set(seeded.owed)
    delivered = set(counts)
    replays = {k: n for k, n in counts.items() if n > 1}
    notification_table = Notification.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                notification_table.c.key,
                notification_table.c.state,
                notification_table.c.attempts,
                notification_table.c.channel,
            ).where(notification_table.c.event_id.in_(seeded.event_ids))
        ).all()
        inbox_rows = [r for r in rows if r.channel == INBOX]
        rows = [r for r in rows if r.channel != INBOX]
        outbox = OutboxMessage.__table__  # type: ignore[attr-defined]
        handle_msgs = Counter(
            timer_id
            for actor, args in conn.execute(sa.select(outbox.c.actor, outbox.c.args)).all()
            for timer_id in timer_ids_of(actor, args)
        )
    attempts = {r.key: r.attempts for r in rows}
    unexplained: dict[str, str] = {}
    for key, n in replays.items():
        times = sorted(p.at for p in posts if p.key == key)
        early = times[:-1]
        low, high = replay_window
        tied = all(any(low <= k - t <= high for k in (kills or [])) for t in early)
        if not tied and not kills:
            unexplained[key] = (
                f"{n} POSTs, {round(times[-1] - times[0], 1)} s apart, and no worker was killed"
                f" in this test; attempts {attempts.get(key)}"
            )
        elif not tied:
            gaps = [round(_nearest(kills or [], t), 2) for t in early]
            unexplained[key] = (
                f"{n} POSTs, {round(times[-1] - times[0], 1)} s apart; nearest kill after the "
                f"earlier POST(s): {gaps} s (negative: before); attempts {attempts.get(key)}"
            )
        elif attempts.get(key, 0) < n:
            unexplained[key] = f"{n} POSTs but only {attempts.get(key)} attempts recorded"
    timers, notes = db_states(engine, seeded)
    db_keys = {r.key for r in rows}
    return Verdict(
        owed=len(owed),
        delivered=len(delivered),
        lost=sorted(owed - delivered),
        unexpected=sorted(delivered - owed),
        replays=replays,
        unexplained_replays=unexplained,
        timer_states=timers,
        notification_states=notes,
        db_missing=sorted(owed - db_keys),
        db_extra=sorted(db_keys - owed),
        handle_timer_messages={t: handle_msgs.get(t, 0) for t in seeded.timer_ids},
        inbox_rows=len(inbox_rows),
    )


def order_delays(sink: WebhookSink, seeded: Seeded) -> list[float]:
    """Seconds from each event's level 1 reaching the sink to its level 2 (first arrivals):
    negative would be level 2 overtaking level 1; a minute would be level 2 waiting out level
    1's send lease instead of following its recorded send (issue 26)."""
    first: dict[str, float] = {}
    for post in sink.snapshot():
        first.setdefault(post.key, post.at)
    arrived: dict[int, dict[int, float]] = {}
    for key, (event_id, level) in seeded.owed.items():
        if key in first:
            arrived.setdefault(event_id, {})[level] = first[key]
    return [at[2] - at[1] for at in arrived.values() if 1 in at and 2 in at]


def assert_exactly_once(verdict: Verdict, *, allow_explained_replays: bool = False) -> None:
    """Every owed one delivered, nothing else, none twice (bar kill-explained replays)."""
    assert not verdict.lost, verdict.summary()
    assert not verdict.unexpected, verdict.summary()
    assert not verdict.db_missing and not verdict.db_extra, verdict.summary()
    assert verdict.timer_states == {"done": sum(verdict.timer_states.values())}, verdict.summary()
    assert verdict.notification_states == {"sent": verdict.owed}, verdict.summary()
    if allow_explained_replays:
        assert not verdict.unexplained_replays, verdict.summary()
    else:
        assert not verdict.replays, verdict.summary()


# ------------------------------------------------------------------------------------------
# Processes
# ------------------------------------------------------------------------------------------


def service_env(database_url: str, broker_url: str, **extra: str) -> dict[str, str]:
    """The environment of `openday …` processes: no OPENDAY_* from outside, ours only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENDAY_")}
    env.update(
        {
            "OPENDAY_DATABASE_URL": database_url,
            "OPENDAY_BROKER_URL": broker_url,
            "OPENDAY_LOG_FORMAT": "json",
            "OPENDAY_NOTIFY_LOG": "false",  # the log channel is one more row per timer: noise
            "OPENDAY_REDRIVE_AFTER_SECONDS": str(REDRIVE_AFTER_SECONDS),
            "OPENDAY_SCHEDULER_METRICS_PORT": "0",  # several schedulers per host in these tests
            "PYTHONUNBUFFERED": "1",
            "OPENDAY_ALLOW_PRIVILEGED_DB_ROLE": "true",  # the suite's superuser
        }
    )
    env.update(extra)
    return env


@dataclass
class Proc:
    """One spawned process and its log file."""

    name: str
    popen: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        """The process id."""
        return self.popen.pid

    def alive(self) -> bool:
        """Still running."""
        return self.popen.poll() is None


def children_of(pid: int) -> list[int]:
    """Direct children of a process, from /proc."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid:
            out.append(int(entry))
    return out


def cmdline(pid: int) -> str:
    """A process's command line ('' when gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def thread_count(pid: int) -> int:
    """How many threads a process runs (0 when gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return 0


class Fleet:
    """The service's processes for one test; everything is stopped at the end, by pid."""

    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self.procs: list[Proc] = []
        self.supervisors: list[SupervisedWorker] = []

    def spawn(self, name: str, args: list[str], env: dict[str, str]) -> Proc:
        """Start `openday <args>` with its output in <logdir>/<name>.log (appended)."""
        log = self.logdir / f"{name}.log"
        handle = log.open("ab")
        popen = subprocess.Popen(
            args if args[0].startswith("/") else [OPENDAY, *args],
            env=env,
            cwd=PROJECT_DIR,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        handle.close()
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def worker(
        self, env: dict[str, str], *, name: str = "worker", processes: int = 2, threads: int = 4
    ) -> SupervisedWorker:
        """`openday worker`, restarted whenever it exits, as a process supervisor would."""
        sup = SupervisedWorker(self, env, name=name, processes=processes, threads=threads)
        self.supervisors.append(sup)
        sup.start()
        return sup

    def logs(self) -> str:
        """The tail of every log, for failure messages."""
        names = sorted({p.log for p in self.procs})
        return "\n".join(tail(p, 2500) for p in names)

    def stop_all(self, timeout: float = 30.0) -> None:
        """SIGTERM everything we started (and worker children), then SIGKILL stragglers."""
        for sup in self.supervisors:
            sup.stopping = True
        for sup in self.supervisors:
            sup.join(5)
        live = [p for p in self.procs if p.alive()]
        kids = {(c, cmdline(c)) for p in live for c in children_of(p.pid)}
        for p in live:
            try:
                p.popen.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout
        for p in live:
            try:
                p.popen.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.popen.kill()
                p.popen.wait(10)
        for pid, command in kids:  # children that outlived their master (still the same process)
            if command and cmdline(pid) == command:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


class SupervisedWorker(threading.Thread):
    """Runs `openday worker` and starts it again when it exits (dramatiq's master exits when
    one of its worker processes dies: it stops the others and leaves restarting to the
    supervisor — systemd, Kubernetes; here, this thread)."""

    def __init__(
        self, fleet: Fleet, env: dict[str, str], *, name: str, processes: int, threads: int
    ) -> None:
        super().__init__(daemon=True, name=f"supervise-{name}")
        self.fleet = fleet
        # dramatiq's Prometheus exporter (a fork process of the master): a port and a sample
        # directory of its own, so parallel workers on this host do not fight over :9191.
        prom_dir = fleet.logdir / f"prometheus-{name}"
        prom_dir.mkdir(exist_ok=True)
        self.env = {
            **env,
            "dramatiq_prom_port": str(free_port()),
            "dramatiq_prom_db": str(prom_dir),
        }
        self.label = name
        self.args = ["worker", "--processes", str(processes), "--threads", str(threads)]
        self.stopping = False
        self.starts = 0
        self.exits: list[int | None] = []
        self.current: Proc | None = None
        self.history: list[tuple[float, str]] = []  # (time.time(), what happened)
        self._lock = threading.Lock()

    def launch(self) -> Proc:
        """Start a fresh `openday worker`."""
        with self._lock:
            self.current = self.fleet.spawn(self.label, self.args, self.env)
            self.starts += 1
            self.history.append((time.time(), f"started pid {self.current.pid}"))
            return self.current

    def run(self) -> None:
        self.launch()
        while not self.stopping:
            proc = self.current
            if proc is not None and not proc.alive():
                self.exits.append(proc.popen.returncode)
                self.history.append((time.time(), f"exited {proc.popen.returncode}"))
                if not self.stopping:
                    self.launch()
            time.sleep(0.2)

    def worker_pids(self) -> list[int]:
        """The dramatiq worker processes of the current master: forked children (same command
        line; not the resource tracker) running worker and consumer threads (not the one or two
        threads of the Prometheus exporter's fork process)."""
        proc = self.current
        if proc is None or not proc.alive():
            return []
        master = cmdline(proc.pid)
        return [c for c in children_of(proc.pid) if cmdline(c) == master and thread_count(c) >= 4]

    def kill_random_child(self, rng: random.Random) -> int | None:
        """kill -9 one worker process of the current master; its pid, or None if none yet."""
        pids = self.worker_pids()
        if not pids:
            return None
        victim = rng.choice(pids)
        try:
            os.kill(victim, signal.SIGKILL)
        except ProcessLookupError:
            return None
        self.history.append((time.time(), f"killed child {victim}"))
        return victim


def scheduler_and_worker(
    fleet: Fleet, env: dict[str, str], *, processes: int = 2, threads: int = 4
) -> tuple[Proc, SupervisedWorker]:
    """The background half of the service: one scheduler, one supervised worker."""
    scheduler = fleet.spawn("scheduler", ["scheduler"], env)
    worker = fleet.worker(env, processes=processes, threads=threads)
    return scheduler, worker


# ------------------------------------------------------------------------------------------
# Redis: the machine's server (a database of our own) or a throwaway server to break
# ------------------------------------------------------------------------------------------

CLAIM_KEY = "openday:fault-tests:claim"  # expires: a crashed run frees its database
OWNER_KEY = "openday:fault-tests:owner"  # marks the database's keys as ours while we run


@contextmanager
def claimed_redis_db(base_url: str) -> Iterator[str]:
    """A database number on the machine's Redis that no other fault run is using, emptied."""
    base = base_url.rsplit("/", 1)[0] if base_url.count("/") > 2 else base_url
    token = uuid.uuid4().hex
    for db in (15, 14, 12, 10, 9, 8):  # 13: tests/deploy/test_end_to_end.py; 11: bench/
        url = f"{base}/{db}"
        client = redis.Redis.from_url(url)
        try:
            if client.dbsize() and not client.exists(OWNER_KEY):
                continue  # somebody else's data (another test suite, a benchmark): not ours
            if client.set(CLAIM_KEY, token, nx=True, ex=1800):
                client.flushdb()  # ours: empty, or left over by an earlier fault run
                client.set(CLAIM_KEY, token, ex=1800)
                client.set(OWNER_KEY, "1")
                try:
                    yield url
                finally:
                    if client.get(CLAIM_KEY) == token.encode():
                        client.flushdb()
                return
        finally:
            client.close()
    raise RuntimeError("no free Redis database among 8-15 (others hold data or are claimed)")


class RedisServer:
    """A throwaway redis-server (never the machine's): start, kill, restart, pause."""

    def __init__(self, workdir: Path, *, port: int | None = None) -> None:
        self.binary = shutil.which("redis-server")
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """The URL of database 0."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, *, appendonly: bool) -> None:
        """Start (again, same port and directory) and wait until it answers PING."""
        assert self.binary
        log = (self.dir / "redis.log").open("ab")
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes" if appendonly else "no",
                "--dir",
                str(self.dir),
                "--daemonize",
                "no",
            ],  # fmt: skip
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        client = redis.Redis(port=self.port, socket_timeout=1)

        def up() -> bool:
            try:
                return bool(client.ping())
            except redis.RedisError:
                assert self.proc is not None and self.proc.poll() is None, tail(
                    self.dir / "redis.log"
                )
                return False

        wait_until(up, 20, f"redis-server on {self.port}", interval=0.05)
        client.close()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop it with `sig` (SIGTERM: clean shutdown, AOF flushed; SIGKILL: a crash)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def pause(self) -> None:
        """SIGSTOP: the server keeps its sockets but answers nothing."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def close(self) -> None:
        """Make sure it is gone (resumed first if paused)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.stop(signal.SIGKILL)


# ------------------------------------------------------------------------------------------
# PostgreSQL: a throwaway cluster to stop and start
# ------------------------------------------------------------------------------------------


def postgres_bindir() -> Path | None:
    """The newest /usr/lib/postgresql/*/bin with initdb and pg_ctl (or the ones on PATH)."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    for bindir in reversed(candidates):
        if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            return bindir
    found = shutil.which("initdb")
    return Path(found).parent if found and shutil.which("pg_ctl") else None


class PostgresServer:
    """A private cluster (initdb, pg_ctl) on a free port; as root it runs as user postgres."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = free_port()
        # Not under pytest's tmp_path: that is 0700 root, which user postgres cannot enter.
        self.root = Path(tempfile.mkdtemp(prefix="openday-pg-"))
        self.data = self.root / "data"
        self.logfile = self.root / "postgres.log"
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self.started = False

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=self.root)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}")
        return done

    def init(self) -> None:
        """initdb (trust auth, no fsync: a test cluster)."""
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync",
                  "-E", "UTF8", "--locale=C")  # fmt: skip

    def start(self) -> None:
        """pg_ctl start on our port and socket directory; waits until it accepts connections."""
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.logfile),
                  "-w", "-t", "60", "start")  # fmt: skip
        self.started = True

    def stop(self) -> None:
        """pg_ctl stop -m fast: connections are cut, the port closes."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")
        self.started = False

    def url(self, database: str = "postgres") -> str:
        """A SQLAlchemy URL for one of its databases."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """CREATE DATABASE; its URL."""
        admin = sa.create_engine(self.url(), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        finally:
            admin.dispose()
        return self.url(name)

    def close(self) -> None:
        """Stop if running (immediate) and remove the cluster."""
        if self.started or (self.data / "postmaster.pid").exists():
            try:
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
        shutil.rmtree(self.root, ignore_errors=True)


def timeline(sink: WebhookSink, *supervisors: SupervisedWorker, start: float | None = None) -> str:
    """Deliveries per second and supervisor events, relative to `start` (for failure reports)."""
    posts = sink.snapshot()
    origin = start if start is not None else min([p.at for p in posts] or [time.time()])
    per_second = Counter(int(p.at - origin) for p in posts)
    marks = [(t - origin, f"{s.label}: {what}") for s in supervisors for t, what in s.history]
    lines = [f"{t:7.1f}s {what}" for t, what in sorted(marks)]
    rate = " ".join(f"{s}:{n}" for s, n in sorted(per_second.items()))
    return "timeline:\n" + "\n".join(lines) + f"\ndeliveries per second: {rate}"


def settled(engine: Engine, sink: WebhookSink, seeded: Seeded) -> Callable[[], bool]:
    """A predicate: every owed key reached the sink and the database owes nothing more
    (every seeded timer handled, every notification recorded as sent)."""
    delivered = all_delivered(sink, seeded)

    def check() -> bool:
        if not delivered():
            return False
        timers, notes = db_states(engine, seeded)
        return set(timers) == {"done"} and set(notes) == {"sent"}

    return check


def report(
    engine: Engine,
    sink: WebhookSink,
    seeded: Seeded,
    fleet: Fleet,
    *supervisors: SupervisedWorker,
    start: float | None = None,
    extra: str = "",
) -> str:
    """Everything a failed fault test should show: what is still owed, when things happened,
    and the end of every process's log."""
    missing = set(seeded.owed) - set(sink.counts())
    try:
        timers, notes = db_states(engine, seeded)
        states = f"timers {timers}; notifications {notes}"
    except Exception as exc:  # noqa: BLE001 - the database may be the thing that is down
        states = f"database unreadable: {str(exc).splitlines()[0]}"
    return (
        f"{extra}\nstill owed at the sink: {len(missing)} {sorted(missing)[:3]}; {states}\n"
        f"{timeline(sink, *supervisors, start=start)}\n{fleet.logs()}"
    )
