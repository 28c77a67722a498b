"""Every level reaches the inboxes of the staff it concerns (issue 26): level 1 the unit's staff,
level 2 the unit's staff and every district supervisor; nothing twice; the office's robot hears
what is addressed to the office; an address or account added while items are open hears them."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models import InboxMessage, Notification, Unit
from settings import Settings
from tests.conftest import HOUSING, Walker, local
from tests.workdays import test_deadlines as _deadlines
from tests.workdays.test_deadlines import Workers, _collected_with_one_opinion, tick
from workers.channels import StubChannel
from workflows.escalation import service as escalation
from workflows.escalation.batch import NotifyConfig
from workflows.inbox import service as inbox

# The worker fixtures of test_deadlines (real actors on a clocked stub broker), by their names.
broker = _deadlines.broker
channels = _deadlines.channels
rt = _deadlines.rt
scheduler = _deadlines.scheduler
workers = _deadlines.workers


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The app with an SMTP server configured (never reached: the workers' channels are stubs)."""
    return Settings(var_dir=tmp_path / "var", database_url="sqlite://", smtp_host="mail.invalid")


def _box(engine: Engine, user_id: int) -> list[InboxMessage]:
    """An account's messages about the opinion (the event's summary is overdue too)."""
    with Session(engine) as s:
        stmt = select(InboxMessage).where(
            InboxMessage.user_id == user_id, col(InboxMessage.link).contains("/feedback#")
        )
        return list(s.exec(stmt.order_by(col(InboxMessage.id))).all())


def _levels(walker: Walker, clock, scheduler, workers) -> tuple[int, int]:  # noqa: ANN001
    """An opinion left unanswered through level 1 (2022-10-13) and level 2 (2022-10-20)."""
    event, item_id = _collected_with_one_opinion(walker)  # answer due 2022-10-12
    clock.set(local(2022, 10, 13, 0, 0, 1))
    tick(scheduler, workers)
    return event["id"], item_id


def test_level_one_reaches_the_unit_staff_and_level_two_every_supervisor_too(
    walker: Walker, engine: Engine, clock, scheduler, workers: Workers
) -> None:
    event_id, item_id = _levels(walker, clock, scheduler, workers)
    ids = walker.world.user_ids
    (first,) = _box(engine, ids["housing"])
    assert first.title.startswith("【催办】") and first.level == 1 and first.read_at is None
    assert first.link == f"/events/{event_id}/feedback#item-{item_id}"
    for nobody in ("supervisor", "shiling", "viewer", "sysadmin", "secadmin", "auditor"):
        assert _box(engine, ids[nobody]) == []
    clock.set(local(2022, 10, 20, 0, 0, 1))
    tick(scheduler, workers)
    (copied,) = _box(engine, ids["supervisor"])
    assert copied.title.startswith("【第2次催办·抄送雁江区政府办】") and copied.kind == "escalation"
    assert [m.level for m in _box(engine, ids["housing"])] == [1, 2]
    assert _box(engine, ids["shiling"]) == []
    h = walker.world.headers
    r = walker.client.get("/api/v1/inbox/unread-count", headers=h["supervisor"])
    assert r.status_code == 200 and r.json() == {"unread": 2}  # the opinion and the summary


def test_nothing_reaches_an_inbox_twice(
    walker: Walker, engine: Engine, clock, scheduler, workers: Workers, rt
) -> None:
    _levels(walker, clock, scheduler, workers)
    clock.set(local(2022, 10, 20, 0, 0, 1))
    scheduler.run_once()
    workers.redeliver("timers")  # the broker hands the timer batch out twice
    workers.drain()
    tick(scheduler, workers)
    ids = walker.world.user_ids
    assert len(_box(engine, ids["housing"])) == 2 and len(_box(engine, ids["supervisor"])) == 1
    with Session(engine) as s:
        rows = s.exec(select(Notification).where(Notification.channel == inbox.INBOX)).all()
        assert len(rows) == 6 and {r.state for r in rows} == {"sent"}  # opinion and summary
        # Delivering the same rows again (a retried worker) and owing the open items again.
        assert inbox.deliver(s, list(rows), clock.now()) == 0
        again = escalation.owe_open(s, walker.world.units[HOUSING], clock.now(), rt.notify)
        assert again.notifications == 0
        s.commit()
    assert len(_box(engine, ids["housing"])) == 2


