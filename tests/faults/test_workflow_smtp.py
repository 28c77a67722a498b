"""Deadlines made by the workflow, delivered by e-mail, with a worker killed on the way.

Unlike the other fault tests (timers inserted in bulk, escalations to a webhook), the work here
is made the way the service makes it: a schedule table imported through the API (events and
their hold deadlines), events walked through invite → hold → collect_feedback (summary and
answer deadlines with reminders), units' contact e-mails set through the API — all on the
notice's day, 2022-09-16. The real scheduler and worker run on today's clock, so every
reminder and escalation is owed at once, by e-mail to an aiosmtpd sink; one worker process is
killed with SIGKILL while they go out. Every e-mail notification the database owes arrives; a
repeat (same X-OpenDay-Key and Message-ID, which mail clients fold into one) is allowed only for
the few messages the killed process may have been sending.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterator
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from sqlalchemy.engine import Engine

from models import Notification, Timer
from tests.conftest import Walker
from tests.faults.harness import Fleet, free_port, scheduler_and_worker, service_env, wait_until

THREADS = 4
UNITS = 12


class Collect:
    """aiosmtpd handler keeping every accepted message's X-OpenDay-Key."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: ANN001, N802
        message = message_from_bytes(envelope.content, policy=default_policy)
        self.keys.append(str(message["X-OpenDay-Key"]))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp() -> Iterator[tuple[Collect, int]]:
    handler = Collect()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield handler, controller.port
    finally:
        controller.stop()


def _seed(walker: Walker) -> None:
    """Through the API: an imported table of UNITS events, three events walked to
    feedback_collected with two opinions each, every unit with a contact e-mail."""
    client, world = walker.client, walker.world
    boss = world.headers["supervisor"]
    table = "序号,单位名称,活动主题,开展时间\n" + "".join(
        f"{n},故障测试{n:02d}街道,开放日第{n}场,9月16日\n" for n in range(1, UNITS + 1)
    )
    done = client.post(
        f"/api/v1/campaigns/{world.campaign_id}/schedule-imports",
        files={"file": ("表.csv", table.encode(), "text/csv")},
        params={"confirm_past_escalations": "true"},
        headers=boss,
    )
    assert done.status_code == 201, done.text
    for _ in range(3):
        event, _ = walker.held_event()
        items = [{"content": "路灯不亮"}, {"content": "公开资金明细"}]
        moved = walker.move(event["id"], "collect_feedback", data={"items": items})
        assert moved.status_code == 200, moved.text
    units = client.get("/api/v1/units", params={"limit": 100}, headers=boss).json()
    for unit in units["items"] if isinstance(units, dict) else units:
        patched = client.patch(
            f"/api/v1/units/{unit['id']}",
            json={"contact_email": f"unit{unit['id']}@example.gov.cn"},
            headers=boss,
        )
        assert patched.status_code == 200, patched.text


@pytest.mark.postgresql
def test_workflow_deadlines_reach_smtp_with_a_worker_killed(
    walker: Walker,
    engine: Engine,
    fleet: Fleet,
    broker_url: str,
    smtp: tuple[Collect, int],
) -> None:
    handler, port = smtp
    _seed(walker)
    with engine.connect() as conn:
        rules = set(conn.execute(sa.select(Timer.rule).distinct()).scalars())  # type: ignore[call-overload]
    assert {"event_hold", "feedback_answer", "summary"} <= rules
    env = service_env(
        engine.url.render_as_string(hide_password=False),
        broker_url,
        OPENDAY_SMTP_HOST="127.0.0.1",
        OPENDAY_SMTP_PORT=str(port),
    )
    scheduler, worker = scheduler_and_worker(fleet, env, processes=2, threads=THREADS)
    wait_until(lambda: len(handler.keys) >= 10, 90, "e-mails under way", diagnostics=fleet.logs)
    assert worker.kill_random_child(random.Random(14)) is not None

    def settled() -> bool:
        with engine.connect() as conn:
            open_timers = conn.execute(
                sa.select(sa.func.count())
                .select_from(Timer)
                .where(Timer.state.in_(("pending", "fired")))  # type: ignore[arg-type]
            ).scalar_one()
            unsent = conn.execute(
                sa.select(sa.func.count())
                .select_from(Notification)
                .where(
                    Notification.channel == "email",
                    Notification.state.in_(("pending", "sending")),
                )  # type: ignore[arg-type]
            ).scalar_one()
        return open_timers == 0 and unsent == 0

    took = wait_until(settled, 180, "every deadline handled and e-mailed", diagnostics=fleet.logs)
    time.sleep(2)  # a repeat from the killed process's lease would land now, if at all
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(Notification.key, Notification.rule, Notification.state).where(  # type: ignore[call-overload]
                Notification.channel == "email"
            )
        ).all()
    assert {state for _, _, state in rows} == {"sent"}, Counter(state for _, _, state in rows)
    owed = {key: rule for key, rule, _ in rows}
    got = Counter(handler.keys)
    print(
        f"\n{len(owed)} e-mails owed ({dict(Counter(owed.values()))}); {len(handler.keys)} "
        f"received; settled {took:.1f} s after the kill; worker started {worker.starts}x"
    )
    assert {"event_hold", "feedback_answer", "summary"} <= set(owed.values())
    assert set(got) == set(owed), (set(owed) - set(got), set(got) - set(owed))
    repeats = {k: n for k, n in got.items() if n > 1}
    assert sum(n - 1 for n in repeats.values()) <= THREADS, repeats
    assert scheduler.alive(), fleet.logs()
