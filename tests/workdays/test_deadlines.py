"""Deadlines that keep themselves: timers armed by moves, fired by the scheduler, handled by
workers exactly once — all driven by the injected clock."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import chinese_calendar
import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from models import (
    CalendarDay,
    CalendarYear,
    Event,
    FeedbackItem,
    Notification,
    OutboxMessage,
    Timer,
    TimerState,
    TransitionLog,
    Unit,
    User,
)
from models.db import make_engine
from settings import Settings
from tests.conftest import HOUSING, Walker, local
from workers.broker import use_broker
from workers.channels import StubChannel
from workers.middleware import LogContext
from workers.runtime import Runtime, set_runtime
from workers.scheduler import Scheduler, dramatiq_sender
from workflows.campaign.rules import CampaignRules
from workflows.kernel import jobs
from workflows.kernel.clock import Clock, FixedClock
from workflows.kernel.jobs import DELIVER_ACTOR
from workflows.workdays.days import WorkdayCalendar


class ClockedStubBroker(StubBroker):
    """dramatiq's in-process broker, except that delayed messages (dramatiq's retries with
    backoff) come due on the test's injected clock rather than on the wall clock."""

    def __init__(self) -> None:
        super().__init__()
        self.clock: Clock | None = None
        self.delayed: list[tuple[datetime, dramatiq.Message]] = []

    def enqueue(self, message: dramatiq.Message, *, delay: int | None = None) -> dramatiq.Message:
        if delay is None:
            return super().enqueue(message)
        assert self.clock is not None
        self.delayed.append((self.clock.now() + timedelta(milliseconds=delay), message))
        return message

    def release_due(self) -> None:
        """Put every delayed message whose moment has come back on its queue."""
        assert self.clock is not None
        now = self.clock.now()
        due = [m for at, m in self.delayed if at <= now]
        self.delayed = [(at, m) for at, m in self.delayed if at > now]
        for message in due:
            super().enqueue(message)

    def reset(self, clock: Clock | None) -> None:
        """Empty every queue (a test starts with no messages)."""
        self.flush_all()
        self.delayed = []
        self.clock = clock


@pytest.fixture(scope="session")
def broker() -> ClockedStubBroker:
    """The real actors of workers/actors.py, declared on one clocked StubBroker."""
    stub = ClockedStubBroker()
    stub.add_middleware(LogContext())
    use_broker(stub)  # before workers.actors declares its actors on the global broker
    from workers import actors

    for actor in (actors.handle_timers, actors.deliver_notification):
        if actor.broker is not stub:  # declared earlier in this process, on another broker
            actor.broker = stub
            stub.declare_actor(actor)
    return stub


class Workers:
    """A real dramatiq.Worker running the real actors; it runs only while `drain` does, so a
    test decides what is queued (and lost, or redelivered) before the workers see it."""

    QUEUES = ("timers", "notifications")

    def __init__(self, broker: ClockedStubBroker) -> None:
        self.broker = broker

    def send(self, actor: str, args: list[Any], district: int | str = jobs.CITY_WIDE) -> None:
        """Enqueue a message for an actor, as the relay does (its district last)."""
        dramatiq_sender()(actor, [*args, district])

    def drain(self) -> None:
        """Release the retries now due, then process every queued message and what it sends."""
        self.broker.release_due()
        worker = dramatiq.Worker(self.broker, worker_timeout=10, worker_threads=1)
        worker.start()
        try:
            for queue in self.QUEUES:  # timer handling sends deliveries, never the reverse
                self.broker.join(queue, timeout=30_000)
            worker.join()
        finally:
            worker.stop()
        unexpected = [m for _, m in self.broker.delayed if m.actor_name != DELIVER_ACTOR]
        assert not unexpected, f"unexpected retries: {unexpected}"

    @property
    def retries(self) -> list[int]:
        """Notifications whose delivery dramatiq will retry later."""
        return [m.args[0] for _, m in self.broker.delayed]

    def redeliver(self, queue: str) -> None:
        """Deliver every message waiting on `queue` a second time (same message ids)."""
        waiting = self.broker.queues[queue]
        for data in list(waiting.queue):
            waiting.put(data)

    def lose_everything(self) -> None:
        """The broker loses every message it holds."""
        self.broker.reset(self.broker.clock)


@pytest.fixture
def channels() -> dict[str, StubChannel]:
    """Stub channels that record what was sent (real SMTP is tested in test_notifications)."""
    return {name: StubChannel(name) for name in ("email", "log", "webhook_json", "webhook_wecom")}


@pytest.fixture
def rt(engine: Engine, clock: FixedClock, channels: dict[str, StubChannel]) -> Runtime:
    """A worker runtime on the test database and clock."""
    settings = Settings(smtp_host="mail.invalid", delivery_max_attempts=3, database_url="sqlite://")
    return Runtime(engine=engine, clock=clock, settings=settings, channels=channels)  # type: ignore[arg-type]


@pytest.fixture
def workers(rt: Runtime, broker: ClockedStubBroker) -> Iterator[Workers]:
    """The actors' runtime installed, the broker empty and on the test's clock."""
    broker.reset(rt.clock)
    set_runtime(rt)
    try:
        yield Workers(broker)
    finally:
        set_runtime(None)
        broker.reset(None)


