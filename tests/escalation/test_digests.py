"""Daily digests (催办汇总): a burst of overdue items is one message per recipient, at the digest
hour, with every item listed in order — driven by the injected clock on the demo's 39 events."""

# ruff: noqa: F811  (pytest fixtures imported from test_deadlines, used by name as parameters)

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from models import (
    DEFAULT_DISTRICT,
    Event,
    EventState,
    InboxMessage,
    Notification,
    NotificationState,
    Role,
    Timer,
    Unit,
    User,
)
from tests.conftest import HOUSING, Walker, local

# The worker fixtures of test_deadlines (real actors on a clocked stub broker), by their names.
from tests.workdays.test_deadlines import (  # noqa: F401
    Workers,
    broker,
    channels,
    rt,
    scheduler,
    workers,
)
from workers.channels import StubChannel, WebhookChannel
from workers.scheduler import Scheduler
from workflows.accounts.service import actor_of
from workflows.campaign.rules import CampaignRules
from workflows.escalation import digests, notifications
from workflows.escalation import service as escalation
from workflows.escalation.batch import NotifyConfig
from workflows.kernel.clock import FixedClock
from workflows.schedule.demo import load_demo_campaign

BOARD = "http://127.0.0.1:8000/board"


def _settle(scheduler: Scheduler, workers: Workers) -> int:
    """Scheduler passes and worker drains until nothing more is due; timers fired."""
    fired = 0
    for _ in range(20):
        result = scheduler.run_once()
        workers.drain()
        fired += result.fired
        if result.fired == 0 and result.relayed == 0:
            return fired
    raise AssertionError("the scheduler never settled")


def _demo(engine: Engine, clock: FixedClock) -> dict[str, int]:
    """The demo campaign taking digests; every unit a contact, every third a 企业微信 robot, the
    first unit's contact choosing notices one by one; one supervisor."""
    with Session(engine, expire_on_commit=False) as s:
        campaign = load_demo_campaign(s, clock.now())
        rules = CampaignRules.of(campaign.rules).model_copy(
            update={"escalation_delivery": "digest"}
        )
        campaign.rules = rules.model_dump()
        s.add(campaign)
        units = s.exec(select(Unit).order_by(col(Unit.id))).all()
        for n, unit in enumerate(units):
            unit.contact_email = f"contact{n}@unit.example"
            if n % 3 == 0:
                unit.webhook_url = f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k{n}"
                unit.webhook_format = "wecom"
            if n == 0:
                unit.escalation_delivery = "individual"
            s.add(unit)
        s.add(
            User(
                username="duban",
                display_name="督办",
                role=Role.supervisor,
                district_id=DEFAULT_DISTRICT,  # 雁江区's office: its units' escalations reach it
                email="duban@zfb.example",
                created_at=clock.now(),
            )
        )
        s.commit()
        return {"units": len(units), "robots": sum(1 for u in units if u.webhook_url)}


