"""Delivery order without waiting: level 2 follows level 1 as soon as level 1's send is recorded
(issue 26), never before it, and never after level 1's whole send lease."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models import Event, Notification, OutboxMessage
from tests.conftest import Walker
from tests.workdays import test_deadlines as _deadlines
from tests.workdays.test_deadlines import Workers
from workers import delivery
from workers.channels import StubChannel
from workers.channels.base import Message
from workers.runtime import Runtime
from workflows.kernel.jobs import DELIVER_ACTOR

# The worker fixtures of test_deadlines (real actors on a clocked stub broker), by their names.
broker = _deadlines.broker
channels = _deadlines.channels
rt = _deadlines.rt
workers = _deadlines.workers


def _both_levels(walker: Walker, engine: Engine, now) -> tuple[int, int]:  # noqa: ANN001
    """Level 1 and level 2 of one backdated item, owed at once to one address."""
    event, _ = walker.held_event()
    with Session(engine) as s:
        unit_id = s.get(Event, event["id"]).unit_id  # type: ignore[union-attr]
        rows = [
            Notification(
                key=f"order-now:{level}",
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
        return rows[0].id, rows[1].id  # type: ignore[return-value]


class _WhileSending(StubChannel):
    """While level 1 is on the wire (leased, no transaction open), level 2's message comes in."""

    def __init__(self, rt: Runtime, second: int) -> None:
        super().__init__("email")
        self.rt, self.second = rt, second
        self.waited: delivery.RetryLater | None = None

    def send(self, message: Message) -> None:
        if message.data["level"] == 1:
            with pytest.raises(delivery.RetryLater) as waited:
                delivery.deliver(self.rt, self.second)
            self.waited = waited.value
        super().send(message)


def test_level_two_follows_as_soon_as_level_one_is_recorded(
    walker: Walker, engine: Engine, clock, rt: Runtime
) -> None:
    first, second = _both_levels(walker, engine, clock.now())
    email = _WhileSending(rt, second)
    rt.channels["email"] = email  # type: ignore[index]
    done = delivery.deliver(rt, first)
    assert done.outcome == "sent"
    # Level 2 came in while level 1 held its 60 s lease: it only falls back to that wait…
    assert email.waited is not None and email.waited.delay_ms is not None
    assert email.waited.delay_ms > rt.settings.delivery_lease_seconds * 1000
    # …because recording level 1 owed level 2 again at once, in the same transaction.
    with Session(engine) as s:
        owed = s.exec(select(OutboxMessage).where(col(OutboxMessage.id).in_(done.follow))).all()
        assert [(o.actor, o.args) for o in owed] == [(DELIVER_ACTOR, [second])]
    # Not a second later on the clock, level 2 goes, after level 1.
    assert delivery.deliver(rt, second).outcome == "sent"
    assert [m.subject for m in email.sent] == ["level 1", "level 2"]
    with Session(engine) as s:
        one, two = s.get(Notification, first), s.get(Notification, second)
        assert one is not None and two is not None and one.sent_at == two.sent_at == clock.now()
        assert two.attempts == 1  # waiting spent no attempt


def test_through_the_workers_level_two_goes_in_the_same_drain(
    walker: Walker, engine: Engine, clock, rt: Runtime, workers: Workers
) -> None:
    """The actor relays what the recorded level 1 owes: no retry delay, no clock moved."""
    first, second = _both_levels(walker, engine, clock.now())
    email = _WhileSending(rt, second)
    rt.channels["email"] = email  # type: ignore[index]
    workers.send(DELIVER_ACTOR, [first])
    workers.drain()
    assert [m.subject for m in email.sent] == ["level 1", "level 2"]
    assert workers.retries == []


def test_a_level_one_that_fails_for_good_lets_level_two_go(
    walker: Walker, engine: Engine, clock, rt: Runtime, channels: dict[str, StubChannel]
) -> None:
    first, second = _both_levels(walker, engine, clock.now())
    channels["email"].fail_next(1, permanent=True)
    done = delivery.deliver(rt, first)
    assert done.outcome == "failed" and len(done.follow) == 1
    clock.advance(timedelta(milliseconds=1))
    assert delivery.deliver(rt, second).outcome == "sent"
