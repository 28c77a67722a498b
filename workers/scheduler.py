"""The scheduler: claims due timers, relays the outbox, re-drives stuck work, sleeps until due.

Claims use `FOR UPDATE SKIP LOCKED`, so any number of schedulers can run side by side and a timer
is fired by exactly one of them. The scheduler sleeps until the next pending timer is due (at
most `scheduler_max_sleep`), and is woken early by PostgreSQL NOTIFY (or, in one process, by an
in-memory event) whenever a transaction arms a timer — so a timer fires within about a second.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_when_event_set,
    wait_exponential,
)

from models import Notification, NotificationState, Timer, TimerState
from models.db import session_scope
from workers import wake
from workers.relay import Send, relay
from workflows.backup import nightly
from workflows.kernel import tenancy
from workflows.kernel.clock import LOCAL_TZ, Clock
from workflows.kernel.jobs import DELIVER_ACTOR, HANDLE_TIMERS_ACTOR, owe, owe_many
from workflows.public import privacy
from workflows.reporting import bulletin
from workflows.workdays import deadlines

log = structlog.get_logger("openday.scheduler")

# One worker transaction handles this many fired timers, set-based
# (workflows/escalation/service.py):
# big enough that a burst is a few dozen statements per hundred timers, small enough that a
# batch holds its events' locks for milliseconds.
TIMERS_PER_MESSAGE = 100


@dataclass
class PassResult:
    """What one pass did, and how long to sleep before the next."""

    fired: int
    relayed: int
    redriven: int
    sleep: float


BULLETIN_EVERY = timedelta(minutes=5)


class Scheduler:
    """Fires due timers into the outbox and relays the outbox to the workers."""

    def __init__(
        self,
        engine: Engine,
        send: Send,
        clock: Clock,
        *,
        batch: int = 500,
        max_sleep: float = 30.0,
        stuck_after: timedelta = timedelta(seconds=60),
        on_fire: Callable[[float], None] | None = None,
        retention_days: int | None = None,
        backup_settings: Any | None = None,
    ) -> None:
        self.engine = engine
        self.send = send
        self.clock = clock
        self.batch = batch
        # Moves only NOTIFY for timers due within WAKE_HORIZON, so never sleep longer than that.
        self.max_sleep = min(max_sleep, deadlines.WAKE_HORIZON.total_seconds())
        self.stuck_after = stuck_after
        self.on_fire = on_fire  # observes each timer's lateness in seconds (metrics)
        self._last_reconcile: datetime | None = None
        # Registrants' data retention (OPENDAY_PUBLIC_RETENTION_DAYS): purged once a local day.
        self.retention_days = retention_days
        self._last_purge_day: date | None = None
        # The nightly backup (OPENDAY_BACKUP_HOUR): in a thread of its own, so a long pg_dump
        # never holds back the timers; claimed once a day in the database among schedulers.
        self.backup_settings = backup_settings
        self._last_backup_claim: str | None = None
        self.backup_thread: threading.Thread | None = None
        # The weekly 通报 (workflows/reporting/bulletin.py): looked for at most every
        # BULLETIN_EVERY; made once per campaign and week in the database among schedulers.
        self._last_bulletin_check: datetime | None = None

    def fire_due(self) -> int:
        """Claim up to `batch` due timers and owe handle_timers messages: one UPDATE … RETURNING
        (a `FOR UPDATE SKIP LOCKED` subquery picks the rows) and one multi-row outbox insert."""
        now = self.clock.now()
        claim = (
            sa.select(col(Timer.id))
            .where(col(Timer.state) == TimerState.pending, col(Timer.due_at) <= now)
            .order_by(col(Timer.due_at))
            .limit(self.batch)
            .with_for_update(skip_locked=True)
        )
        with session_scope(self.engine, tenant=tenancy.JOBS) as session:
            timers = session.execute(
                sa.update(Timer)
                .where(col(Timer.id).in_(claim.scalar_subquery()))
                .values(state=TimerState.fired, fired_at=now)
                .returning(
                    col(Timer.id),
                    col(Timer.subject_type),
                    col(Timer.subject_id),
                    col(Timer.rule),
                    col(Timer.level),
                    col(Timer.due_at),
                    col(Timer.district_id),
                )  # fmt: skip
                .execution_options(synchronize_session=False)
            ).all()
            if self.on_fire:
                for timer in timers:
                    self.on_fire((now - timer.due_at).total_seconds())
            # One subject's timers travel together, lowest level first: when a reminder and
            # both escalation levels are due at once (a backdated event), they go out in order.
            ordered = sorted(timers, key=lambda t: (t.subject_type, t.subject_id, t.rule, t.level))
            _owe_handling(session, [(t.id, t.district_id) for t in ordered], now)
        if timers:
            late = max((now - t.due_at).total_seconds() for t in timers)
            log.info("timers_fired", count=len(timers), max_late_seconds=round(late, 3))
        return len(timers)

    def reconcile(self) -> int:
        """Re-drive work whose message was lost: fired-but-unhandled timers, stalled deliveries.

        The service decides, not the broker's heartbeat: anything owed and untouched for
        `stuck_after` gets a fresh message; actors are idempotent, so a duplicate is harmless.
        """
        now = self.clock.now()
        cutoff = now - self.stuck_after
        with session_scope(self.engine, tenant=tenancy.JOBS) as session:
            timers = session.exec(
                select(Timer)
                .where(Timer.state == TimerState.fired, col(Timer.fired_at) < cutoff)
                .limit(self.batch)
                .with_for_update(skip_locked=True)
            ).all()
            for timer in timers:
                timer.fired_at = now
            # One subject's timers travel together, lowest level first: when a reminder and
            # both escalation levels are due at once (a backdated event), they go out in order.
            ordered = sorted(timers, key=lambda t: (t.subject_type, t.subject_id, t.rule, t.level))
            _owe_handling(
                session, [(t.id, t.district_id) for t in ordered if t.id is not None], now
            )
            stalled = session.exec(
                select(Notification)
                .where(
                    col(Notification.state).in_(
                        [NotificationState.pending, NotificationState.sending]
                    ),
                    col(Notification.created_at) < cutoff,
                    sa.or_(
                        # Waiting for a message that may be lost, past its retry time…
                        sa.and_(
                            col(Notification.state) == NotificationState.pending,
                            sa.or_(
                                col(Notification.lease_until).is_(None),
                                col(Notification.lease_until) < cutoff,
                            ),
                        ),
                        # …or leased by a worker that died mid-send (the lease lapsed).
                        sa.and_(
                            col(Notification.state) == NotificationState.sending,
                            col(Notification.lease_until) < now,
                        ),
                    ),
                )
                .limit(self.batch)
                .with_for_update(skip_locked=True)
            ).all()
            for row in stalled:
                row.state = NotificationState.pending
                row.lease_until = now  # not again before another `stuck_after`
                owe(session, DELIVER_ACTOR, [row.id], now, district_id=row.district_id)
        count = len(timers) + len(stalled)
        if count:
            log.warning("work_redriven", timers=len(timers), notifications=len(stalled))
        return count

    def next_due(self) -> datetime | None:
        """When the earliest pending timer is due."""
        with session_scope(self.engine, tenant=tenancy.JOBS) as session:
            return session.exec(
                select(func.min(Timer.due_at)).where(Timer.state == TimerState.pending)
            ).one()

    def purge_daily(self) -> int | None:
        """The registrants' retention purge (`openday privacy purge`), at the first pass of each
        local day; None when it is not due. Idempotent: erased rows are not erased again, and two
        schedulers skip each other's locked rows."""
        now = self.clock.now()
        today = now.astimezone(LOCAL_TZ).date()
        if self.retention_days is None or self._last_purge_day == today:
            return None
        try:
            with session_scope(self.engine, tenant=tenancy.JOBS) as session:
                count = privacy.purge(
                    session, retention_days=self.retention_days, today=today, now=now
                )
        except Exception:  # never holds back the timers; tried again at the next pass
            log.exception("privacy_purge_failed")
            return None
        self._last_purge_day = today
        return count

    def bulletin_weekly(self) -> int:
        """Make the weekly 通报 that are due (each campaign's weekday and hour) and deliver them
        to the supervisors' inboxes; how many were made. Never holds back the timers."""
        now = self.clock.now()
        last = self._last_bulletin_check
        if last is not None and now - last < BULLETIN_EVERY:
            return 0
        self._last_bulletin_check = now
        try:
            with session_scope(self.engine, tenant=tenancy.JOBS) as session:
                made = [(b.id, b.campaign_id) for b in bulletin.make_due(session, now)]
        except Exception:  # tried again at the next check
            log.exception("bulletin_failed")
            return 0
        for bulletin_id, campaign_id in made:
            log.info("bulletin_made", bulletin_id=bulletin_id, campaign_id=campaign_id)
        return len(made)

    def backup_nightly(self) -> threading.Thread | None:
        """Start today's nightly backup once its hour has come (not while one runs); the thread,
        or None when none was started."""
        if self.backup_settings is None:
            return None
        now = self.clock.now()
        claim = nightly.nightly_claim(now, self.backup_settings.backup_hour)
        running = self.backup_thread is not None and self.backup_thread.is_alive()
        if claim is None or claim == self._last_backup_claim or running:
            return None
        self._last_backup_claim = claim
        self.backup_thread = threading.Thread(
            target=self._backup, args=(now,), name="nightly-backup", daemon=True
        )
        self.backup_thread.start()
        return self.backup_thread

    def _backup(self, now: datetime) -> None:
        try:
            taken = nightly.run_nightly(self.engine, self.backup_settings, now)
        except Exception:  # recorded as failed; /readyz and /metrics show the last success
            log.exception("nightly_backup_failed")
            return
        if taken is not None:
            log.info("nightly_backup_taken", path=str(taken.path))

    def run_once(self) -> PassResult:
        """One pass: fire, relay, (now and then) reconcile; says how long to sleep."""
        self.purge_daily()
        self.backup_nightly()
        self.bulletin_weekly()
        fired = self.fire_due()
        relayed = 0
        while True:
            n = relay(self.engine, self.send, self.clock.now(), batch=self.batch)
            relayed += n
            if n < self.batch:
                break
        redriven = 0
        now = self.clock.now()
        if self._last_reconcile is None or now - self._last_reconcile >= self.stuck_after / 4:
            self._last_reconcile = now
            redriven = self.reconcile()
            if redriven:
                relayed += relay(self.engine, self.send, now, batch=self.batch)
        if fired >= self.batch:
            return PassResult(fired, relayed, redriven, 0.0)
        upcoming = self.next_due()
        sleep = self.max_sleep
        if upcoming is not None:
            sleep = min(sleep, max(0.0, (upcoming - self.clock.now()).total_seconds()))
        if self.owes_work():
            # Work is out with the workers: come back in time to re-drive it if it stalls.
            sleep = min(sleep, (self.stuck_after / 4).total_seconds())
        return PassResult(fired, relayed, redriven, sleep)

    def owes_work(self) -> bool:
        """Whether any fired timer or undelivered notification is still out."""
        with session_scope(self.engine, tenant=tenancy.JOBS) as session:
            timer = session.exec(
                select(Timer.id).where(Timer.state == TimerState.fired).limit(1)
            ).first()
            if timer is not None:
                return True
            note = session.exec(
                select(Notification.id)
                .where(
                    col(Notification.state).in_(
                        [NotificationState.pending, NotificationState.sending]
                    )
                )
                .limit(1)
            ).first()
            return note is not None

    def run(self, stop: threading.Event, waiter: Waiter | None = None) -> None:
        """Loop until `stop` is set, sleeping until the next due timer or a wake-up."""
        waiter = waiter or LocalWaiter()
        log.info("scheduler_started", max_sleep=self.max_sleep, batch=self.batch)
        # A failed pass (the database or the broker went away) backs off 0.5 s, 1 s, … 10 s and
        # tries again, no restart needed: its claims and outbox rows rolled back with it.
        passes = Retrying(
            retry=retry_if_exception_type(Exception),
            wait=wait_exponential(multiplier=0.5, max=10.0),
            stop=stop_when_event_set(stop),
            sleep=partial(_sleep_unless_stopped, stop),
            before_sleep=_log_failed_pass,
            retry_error_callback=lambda _: None,  # stopped while failing
        )
        while not stop.is_set():
            result = passes(lambda: None if stop.is_set() else self.run_once())
            if result is not None:
                waiter.wait(result.sleep, stop)
        waiter.close()
        log.info("scheduler_stopped")