def test_the_39_overdue_demo_events_make_one_digest_per_recipient(
    engine: Engine,
    scheduler: Scheduler,
    workers: Workers,
    channels: dict[str, StubChannel],
) -> None:
    clock = scheduler.clock
    assert isinstance(clock, FixedClock)
    clock.set(local(2023, 1, 10, 15))  # every 2022 event long past: both levels due at once
    counts = _demo(engine, clock)
    assert counts == {"units": 39, "robots": 13}
    assert _settle(scheduler, workers) == 78  # 39 events × 2 levels
    # Before 09:00 only the log and the one unit that chose notices one by one heard anything.
    assert len(channels["log"].sent) == 78
    assert [m.recipient for m in channels["email"].sent] == ["contact0@unit.example"] * 2
    assert [m.subject.split("】")[0] for m in channels["email"].sent] == [
        "【催办",
        "【第2次催办·抄送雁江区政府办",
    ]
    levels = [m.data["level"] for m in channels["email"].sent]
    assert levels == [1, 2]
    assert [m.data["level"] for m in channels["webhook_wecom"].sent] == [1, 2]  # unit 0's robot
    with Session(engine) as s:
        held = s.exec(
            select(Notification).where(Notification.state == NotificationState.held)
        ).all()
        # 38 contacts + 13 robots (unit 0's robot follows its unit: one by one) + 1 supervisor,
        # whose inbox takes the digest too (the account chose it).
        assert len(held) == 38 + 12 + 1 + 1
        assert sum(1 for h in held if h.channel == "inbox") == 1
        assert len({h.key for h in held}) == len(held)
        digest_timers = s.exec(select(Timer).where(Timer.rule == digests.RULE)).all()
        assert {t.due_at for t in digest_timers} == {local(2023, 1, 11, 9)}
        assert len(digest_timers) == len(held)

    # A redelivered batch and another pass change nothing: no second digest, no second item.
    with Session(engine) as s:
        before = s.exec(select(func.count()).select_from(Notification)).one()
    _settle(scheduler, workers)
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(Notification)).one() == before

    clock.set(local(2023, 1, 11, 9))
    assert _settle(scheduler, workers) == 52
    mails = channels["email"].sent[2:]
    by_recipient = Counter(m.recipient for m in mails)
    assert len(mails) == 39  # 38 contacts and the supervisor: one message each
    assert all(n == 1 for n in by_recipient.values())
    supervisor = next(m for m in mails if m.recipient == "duban@zfb.example")
    assert supervisor.subject == "【催办汇总】2023年1月11日（星期三） 共39项到期或逾期事项"
    assert supervisor.body.count("第2次催办·抄送雁江区政府办") == 39
    assert BOARD in supervisor.body
    with Session(engine) as s:
        (boxed,) = s.exec(select(InboxMessage)).all()
        assert boxed.kind == "digest" and boxed.title == supervisor.subject
        assert boxed.body.count("第2次催办·抄送雁江区政府办") == 39
    contact = next(m for m in mails if m.recipient == "contact5@unit.example")
    # One event at two levels is one item listed on two lines: the subject counts items.
    assert "共1项" in contact.subject, contact.subject
    assert "有 1 项事项到期或逾期（其中逾期 1 项，即将到期 0 项）" in contact.body
    # The levels of one item stay in order: level 1 listed before level 2.
    first, second = contact.body.index("| 催办"), contact.body.index("| 第2次催办")
    assert first < second
    assert "活动开展" in contact.body and "已逾期" in contact.body
    robots = channels["webhook_wecom"].sent[2:]
    assert len(robots) == 12 and len({m.recipient for m in robots}) == 12
    payload = WebhookChannel(format="wecom").payload(robots[0])
    assert payload["msgtype"] == "markdown"
    assert len(payload["markdown"]["content"].encode()) <= 4096
    assert "### 【催办汇总】" in payload["markdown"]["content"]

    # The digests were sent once: the next day's pass sends nothing more.
    clock.advance(timedelta(days=1))
    _settle(scheduler, workers)
    assert len(channels["email"].sent) == 2 + 39


def test_an_item_settled_before_the_digest_hour_is_withdrawn(
    engine: Engine, scheduler: Scheduler, workers: Workers, channels: dict[str, StubChannel]
) -> None:
    clock = scheduler.clock
    assert isinstance(clock, FixedClock)
    clock.set(local(2023, 1, 10, 15))
    _demo(engine, clock)
    _settle(scheduler, workers)
    with Session(engine) as s:
        unit = s.exec(select(Unit).where(Unit.contact_email == "contact4@unit.example")).one()
        event = s.exec(select(Event).where(Event.unit_id == unit.id)).one()
        event.state = EventState.cancelled  # settled meanwhile: nothing left to chase
        s.add(event)
        s.commit()
    clock.set(local(2023, 1, 11, 9, 30))
    _settle(scheduler, workers)
    recipients = [m.recipient for m in channels["email"].sent]
    assert "contact4@unit.example" not in recipients
    assert "contact5@unit.example" in recipients
    supervisor = next(m for m in channels["email"].sent if m.recipient == "duban@zfb.example")
    assert "共38项" in supervisor.subject
    with Session(engine) as s:
        withdrawn = s.exec(
            select(Notification).where(Notification.state == NotificationState.withdrawn)
        ).all()
        # The contact's digest (nothing left) and its own two items, the supervisor's one item
        # (by e-mail and in the inbox).
        kinds = Counter(n.kind for n in withdrawn)
        assert kinds == {"digest": 1, "escalation": 4}


def test_a_failed_digest_is_listed_and_can_be_sent_again(
    engine: Engine, scheduler: Scheduler, workers: Workers, channels: dict[str, StubChannel]
) -> None:
    clock = scheduler.clock
    assert isinstance(clock, FixedClock)
    clock.set(local(2023, 1, 10, 15))
    _demo(engine, clock)
    _settle(scheduler, workers)
    channels["email"].fail_next(1, permanent=True)
    clock.set(local(2023, 1, 11, 9))
    _settle(scheduler, workers)
    with Session(engine) as s:
        failed = s.exec(
            select(Notification).where(Notification.state == NotificationState.failed)
        ).one()
        assert failed.kind == "digest" and failed.event_id is None
        supervisor = s.exec(select(User).where(User.username == "duban")).one()
        # The district office's supervisor, with its district's units as a sign-in loads them:
        # the digest carries only its district's items, so it is theirs to resend.
        actor = actor_of(s, supervisor)
        notifications.retry_failed(s, actor, failed.id, clock.now())  # type: ignore[arg-type]
        s.commit()
        failed_id, recipient = failed.id, failed.recipient
    _settle(scheduler, workers)
    with Session(engine) as s:
        again = s.get(Notification, failed_id)
        assert again is not None and again.state == NotificationState.sent
    assert [m.recipient for m in channels["email"].sent].count(recipient) == 1


