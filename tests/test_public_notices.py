"""Public side, round 2 (issue 13): the scheduled retention purge, messages to registrants
(e-mail through an SMTP sink, SMS through the log channel), and printable receipt slips."""

from __future__ import annotations

from datetime import timedelta

import structlog
from sqlalchemy.engine import Engine
from sqlmodel import select

from models import Registration
from tests.conftest import Walker, World, local
from tests.test_public import PHONE, open_event, register, settings  # noqa: F401 - fixture
from workers.scheduler import Scheduler
from workflows.clock import FixedClock


def test_scheduler_purges_once_a_day_with_counts_and_nothing_personal(
    engine: Engine, walker: Walker, world: World, clock: FixedClock
) -> None:
    event = open_event(walker, places=2)
    assert register(walker.client, event["id"], name="张三").status_code == 201
    sched = Scheduler(engine, lambda a, b: None, clock, retention_days=30)
    # The campaign ended 2022-09-22: with 30 days' retention its data goes on 10-23, not before.
    clock.set(local(2022, 10, 22, 0, 5))
    with structlog.testing.capture_logs() as logs:
        sched.run_once()
        sched.run_once()  # the same day: not again
    purges = [line for line in logs if line["event"] == "privacy_purged"]
    assert [p["registrations"] for p in purges] == [0]
    clock.set(local(2022, 10, 23, 0, 5))
    with structlog.testing.capture_logs() as logs:
        sched.run_once()
        assert sched.purge_daily() is None  # done for today
    purges = [line for line in logs if line["event"] == "privacy_purged"]
    assert [p["registrations"] for p in purges] == [1]
    assert "张三" not in str(logs) and PHONE not in str(logs)
    with world.session() as s:
        row = s.exec(select(Registration)).one()
    assert row.purged_at is not None and row.phone_enc is None and row.name == "（已清除）"
    # The next day the purge runs again and finds nothing left: idempotent.
    clock.advance(timedelta(days=1))
    assert sched.purge_daily() == 0
    # Without a retention setting the scheduler never purges.
    assert Scheduler(engine, lambda a, b: None, clock).purge_daily() is None