def _sleep_unless_stopped(stop: threading.Event, seconds: float) -> None:
    """A back-off sleep that a stop request cuts short."""
    stop.wait(seconds)


def _log_failed_pass(attempt: RetryCallState) -> None:
    exc = attempt.outcome.exception() if attempt.outcome else None
    if isinstance(exc, sa.exc.OperationalError):
        log.warning("scheduler_database_unavailable", error=str(exc).splitlines()[0])
    else:  # e.g. the broker is down: nothing is lost
        log.warning("scheduler_pass_failed", error=repr(exc)[:300])


def _owe_handling(session: Session, timers: list[tuple[int, int | None]], now: datetime) -> None:
    """Outbox rows handing fired timers (id, district) to the workers: one district's timers
    to a message (a digest's, city-level, to the city's), TIMERS_PER_MESSAGE at most, in the
    given order (one multi-row insert per district)."""
    by_district: dict[int | None, list[int]] = {}
    for timer_id, district in timers:
        by_district.setdefault(district, []).append(timer_id)
    for district, timer_ids in by_district.items():
        chunks = [
            timer_ids[start : start + TIMERS_PER_MESSAGE]
            for start in range(0, len(timer_ids), TIMERS_PER_MESSAGE)
        ]
        owe_many(session, HANDLE_TIMERS_ACTOR, [[c] for c in chunks], now, district_id=district)