@pytest.fixture
def scheduler(engine: Engine, clock: FixedClock, workers: Workers) -> Scheduler:
    """A scheduler handing work to dramatiq, as in production."""
    return Scheduler(engine, dramatiq_sender(), clock, batch=50, max_sleep=60)


def tick(scheduler: Scheduler, workers: Workers) -> None:
    """One scheduler pass and everything it owes, processed."""
    scheduler.run_once()
    workers.drain()


def _contacts(walker: Walker) -> None:
    r = walker.client.patch(
        f"/api/v1/units/{walker.world.units[HOUSING]}",
        json={"contact_email": "contact@zhujian.example", "head_email": "head@zhujian.example"},
        headers=walker.world.headers["supervisor"],
    )
    assert r.status_code == 200, r.text
    with walker.world.session() as s:
        sup = s.get(User, walker.world.user_ids["supervisor"])
        assert sup is not None
        sup.email = "duban@zfb.example"
        s.add(sup)
        s.commit()


def _collected_with_one_opinion(walker: Walker, *, sign: bool = True) -> tuple[dict, int]:
    """An opinion collected at an event held 09-16; signed for (签收) by the unit at once unless
    `sign` is False (its sign-for escalation is tested in tests/feedback/test_transfers.py)."""
    event, _ = walker.held_event()
    r = walker.move(
        event["id"], "collect_feedback", data={"items": [{"content": "建议公开改造资金明细"}]}
    )
    assert r.status_code == 200, r.text
    with walker.world.session() as s:
        item = s.exec(select(FeedbackItem)).one()
    if sign:
        signed = walker.client.post(
            f"/api/v1/feedback/{item.id}/sign",
            json={"expected_version": item.version},
            headers=walker.world.headers["housing"],
        )
        assert signed.status_code == 200, signed.text
    return r.json()["event"], item.id  # type: ignore[return-value]


def _item_version(walker: Walker, item_id: int) -> int:
    r = walker.client.get(f"/api/v1/feedback/{item_id}", headers=walker.world.headers["housing"])
    assert r.status_code == 200, r.text
    return r.json()["version"]  # type: ignore[no-any-return]


def _timers(engine: Engine, **where: Any) -> list[Timer]:
    with Session(engine) as s:
        stmt = select(Timer).order_by(col(Timer.due_at), col(Timer.id))
        for key, value in where.items():
            stmt = stmt.where(getattr(Timer, key) == value)
        return list(s.exec(stmt).all())


def _notifications(engine: Engine) -> list[Notification]:
    with Session(engine) as s:
        return list(s.exec(select(Notification).order_by(col(Notification.id))).all())


# ---- dates -----------------------------------------------------------------------------------


def _oracle_due(start: date, n: int) -> date:
    """An independent count straight off chinese-calendar's is_workday."""
    day = start
    while n:
        day += timedelta(days=1)
        n -= chinese_calendar.is_workday(day)
    return day


def test_answer_deadlines_of_every_demo_event_are_right_to_the_day(engine: Engine, clock) -> None:
    """Held on its date, every demo event's opinions are due on the 15th working day after."""
    from workflows.schedule.demo import load_demo_campaign

    cal = WorkdayCalendar()
    with Session(engine, expire_on_commit=False) as session:
        load_demo_campaign(session, clock.now())
        session.commit()
        events = session.exec(select(Event)).all()
    assert len(events) == 39
    for event in events:
        held = event.date_earliest
        due = cal.add_workdays(held, 15)
        assert due.day == _oracle_due(held, 15), event.theme
        assert not due.provisional
    # Hand-checked: National Day week and its adjusted weekend (10-08, 10-09 worked), and
    # Mid-Autumn (09-10..09-12 off).
    assert cal.add_workdays(date(2022, 9, 16), 15).day == date(2022, 10, 12)  # 区住建局
    assert cal.add_workdays(date(2022, 9, 20), 15).day == date(2022, 10, 14)  # 丹山镇
    assert cal.add_workdays(date(2022, 8, 22), 15).day == date(2022, 9, 13)  # 小院镇


def test_collecting_feedback_arms_reminder_and_ladder(walker: Walker, engine: Engine) -> None:
    """Held 09-16: answer due 10-12 (end of day, Shanghai); reminder 10-09 09:00; L2 on 10-19."""
    _, item_id = _collected_with_one_opinion(walker)
    with Session(engine) as s:
        item = s.get(FeedbackItem, item_id)
        assert item is not None
        assert item.due_on == date(2022, 10, 12) and not item.due_provisional
        assert item.due_at == datetime(2022, 10, 12, 16, 0, tzinfo=UTC)
    timers = _timers(engine, subject_type="feedback_item", rule="feedback_answer")
    assert [(t.kind, t.level, t.due_at.astimezone(local(2022, 1, 1).tzinfo)) for t in timers] == [
        ("reminder", 0, local(2022, 10, 9, 9)),
        ("escalation", 1, local(2022, 10, 13, 0)),
        ("escalation", 2, local(2022, 10, 20, 0)),
    ]
    feedback = walker.client.get(
        f"/api/v1/feedback/{item_id}", headers=walker.world.headers["housing"]
    ).json()
    assert feedback["due_on"] == "2022-10-12" and feedback["due_provisional"] is False
    answer = [t["level"] for t in feedback["timers"] if t["rule"] == "feedback_answer"]
    assert answer == [0, 1, 2]