def test_robot_digests_fit_their_limits_and_count_what_is_left_out() -> None:
    lines = [
        digests.Line(
            unit=f"区住房和城乡建设局{n}",
            what="意见办理（编号 123）",
            theme="参观老旧小区改造现场" * 3,
            due=date(2022, 10, 12),
            level="第2次催办·抄送雁江区政府办",
            status="已逾期 60 个工作日（90 天）",
            overdue=True,
        )
        for n in range(300)
    ]
    now = local(2023, 1, 11, 9)
    for channel, limit in (("webhook_wecom", 4096), ("webhook_dingtalk", 18000)):
        title, body = digests.compose(channel, date(2023, 1, 11), lines, now, BOARD)
        assert len(body.encode("utf-8")) <= limit
        listed = sum(1 for line in body.splitlines() if line.split(".")[0].isdigit())
        assert 0 < listed < 300
        assert f"其余 **{300 - listed}** 项未列出。" in body
        assert body.endswith(f"[登录督办看板查看全部]({BOARD})")
        assert title == "【催办汇总】2023年1月11日（星期三） 共300项到期或逾期事项"
    # E-mail: a plain-text table with every item up to its cap.
    _, text = digests.compose("email", date(2023, 1, 11), lines[:3], now, BOARD)
    rows = [line for line in text.splitlines() if line.startswith("|")]
    assert [c.strip() for c in rows[0].strip("|").split("|")] == [
        "序号", "单位", "事项", "活动", "期限", "级别", "情况",
    ]  # fmt: skip
    assert rows[2].strip("|").split("|")[0].strip() == "1"
    assert "已逾期 60 个工作日（90 天）" in rows[2] and "2022年10月12日（星期三）" in rows[2]
    assert text.count("区住房和城乡建设局") == 3 and "其余" not in text


def test_the_digest_day_is_the_next_digest_hour() -> None:
    assert digests.digest_day(local(2023, 1, 11, 8, 59), 9) == date(2023, 1, 11)
    assert digests.digest_day(local(2023, 1, 11, 9), 9) == date(2023, 1, 12)
    assert digests.digest_day(local(2023, 1, 11, 23, 30), 9) == date(2023, 1, 12)
    assert digests.digest_key("email", "a@b", date(2023, 1, 11)) != digests.digest_key(
        "email", "a@c", date(2023, 1, 11)
    )


def test_a_unit_chooses_how_it_hears_and_bad_choices_are_refused(walker: Walker) -> None:
    unit_id = walker.world.units[HOUSING]
    url, headers = f"/api/v1/units/{unit_id}", walker.world.headers["supervisor"]
    r = walker.client.patch(url, json={"escalation_delivery": "digest"}, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["escalation_delivery"] == "digest"
    with walker.world.session() as s:
        unit = s.get(Unit, unit_id)
        assert unit is not None
        unit.contact_email = "contact@zhujian.example"
        to = escalation.recipients(s, ("unit_contact",), unit, NotifyConfig(email_enabled=True))
        assert [(r.channel, r.delivery) for r in to] == [
            ("email", "digest"),
            ("inbox", "digest"),  # the unit's staff account follows its unit
            ("log", None),
        ]
    r = walker.client.patch(url, json={"escalation_delivery": "weekly"}, headers=headers)
    assert r.status_code == 422
    r = walker.client.patch(url, json={"escalation_delivery": None}, headers=headers)
    assert r.status_code == 200 and r.json()["escalation_delivery"] is None


def test_a_supervisor_chooses_the_digest_for_their_own_e_mail(walker: Walker) -> None:
    headers = walker.world.headers["supervisor"]
    body = {"email": "duban@zfb.example", "escalation_delivery": "digest"}
    r = walker.client.patch("/api/v1/me", json=body, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["escalation_delivery"] == "digest"
    with walker.world.session() as s:
        unit = s.get(Unit, walker.world.units[HOUSING])
        assert unit is not None
        to = escalation.recipients(s, ("supervisors",), unit, NotifyConfig(email_enabled=True))
        assert ("email", "duban@zfb.example", "digest") in [
            (r.channel, r.address, r.delivery) for r in to
        ]
    r = walker.client.patch("/api/v1/me", json={"escalation_delivery": "hourly"}, headers=headers)
    assert r.status_code == 422


def test_the_notification_list_filters_by_every_state(walker: Walker) -> None:
    """Digest states are states of the list too; an unknown one is a 422 naming the field."""
    headers = walker.world.headers["supervisor"]
    for state in NotificationState:
        r = walker.client.get("/api/v1/notifications", params={"state": state}, headers=headers)
        assert r.status_code == 200, (state, r.text)
    r = walker.client.get("/api/v1/notifications", params={"state": "lost"}, headers=headers)
    assert r.status_code == 422 and "state" in r.text