class Waiter:
    """Sleeps up to a timeout, returning early when timers change or on stop."""

    def wait(self, timeout: float, stop: threading.Event) -> None:  # pragma: no cover
        raise NotImplementedError

    def close(self) -> None:
        """Release resources."""


class LocalWaiter(Waiter):
    """Woken by transactions of this process that arm timers (embedded mode)."""

    def wait(self, timeout: float, stop: threading.Event) -> None:
        """Sleep in short slices so a stop request is seen promptly."""
        end = time.monotonic() + timeout
        while not stop.is_set():
            left = end - time.monotonic()
            if left <= 0:
                return
            if wake.TIMERS_CHANGED.wait(min(left, 0.5)):
                wake.TIMERS_CHANGED.clear()
                return


class PostgresWaiter(Waiter):
    """LISTENs on the timers channel: any process's commit that arms a timer wakes us."""

    def __init__(self, url: str) -> None:
        import psycopg

        dsn = (
            sa.engine.make_url(url)
            .set(drivername="postgresql")
            .render_as_string(hide_password=False)
        )
        self._dsn = dsn
        self._psycopg = psycopg
        self._conn: Any = None

    def _connection(self) -> Any:
        if self._conn is None or self._conn.closed:
            self._conn = self._psycopg.connect(self._dsn, autocommit=True)
            self._conn.execute(f"LISTEN {wake.NOTIFY_CHANNEL}")
        return self._conn

    def wait(self, timeout: float, stop: threading.Event) -> None:
        """Wait for a NOTIFY or the timeout (in slices, to notice stop)."""
        end = time.monotonic() + timeout
        while not stop.is_set():
            left = end - time.monotonic()
            if left <= 0:
                return
            try:
                connection = self._connection()
                woken = False
                for _ in connection.notifies(timeout=min(left, 0.5), stop_after=1):
                    woken = True
                if woken:
                    # A burst of NOTIFYs (many moves, an import) costs one pass, not one each:
                    # drain what arrived meanwhile (after the first generator has finished —
                    # a second one inside it would wait on the connection forever).
                    time.sleep(0.05)
                    for _ in connection.notifies(timeout=0.01):
                        pass
                    return
            except self._psycopg.OperationalError:
                self._conn = None
                stop.wait(min(left, 1.0))

    def close(self) -> None:
        """Close the LISTEN connection."""
        if self._conn is not None and not self._conn.closed:
            self._conn.close()


def dramatiq_sender() -> Send:
    """Send outbox rows to dramatiq actors by name (actors must be imported)."""
    import dramatiq

    def send(actor_name: str, args: list[Any]) -> None:
        dramatiq.get_broker().get_actor(actor_name).send(*args)

    return send