def test_hold_arms_the_summary_deadline_and_submitting_cancels_it(
    walker: Walker, engine: Engine
) -> None:
    """Held 09-16 → summary due 09-19; the summary timers go once it is submitted."""
    event, _ = walker.held_event()
    assert walker.get(event["id"])["summary_due_on"] == "2022-09-19"
    summary = _timers(engine, rule="summary")
    assert [(t.kind, t.level, t.state) for t in summary] == [
        ("reminder", 0, "pending"),
        ("escalation", 1, "pending"),
        ("escalation", 2, "pending"),
    ]
    assert summary[0].due_at == local(2022, 9, 18, 9)
    assert all(t.state == "cancelled" for t in _timers(engine, rule="event_hold"))
    walker.move(event["id"], "collect_feedback", data={"no_opinions": True})
    walker.upload(event["id"])
    walker.move(event["id"], "submit_summary", data={"text": "总结"})
    assert {t.state for t in _timers(engine, rule="summary")} == {"cancelled"}


def test_reschedule_moves_the_hold_timers_and_cancel_drops_them(
    walker: Walker, engine: Engine
) -> None:
    """An event's hold deadline follows its date; a cancelled event owes nothing."""
    event = walker.create_event(date="2022-09-20")
    first = _timers(engine, rule="event_hold")
    assert first[0].due_at == local(2022, 9, 21, 0)
    walker.move(event["id"], "reschedule", data={"date": "2022-09-22"}, reason="延期")
    moved = _timers(engine, rule="event_hold")
    assert [t.id for t in moved] == [t.id for t in first]
    assert moved[0].due_at == local(2022, 9, 23, 0) and moved[0].deadline_on == date(2022, 9, 22)
    walker.move(event["id"], "cancel", who="supervisor", reason="取消")
    assert {t.state for t in _timers(engine, rule="event_hold")} == {"cancelled"}


def test_two_databases_in_one_process_never_share_a_calendar(
    sqlite_template: Path, tmp_path: Path, clock
) -> None:
    """The calendar cache is per database: two databases whose loaded data look alike (same
    counts, same load time) still get their own working days."""
    from workflows.workdays.deadlines import load_calendar

    engines = []
    for name, workday in (("a", True), ("b", False)):
        path = tmp_path / f"{name}.db"
        shutil.copy(sqlite_template, path)
        engines.append(make_engine(f"sqlite:///{path}"))
        with Session(engines[-1]) as s:
            # 2027-01-04, a Monday: worked in one database's arrangement, off in the other's.
            s.add(CalendarYear(year=2027, source="测试", loaded_at=clock.now()))
            s.add(
                CalendarDay(
                    day=date(2027, 1, 4), workday=workday, source="测试", loaded_at=clock.now()
                )
            )
            s.commit()
    try:
        answers = []
        for engine in engines:
            with Session(engine) as s:
                answers.append(load_calendar(s).is_workday(date(2027, 1, 4)))
        assert answers == [True, False]
    finally:
        for engine in engines:
            engine.dispose()


# ---- the scheduler and the workers -----------------------------------------------------------


def test_overdue_opinion_escalates_once_per_level(
    walker: Walker, engine: Engine, clock, scheduler, workers, channels
) -> None:
    """Reminder, level 1 at the deadline, level 2 five working days later — each exactly once."""
    _contacts(walker)
    _, item_id = _collected_with_one_opinion(walker)
    for subject in ("event",):  # the summary timers are not under test here
        with Session(engine) as s:
            for t in s.exec(select(Timer).where(Timer.subject_type == subject)).all():
                t.state = TimerState.cancelled
                s.add(t)
            s.commit()

    clock.set(local(2022, 10, 9, 8, 59))
    tick(scheduler, workers)
    assert channels["email"].sent == []

    clock.set(local(2022, 10, 9, 9, 0, 1))
    tick(scheduler, workers)
    assert [m.recipient for m in channels["email"].sent] == ["contact@zhujian.example"]
    assert "距期限还有 3 个工作日" in channels["email"].sent[0].body

    clock.set(local(2022, 10, 13, 0, 0, 1))
    tick(scheduler, workers)
    level1 = channels["email"].sent[1:]
    assert sorted(m.recipient for m in level1) == [
        "contact@zhujian.example",
        "head@zhujian.example",
    ]
    assert all("【催办】区住建局" in m.subject for m in level1)
    assert "应于 2022年10月12日（星期三） 前办结" in level1[0].body
    with Session(engine) as s:
        item = s.get(FeedbackItem, item_id)
        assert item is not None
        assert (item.state, item.escalation_level) == ("overdue", 1)
    for _ in range(3):  # more passes, nothing new
        tick(scheduler, workers)
    assert len(channels["email"].sent) == 3

    clock.set(local(2022, 10, 20, 0, 0, 1))
    tick(scheduler, workers)
    level2 = channels["email"].sent[3:]
    assert sorted(m.recipient for m in level2) == [
        "contact@zhujian.example",
        "duban@zfb.example",
        "head@zhujian.example",
    ]
    assert "已逾期 5 个工作日" in level2[0].body
    keys = [n.key for n in _notifications(engine)]
    assert len(keys) == len(set(keys))
    assert {n.state for n in _notifications(engine)} == {"sent"}
    with Session(engine) as s:
        assert s.get(FeedbackItem, item_id).escalation_level == 2  # type: ignore[union-attr]


