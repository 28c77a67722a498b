"""Job messages carry their district (issue 28, docs/tenancy.md): outbox rows hold it, the relay
appends it to the message, the scheduler sends one district's timers per message, and a worker
binds that district's tenant; a message naming no district is refused, nothing written."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models import District, Notification, NotificationState, OutboxMessage, Timer, TimerState
from tests.conftest import local
from workers.relay import relay
from workers.scheduler import Scheduler
from workflows.kernel import jobs, tenancy
from workflows.kernel.clock import FixedClock

NOW = local(2022, 9, 16)


def test_a_message_names_a_district_or_the_city_or_is_refused() -> None:
    assert jobs.tenant_of("x", 3) == tenancy.Tenant(3)
    assert jobs.tenant_of("x", jobs.CITY_WIDE) == tenancy.JOBS
    for missing in (None, "3", "", 0, -1, True, [3]):
        with pytest.raises(jobs.Refused, match="names no district"):
            jobs.tenant_of("deliver_notification", missing)


def _district(session: Session, code: str) -> int:
    row = District(code=code, name=f"{code}区", created_at=NOW)
    session.add(row)
    session.flush()
    assert row.id is not None
    return row.id


def _timer(district_id: int | None, subject_id: int, subject: str = "event") -> Timer:
    return Timer(rule="summary", kind="reminder", subject_type=subject, subject_id=subject_id,
                 deadline_on=date(2022, 9, 16), due_at=NOW - timedelta(minutes=1),
                 district_id=district_id, created_at=NOW)  # fmt: skip


def test_the_scheduler_sends_each_districts_timers_in_their_own_messages(engine: Engine) -> None:
    """Timers of districts 1 and B and a digest's (city-level) fire together: three messages,
    each naming its district (the digest's CITY_WIDE), no message mixing two."""
    with Session(engine) as s:
        tenancy.bind(s, tenancy.OPERATOR)
        b = _district(s, "anyue")
        s.add_all([_timer(1, 1), _timer(b, 2), _timer(1, 3), _timer(None, 4, "digest")])
        s.commit()
        ids = {t.subject_id: t.id for t in s.exec(select(Timer)).all()}
    sent: list[tuple[str, list[Any]]] = []
    Scheduler(engine, lambda actor, args: sent.append((actor, args)), FixedClock(NOW)).run_once()
    messages = {tuple(args[0]): args[1] for actor, args in sent if actor == "handle_timers"}
    assert messages == {
        (ids[1], ids[3]): 1,
        (ids[2],): b,
        (ids[4],): jobs.CITY_WIDE,
    }
    with Session(engine) as s:
        tenancy.bind(s, tenancy.OPERATOR)
        rows = s.exec(select(OutboxMessage).where(OutboxMessage.actor == "handle_timers")).all()
        assert sorted((r.district_id or 0) for r in rows) == sorted([1, b or 0, 0])


def test_the_relay_appends_the_rows_district(engine: Engine) -> None:
    with Session(engine) as s:
        tenancy.bind(s, tenancy.Tenant(1))  # a district's request owes a job: its district
        jobs.owe(s, "deliver_notification", [41], NOW)
        tenancy.bind(s, tenancy.JOBS)
        jobs.owe(s, "deliver_notification", [42], NOW, district_id=None)  # a digest's
        s.commit()
    sent: list[tuple[str, list[Any]]] = []
    assert relay(engine, lambda actor, args: sent.append((actor, args)), NOW) == 2
    assert sorted(args for _, args in sent) == [[41, 1], [42, jobs.CITY_WIDE]]


def _owed_notification(engine: Engine) -> int:
    with Session(engine) as s:
        tenancy.bind(s, tenancy.OPERATOR)
        row = Notification(key="k1", subject_type="event", subject_id=1, rule="summary",
                           kind="reminder", channel="log", recipient="x", title="t", body="b",
                           created_at=NOW, district_id=1)  # fmt: skip
        s.add(row)
        s.commit()
        assert row.id is not None
        return row.id


def test_a_message_without_a_district_is_refused_and_nothing_is_written(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both actors, called with a message of the old shape (no district): `Refused` before
    any transaction, the notification still pending and unattempted, the timer still fired;
    the actors never retry it (dramatiq dead-letters it)."""
    from workers import actors

    notification_id = _owed_notification(engine)
    with Session(engine) as s:
        tenancy.bind(s, tenancy.OPERATOR)
        timer = _timer(1, 9)
        timer.state = TimerState.fired
        s.add(timer)
        s.commit()
        timer_id = timer.id

    def no_runtime() -> Any:
        raise AssertionError("a refused message must not reach the database")

    monkeypatch.setattr(actors, "runtime", no_runtime)
    with pytest.raises(jobs.Refused):
        actors.deliver_notification.fn(notification_id)
    with pytest.raises(jobs.Refused):
        actors.handle_timers.fn([timer_id])
    for actor in (actors.deliver_notification, actors.handle_timers):
        assert jobs.Refused in actor.options["throws"]
    with Session(engine) as s:
        tenancy.bind(s, tenancy.OPERATOR)
        row = s.get(Notification, notification_id)
        assert row is not None
        assert (row.state, row.attempts) == (NotificationState.pending, 0)
        fired = s.get(Timer, timer_id)
        assert fired is not None and fired.state == TimerState.fired
        assert s.exec(select(OutboxMessage).where(col(OutboxMessage.id) > 0)).all() == []