def test_the_office_robot_hears_what_is_addressed_to_the_office_never_a_unit_robot(
    walker: Walker,
) -> None:
    office, unit_robot = "https://qyapi.example/office", "https://qyapi.example/unit"
    config = NotifyConfig(supervisor_webhook_url=office, supervisor_webhook_format="wecom")
    with walker.world.session() as s:
        unit = s.get(Unit, walker.world.units[HOUSING])
        assert unit is not None
        unit.webhook_url, unit.webhook_format = unit_robot, "dingtalk"

        def robots(audience: tuple) -> list[tuple[str, str]]:  # type: ignore[type-arg]
            to = escalation.recipients(s, audience, unit, config)
            return [(r.channel, r.address) for r in to if r.channel.startswith("webhook_")]

        level_one, level_two = ("unit_contact", "unit_head"), ("unit_contact", "supervisors")
        assert robots(level_one) == [("webhook_dingtalk", unit_robot)]
        assert robots(level_two) == [
            ("webhook_dingtalk", unit_robot),  # addressed to the unit too
            ("webhook_wecom", office),  # the copy for the office: its own robot
        ]
        assert robots(("supervisors",)) == [("webhook_wecom", office)]  # never the unit's
        boxes = [r.address for r in escalation.recipients(s, ("supervisors",), unit, config)]
        assert inbox.address(walker.world.user_ids["supervisor"]) in boxes
        assert inbox.address(walker.world.user_ids["housing"]) not in boxes


def test_an_address_or_account_added_while_items_are_open_hears_them(
    walker: Walker,
    engine: Engine,
    clock,
    scheduler,
    workers: Workers,
    channels: dict[str, StubChannel],
) -> None:
    _levels(walker, clock, scheduler, workers)
    assert channels["email"].sent == []  # nobody to write to at level 1
    h, unit_id = walker.world.headers, walker.world.units[HOUSING]
    url = f"/api/v1/units/{unit_id}"
    r = walker.client.patch(url, json={"contact_email": "c@zhujian.example"}, headers=h["housing"])
    assert r.status_code == 200, r.text
    tick(scheduler, workers)
    # Each open item at its current level: the opinion's level 1, the summary's level 2.
    assert sorted((m.data["rule"], m.data["level"]) for m in channels["email"].sent) == [
        ("feedback_answer", 1),
        ("summary", 2),
    ]
    assert {m.recipient for m in channels["email"].sent} == {"c@zhujian.example"}
    r = walker.client.patch(url, json={"head_email": "h@zhujian.example"}, headers=h["housing"])
    assert r.status_code == 200, r.text
    r = walker.client.patch(url, json={"contact_name": "王五"}, headers=h["housing"])
    assert r.status_code == 200, r.text
    tick(scheduler, workers)
    assert [m.recipient for m in channels["email"].sent] == ["c@zhujian.example"] * 2 + [
        "h@zhujian.example"
    ] * 2  # the head's two, and nothing twice (nor for a change that adds no address)
    body = {"username": "newclerk", "role": "unit_staff", "unit_id": unit_id}
    r = walker.client.post("/api/v1/users", json=body, headers=h["supervisor"])
    assert r.status_code == 201, r.text
    (heard,) = _box(engine, r.json()["id"])
    assert heard.level == 1 and heard.title.startswith("【催办】")
    # A supervisor added later hears what is copied to the office (here only the summary's
    # level 2: the opinion is at level 1, the unit's alone).
    body = {"username": "newsup", "role": "supervisor", "email": "s@zfb.example"}
    r = walker.client.post("/api/v1/users", json=body, headers=h["secadmin"])
    assert r.status_code == 201, r.text
    with Session(engine) as s:
        boxed = s.exec(select(InboxMessage).where(InboxMessage.user_id == r.json()["id"])).all()
        assert [(m.level, m.link.endswith("/summary")) for m in boxed] == [(2, True)]