def test_an_answer_meanwhile_stops_the_escalation(
    walker: Walker, engine: Engine, clock, scheduler, workers, channels
) -> None:
    """A timer fired but not yet handled finds the opinion answered: nothing is sent."""
    _contacts(walker)
    _, item_id = _collected_with_one_opinion(walker)
    clock.set(local(2022, 10, 13, 0, 0, 1))
    scheduler.fire_due()  # claimed, handed over, not yet handled
    r = walker.client.post(
        f"/api/v1/feedback/{item_id}/transitions",
        json={
            "trigger": "answer",
            "expected_version": _item_version(walker, item_id),
            "data": {"answer": "已公开，详见区住建局网站"},
        },
        headers=walker.world.headers["housing"],
    )
    assert r.status_code == 200, r.text
    # Answered on 10-13, the first working day after the deadline: one working day late.
    assert r.json()["answered_late_workdays"] == 1
    scheduler.run_once()
    workers.drain()
    fired = _timers(engine, subject_type="feedback_item", state="skipped")
    assert {t.level for t in fired} == {0, 1}
    assert [n for n in _notifications(engine) if n.subject_type == "feedback_item"] == []


def test_a_redelivered_timer_message_sends_nothing_twice(
    walker: Walker, engine: Engine, clock, scheduler, workers, channels
) -> None:
    """The same handle_timers and deliver messages, delivered twice, send each email once."""
    _contacts(walker)
    _collected_with_one_opinion(walker)
    clock.set(local(2022, 10, 13, 0, 0, 1))
    scheduler.run_once()
    workers.redeliver("timers")
    workers.drain()
    with Session(engine) as s:
        for n in s.exec(select(Notification)).all():
            workers.send("deliver_notification", [n.id])
    workers.drain()
    sent_keys = [m.key for m in channels["email"].sent + channels["log"].sent]
    assert len(sent_keys) == len(set(sent_keys)) > 0


def test_answering_late_records_by_how_much(walker: Walker, engine: Engine, clock) -> None:
    """Answered on 10-17 for a 10-12 deadline: 3 working days late (10-13, 10-14, 10-17)."""
    _, item_id = _collected_with_one_opinion(walker)
    clock.set(local(2022, 10, 17, 15))
    r = walker.client.post(
        f"/api/v1/feedback/{item_id}/transitions",
        json={
            "trigger": "answer",
            "expected_version": _item_version(walker, item_id),
            "data": {"answer": "已答复"},
        },
        headers=walker.world.headers["housing"],
    )
    assert r.status_code == 200, r.text
    assert r.json()["answered_late_workdays"] == 3
    with Session(engine) as s:
        log = s.exec(select(TransitionLog).where(TransitionLog.trigger == "feedback.answer")).one()
        assert log.data["late_workdays"] == 3 and log.feedback_item_id == item_id
    assert {t.state for t in _timers(engine, subject_type="feedback_item")} == {"cancelled"}


def test_scheduler_sleeps_until_the_next_timer(engine: Engine, walker: Walker, clock) -> None:
    """With the next timer 45 s away the scheduler sleeps 45 s, not a fixed tick; it never
    sleeps past the wake-up horizon (moves only NOTIFY for timers due within it)."""
    walker.create_event(date="2022-09-16")  # hold deadline: 2022-09-17 00:00 Shanghai
    clock.set(local(2022, 9, 16, 23, 59, 15))
    result = Scheduler(engine, lambda a, b: None, clock, max_sleep=3600).run_once()
    assert result.fired == 0 and result.sleep == pytest.approx(45.0)
    clock.set(local(2022, 9, 16, 23, 50))
    assert Scheduler(engine, lambda a, b: None, clock, max_sleep=3600).run_once().sleep == 60
    clock.set(local(2022, 9, 17, 0, 0, 0))
    assert Scheduler(engine, lambda a, b: None, clock).run_once().fired == 1


@pytest.mark.postgresql
def test_two_schedulers_never_fire_one_timer_twice(engine: Engine, walker: Walker, clock) -> None:
    """Two schedulers racing over 300 due timers: each fired once, each with one message."""
    event = walker.create_event()
    now = clock.now()
    with Session(engine) as s:
        for i in range(300):
            s.add(
                Timer(
                    rule="event_hold",
                    kind="escalation",
                    level=10 + i,
                    subject_type="event",
                    subject_id=event["id"],
                    event_id=event["id"],
                    deadline_on=date(2022, 9, 1),
                    due_at=now - timedelta(seconds=i),
                    created_at=now,
                )
            )
        s.commit()
    sent: list[int] = []
    lock = threading.Lock()

    def send(actor: str, args: list[Any]) -> None:
        with lock:
            sent.extend(args[0])  # handle_timers: a batch of timer ids

    barrier = threading.Barrier(2)

    def run() -> None:
        sched = Scheduler(engine, send, clock, batch=7)
        barrier.wait()
        while sched.run_once().fired:
            pass

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    due = [t.id for t in _timers(engine) if t.level >= 10]
    assert sorted(sent) == sorted(due) and len(set(sent)) == 300
    with Session(engine) as s:
        batches = [row.args[0] for row in s.exec(select(OutboxMessage)).all()]
    assert sorted(i for batch in batches for i in batch) == sorted(due)


# ---- delivery failures -----------------------------------------------------------------------


def test_transient_failures_retry_then_permanent_ones_are_recorded(
    walker: Walker, engine: Engine, clock, scheduler, workers, channels
) -> None:
    """A flaky mail server is retried; a refused mailbox fails at once and is listed."""
    _contacts(walker)
    _collected_with_one_opinion(walker)
    clock.set(local(2022, 10, 13, 0, 0, 1))
    channels["email"].fail_next(1)  # the first email hits a transient error
    scheduler.run_once()
    workers.drain()
    # The failed one, and level 2 of the same item to the same recipient (the summary's two
    # levels are both long due) waiting for it without spending an attempt.
    assert len(workers.retries) == 2
    retried, waiting = workers.retries
    with Session(engine) as s:
        row = s.get(Notification, retried)
        assert row is not None and (row.state, row.attempts) == ("pending", 1)
        later = s.get(Notification, waiting)
        assert later is not None and (later.state, later.attempts, later.level) == ("pending", 0, 2)
        assert (later.subject_id, later.rule, later.recipient) == (
            row.subject_id,
            row.rule,
            row.recipient,
        )
    clock.advance(timedelta(minutes=1))  # dramatiq's retry, once its backoff has passed
    workers.drain()
    assert workers.retries == []
    with Session(engine) as s:
        assert s.get(Notification, retried).state == "sent"  # type: ignore[union-attr]
        assert s.get(Notification, waiting).state == "sent"  # type: ignore[union-attr]
    sent = [m.data["notification_id"] for m in channels["email"].sent]
    assert sent.index(retried) < sent.index(waiting)

    clock.set(local(2022, 10, 20, 0, 0, 1))
    channels["email"].fail_next(10, permanent=True)
    tick(scheduler, workers)
    failed = walker.client.get(
        "/api/v1/notifications?state=failed", headers=walker.world.headers["supervisor"]
    ).json()
    assert failed["total"] == 3 and all(n["last_error"] for n in failed["items"])
    assert all(n["attempts"] == 1 for n in failed["items"])
    mine = walker.client.get(
        "/api/v1/notifications?state=failed", headers=walker.world.headers["shiling"]
    ).json()
    assert mine["total"] == 0  # another unit's failures are not theirs to see
    # Once the address is fixed a supervisor sends it again.
    channels["email"] = StubChannel("email")  # the mail server accepts it now
    nid = failed["items"][0]["id"]
    r = walker.client.post(
        f"/api/v1/notifications/{nid}/retry", headers=walker.world.headers["housing"]
    )
    assert r.status_code == 403
    r = walker.client.post(
        f"/api/v1/notifications/{nid}/retry", headers=walker.world.headers["supervisor"]
    )
    assert r.status_code == 200 and r.json()["state"] == "pending"
    tick(scheduler, workers)
    with Session(engine) as s:
        assert s.get(Notification, nid).state == "sent"  # type: ignore[union-attr]


def test_transient_failures_give_up_after_the_configured_attempts(
    walker: Walker, engine: Engine, clock, scheduler, workers, channels
) -> None:
    """After delivery_max_attempts transient failures the notification is failed, not retried."""
    _contacts(walker)
    _collected_with_one_opinion(walker)
    clock.set(local(2022, 10, 13, 0, 0, 1))
    channels["email"].fail_next(100)
    scheduler.run_once()
    workers.drain()
    for _ in range(5):
        clock.advance(timedelta(minutes=15))  # past dramatiq's backoff (capped at 10 minutes)
        workers.drain()
    assert workers.retries == []
    emails = [n for n in _notifications(engine) if n.channel == "email"]
    assert {(n.state, n.attempts) for n in emails} == {("failed", 3)}


def test_reconciler_redrives_a_lost_timer_message(
    walker: Walker, engine: Engine, clock, scheduler, workers, channels
) -> None:
    """A handle_timers message lost after the claim is re-sent by the scheduler, not forgotten."""
    _contacts(walker)
    _collected_with_one_opinion(walker)
    clock.set(local(2022, 10, 13, 0, 0, 1))
    scheduler.run_once()
    workers.lose_everything()
    clock.advance(timedelta(minutes=3))
    scheduler.run_once()
    workers.drain()
    answers = [m for m in channels["email"].sent if m.key.startswith("feedback_item:")]
    assert sorted(m.recipient for m in answers) == [
        "contact@zhujian.example",
        "head@zhujian.example",
    ]


# ---- provisional deadlines -------------------------------------------------------------------


def _provisional_item(walker: Walker, clock) -> tuple[int, int]:
    clock.set(local(2026, 12, 21, 10))
    event = walker.create_event(
        who="supervisor", date="2026-12-21", theme="年末开放日", override_reason="年末加开一场"
    )
    invitees = walker.add_invitees(event["id"], citizens=5, deputies=10)
    assert walker.move(event["id"], "invite").status_code == 200
    walker.move(event["id"], "hold", data={"attendance": {str(i["id"]): True for i in invitees}})
    r = walker.move(event["id"], "collect_feedback", data={"items": [{"content": "年末意见"}]})
    assert r.status_code == 200, r.text
    with walker.world.session() as s:
        item = s.exec(select(FeedbackItem).where(FeedbackItem.event_id == event["id"])).one()
    return event["id"], item.id  # type: ignore[return-value]


def test_a_deadline_in_an_unpublished_year_is_flagged_and_later_recomputed(
    walker: Walker, engine: Engine, clock, tmp_path
) -> None:
    """2026-12-21 + 15 working days reaches 2027: provisional; loading 2027 recomputes it."""
    event_id, item_id = _provisional_item(walker, clock)
    h = walker.world.headers["housing"]
    item = walker.client.get(f"/api/v1/feedback/{item_id}", headers=h).json()
    assert (item["due_on"], item["due_provisional"]) == ("2027-01-11", True)
    overdue = walker.client.get("/api/v1/overdue?due_within_days=30", headers=h).json()
    assert any(i["provisional"] for i in overdue["items"] if i["kind"] == "feedback_answer")

    calendar_file = (
        "source: 国务院办公厅关于2027年部分节假日安排的通知（测试用假设安排）\n"
        "years:\n  - year: 2027\n    holidays: ['2027-01-01..2027-01-03', '2027-01-04']\n"
        "    workdays: []\n"
    )
    r = walker.client.post(
        "/api/v1/calendar",
        files={"file": ("2027.yaml", calendar_file.encode(), "application/yaml")},
        headers=walker.world.headers["sysadmin"],
    )
    assert r.status_code == 201, r.text
    assert r.json()["recomputed"] >= 1
    item = walker.client.get(f"/api/v1/feedback/{item_id}", headers=h).json()
    # 2027-01-01 (Fri) and 01-04 (Mon) off in the test arrangement: two working days later.
    assert (item["due_on"], item["due_provisional"]) == ("2027-01-13", False)
    history = walker.client.get(f"/api/v1/events/{event_id}/history", headers=h).json()
    entry = next(e for e in history if e["trigger"] == "recompute_deadline")
    assert entry["data"]["old_due_on"] == "2027-01-11"
    assert entry["data"]["new_due_on"] == "2027-01-13"


def test_only_the_system_administrator_loads_calendars(walker: Walker) -> None:
    """Loading working-day data is the system administrator's (三员分立: the other two 403
    `separation_of_duties`); a malformed file is a 422 naming the problem."""
    for who, code in (("supervisor", "admin_required"), ("secadmin", "separation_of_duties"),
                      ("auditor", "separation_of_duties")):  # fmt: skip
        r = walker.client.post(
            "/api/v1/calendar",
            files={"file": ("x.yaml", b"years: []\n", "application/yaml")},
            headers=walker.world.headers[who],
        )
        assert r.status_code == 403 and r.json()["error"]["code"] == code, (who, r.text)
    r = walker.client.post(
        "/api/v1/calendar",
        files={"file": ("x.yaml", b"years: [{year: 2027, holidays: ['2028-01-01']}]\n", "a/b")},
        headers=walker.world.headers["sysadmin"],
    )
    assert r.status_code == 422 and r.json()["error"]["code"].startswith("calendar_")


# ---- the overdue list ------------------------------------------------------------------------


def test_overdue_list_sorted_by_lateness_and_scoped(
    walker: Walker, engine: Engine, clock, scheduler, workers
) -> None:
    """Overdue answers, summaries and unheld events, latest first; staff see their own unit."""
    _, item_id = _collected_with_one_opinion(walker)  # summary due 09-19, answer due 10-12
    walker.create_event(
        who="supervisor",
        unit="石岭镇",
        theme="石岭开放日",
        date="2022-09-07",
        override_reason="补录：已开展但未登记",
    )  # never held: due 09-07
    clock.set(local(2022, 10, 13, 9))
    tick(scheduler, workers)
    sup = walker.client.get("/api/v1/overdue", headers=walker.world.headers["supervisor"]).json()
    kinds = [(i["kind"], i["unit_name"], i["due_on"]) for i in sup["items"]]
    assert kinds == [
        ("event_hold", "石岭镇", "2022-09-07"),
        ("summary", HOUSING, "2022-09-19"),
        ("feedback_answer", HOUSING, "2022-10-12"),
    ]
    first = sup["items"][0]
    assert first["overdue"] is True and first["late_days"] == 36
    assert first["escalation_level"] == 2 and first["last_notified_at"] is not None
    answer = sup["items"][2]
    assert answer["feedback_item_id"] == item_id and answer["escalation_level"] == 1
    mine = walker.client.get("/api/v1/overdue", headers=walker.world.headers["housing"]).json()
    assert [i["kind"] for i in mine["items"]] == ["summary", "feedback_answer"]
    soon = walker.client.get(
        "/api/v1/overdue?due_within_days=0&limit=1", headers=walker.world.headers["supervisor"]
    ).json()
    assert soon["total"] == 3 and len(soon["items"]) == 1


def test_due_soon_items_are_listed_but_not_overdue(walker: Walker, clock) -> None:
    """An answer due in two days shows as due soon (overdue false, late_days negative)."""
    _collected_with_one_opinion(walker)
    clock.set(local(2022, 10, 10, 9))
    h = walker.world.headers["housing"]
    items = walker.client.get("/api/v1/overdue?due_within_days=3", headers=h).json()["items"]
    answer = next(i for i in items if i["kind"] == "feedback_answer")
    assert answer["overdue"] is False and answer["late_days"] == -2


def test_rules_drive_the_ladder(engine: Engine, walker: Walker) -> None:
    """A campaign with a one-rung ladder and no reminders arms just that one timer per item."""
    r = walker.client.patch(
        f"/api/v1/campaigns/{walker.world.campaign_id}",
        json={
            "rules": {
                "feedback_reminder_workdays_before": 0,
                "escalations": [{"level": 1, "after_workdays": 2, "notify": ["unit_head"]}],
            }
        },
        headers=walker.world.headers["supervisor"],
    )
    assert r.status_code == 200, r.text
    _collected_with_one_opinion(walker)
    timers = _timers(engine, subject_type="feedback_item", rule="feedback_answer")
    assert [(t.kind, t.level, t.due_at) for t in timers] == [
        ("escalation", 1, local(2022, 10, 15, 0))  # 2 working days after 10-12: 10-14
    ]
    assert CampaignRules().escalations[1].notify[-1] == "supervisors"
    assert Unit  # imported for type use


# ---- waking up, the workdays command ---------------------------------------------------------


def test_a_new_near_timer_wakes_a_sleeping_scheduler(engine: Engine, walker: Walker, clock) -> None:
    """A scheduler asleep for up to an hour fires a timer armed meanwhile without waiting it out.

    The wake-up is PostgreSQL NOTIFY across processes (LocalWaiter's in-process event on
    SQLite); the bound below is generous — without the wake-up it would be 3600 s.
    """
    from workers.scheduler import LocalWaiter, PostgresWaiter
    from workers.wake import install_wake_hook
    from workflows.kernel.clock import SystemClock

    install_wake_hook()  # as every process running moves does at start-up
    fired: list[int] = []
    pg = engine.dialect.name == "postgresql"
    waiter = (
        PostgresWaiter(engine.url.render_as_string(hide_password=False)) if pg else LocalWaiter()
    )
    sched = Scheduler(engine, lambda a, args: fired.extend(args[0]), SystemClock(), max_sleep=3600)
    stop = threading.Event()
    thread = threading.Thread(target=sched.run, args=(stop, waiter))
    thread.start()
    try:
        time_to_sleep = threading.Event()
        time_to_sleep.wait(0.5)  # let it fall asleep with nothing pending
        # 30 s before the event's hold deadline (API clock): the move wakes the schedulers.
        # The scheduler runs on the real clock, for which the timer is long due.
        clock.set(local(2022, 9, 16, 23, 59, 30))
        event = walker.create_event()
        deadline = threading.Event()
        for _ in range(100):
            if fired:
                break
            deadline.wait(0.1)
        assert fired, "the scheduler did not wake up for the new timer"
        assert set(_t.event_id for _t in _timers(engine) if _t.id in fired) == {event["id"]}
    finally:
        stop.set()
        thread.join(10)


def test_workdays_command_prints_the_date_and_warns_when_provisional() -> None:
    """`openday workdays 2022-09-16 15` → 2022-10-12; a 2027 count warns 'provisional'."""
    import subprocess
    import sys
    from pathlib import Path

    exe = str(Path(sys.executable).parent / "openday")
    env = {"OPENDAY_DATABASE_URL": "sqlite:////nonexistent/openday.db", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [exe, "workdays", "2022-09-16", "15"], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "2022-10-12" and done.stderr == ""
    done = subprocess.run(
        [exe, "workdays", "2026-12-21", "15"], capture_output=True, text=True, env=env
    )
    assert done.stdout.strip().splitlines()[-1] == "2027-01-11"
    assert "provisional" in done.stderr


def test_an_escalation_between_read_and_write_does_not_make_the_write_stale(
    walker: Walker, engine: Engine, clock, scheduler, workers, channels
) -> None:
    """A clerk reads the event, an escalation fires and is handled, the clerk's move (based on
    what they read) still succeeds: bookkeeping never bumps the version (issue 10)."""
    _contacts(walker)
    event = walker.create_event()
    walker.add_invitees(event["id"], citizens=5, deputies=10)
    seen = walker.get(event["id"])
    clock.set(local(2022, 9, 17, 0, 0, 1))  # the hold deadline (end of 09-16) has passed
    scheduler.run_once()
    workers.drain()
    after = walker.get(event["id"])
    assert after["escalation_level"] == 1 and after["version"] == seen["version"]
    r = walker.move(event["id"], "invite", version=seen["version"])
    assert r.status_code == 200, r.text


def test_an_address_added_after_level_one_hears_level_two(
    walker: Walker, engine: Engine, clock, scheduler, workers, channels
) -> None:
    """Recipients are resolved when each level is sent: a unit with no e-mail at level 1 that
    adds one gets level 2 of the still-overdue opinion (issue 10)."""
    _collected_with_one_opinion(walker)  # answer due 2022-10-12
    clock.set(local(2022, 10, 13, 0, 0, 1))
    tick(scheduler, workers)
    assert channels["email"].sent == []  # nobody to write to yet
    _contacts(walker)
    clock.set(local(2022, 10, 20, 0, 0, 1))  # level 2: five working days after the deadline
    tick(scheduler, workers)
    level_two = [m for m in channels["email"].sent if "第2次催办" in m.subject]
    assert {m.recipient for m in level_two} >= {"contact@zhujian.example", "duban@zfb.example"}


def test_loading_a_year_keeps_an_approved_extension(walker: Walker, clock) -> None:
    """A recompute after loading 2027 re-derives the ladder but keeps the day a supervisor
    granted, instead of counting from collection again."""
    _, item_id = _provisional_item(walker, clock)
    h = walker.world.headers
    ext = walker.client.post(
        f"/api/v1/feedback/{item_id}/extensions",
        json={"reason": "跨年协调", "requested_due_on": "2027-01-20"},
        headers=h["housing"],
    ).json()
    r = walker.client.post(
        f"/api/v1/extensions/{ext['id']}/decision", json={"approve": True}, headers=h["supervisor"]
    )
    assert r.status_code == 200, r.text
    calendar_file = (
        "source: 测试用假设安排\nyears:\n  - year: 2027\n"
        "    holidays: ['2027-01-01..2027-01-03', '2027-01-04']\n    workdays: []\n"
    )
    r = walker.client.post(
        "/api/v1/calendar",
        files={"file": ("2027.yaml", calendar_file.encode(), "application/yaml")},
        headers=h["sysadmin"],
    )
    assert r.status_code == 201, r.text
    item = walker.client.get(f"/api/v1/feedback/{item_id}", headers=h["housing"]).json()
    assert item["due_on"] == "2027-01-20"
    assert not any(t["provisional"] for t in item["timers"] if t["state"] == "pending")


def test_a_batch_moves_every_open_opinion_overdue_once_with_its_audit_line(
    walker: Walker, engine: Engine, clock, scheduler, workers
) -> None:
    """Three opinions due at once: one set-based move each (state, version, audit line, chain)."""
    from workflows.kernel import audit

    event, _ = walker.held_event()
    r = walker.move(
        event["id"],
        "collect_feedback",
        data={"items": [{"content": f"建议{n}"} for n in range(3)]},
    )
    assert r.status_code == 200, r.text
    with Session(engine) as s:
        before = {i.id: i.version for i in s.exec(select(FeedbackItem)).all()}
    assert len(before) == 3
    clock.set(local(2022, 10, 13, 0, 0, 1))
    tick(scheduler, workers)
    with Session(engine) as s:
        items = s.exec(select(FeedbackItem)).all()
        assert {i.state for i in items} == {"overdue"}
        assert {i.id: i.version for i in items} == {k: v + 1 for k, v in before.items()}
        assert all(i.overdue_since == i.due_at for i in items)
        lines = s.exec(
            select(TransitionLog).where(TransitionLog.trigger == "feedback.mark_overdue")
        ).all()
        assert sorted((t.feedback_item_id, t.version) for t in lines) == sorted(
            (k, v + 1) for k, v in before.items()
        )
        assert {t.from_state for t in lines} == {"received"}
        assert [report.broken for report in audit.verify(s)] == [None] * len(audit.CHAINED)
    for _ in range(2):  # redelivered and re-passed: nothing moves twice
        tick(scheduler, workers)
    with Session(engine) as s:
        count = s.exec(
            select(func.count())
            .select_from(TransitionLog)
            .where(TransitionLog.trigger == "feedback.mark_overdue")
        ).one()
        assert count == 3


def test_level_two_never_overtakes_level_one_to_the_same_recipient(
    walker: Walker, engine: Engine, clock, rt: Runtime, channels
) -> None:
    """Both levels owed at once (a backdated item): level 2's delivery waits for level 1's,
    spending no attempt, and waits out level 1's backoff after a failure."""
    from workers import delivery

    event, _ = walker.held_event()
    now = clock.now()
    with Session(engine) as s:
        unit_id = s.get(Event, event["id"]).unit_id  # type: ignore[union-attr]
        rows = [
            Notification(
                key=f"order-test:{level}",
                subject_type="event",
                subject_id=event["id"],
                event_id=event["id"],
                unit_id=unit_id,
                rule="event_hold",
                kind="escalation",
                level=level,
                channel="email",
                recipient="contact@zhujian.example",
                title=f"level {level}",
                body="",
                created_at=now,
            )
            for level in (1, 2)
        ]
        s.add_all(rows)
        s.commit()
        first, second = rows[0].id, rows[1].id
    with pytest.raises(delivery.RetryLater) as waited:
        delivery.deliver(rt, second)  # type: ignore[arg-type]
    assert waited.value.delay_ms == delivery.ORDER_WAIT_MS
    channels["email"].fail_next(1)
    with pytest.raises(delivery.RetryLater):
        delivery.deliver(rt, first)  # type: ignore[arg-type]  # level 1 backs off 2 s
    with pytest.raises(delivery.RetryLater) as waited:
        delivery.deliver(rt, second)  # type: ignore[arg-type]
    assert waited.value.delay_ms == 3000  # level 1's backoff, and a second
    assert channels["email"].sent == []
    clock.advance(timedelta(seconds=3))
    assert delivery.deliver(rt, first).outcome == "sent"  # type: ignore[arg-type]
    assert delivery.deliver(rt, second).outcome == "sent"  # type: ignore[arg-type]
    assert [m.subject for m in channels["email"].sent] == ["level 1", "level 2"]
    with Session(engine) as s:
        assert s.get(Notification, second).attempts == 1  # type: ignore[union-attr]
