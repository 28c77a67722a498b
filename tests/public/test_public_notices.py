"""Public side, round 2 (issue 13): the scheduled retention purge, messages to registrants
(e-mail through an SMTP sink, SMS through the log channel), and printable receipt slips."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
import structlog
from aiosmtpd.controller import Controller
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models import Campaign, Event, Notification, OutboxMessage, Registration
from settings import Settings
from tests.conftest import Walker, World, error_of, local
from tests.pages.test_pages import csrf_of, sign_in
from tests.public.test_public import ID_ADULT, PHONE, open_event, register
from tests.workers.test_channels import SinkHandler, free_port
from workers import delivery
from workers.channels import (
    LogSmsGateway,
    Message,
    PermanentChannelError,
    SmsChannel,
    SmsGateway,
)
from workers.runtime import Runtime, build_channels
from workers.scheduler import Scheduler
from workflows.kernel.clock import FixedClock
from workflows.kernel.jobs import DELIVER_ACTOR
from workflows.public import notices, privacy
from workflows.public.notices import Channels


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


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Rate limits counted per app (memory), as in tests/public/test_public.py."""
    return Settings(var_dir=tmp_path / "var", database_url="sqlite://", ratelimit_url="memory://")


# ---- messages to registrants: SMS (log gateway) and e-mail (an aiosmtpd sink) --------------

EMAIL = "zhaoliu@example.org"


@pytest.fixture(scope="module")
def sink() -> Iterator[tuple[SinkHandler, int]]:
    """A real SMTP server on 127.0.0.1 for the module."""
    handler = SinkHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield handler, controller.port
    finally:
        controller.stop()


@pytest.fixture
def notify_settings(tmp_path: Path, sink: tuple[SinkHandler, int], settings: Settings) -> Settings:
    """The test app's settings with SMTP pointed at the sink and SMS on the log gateway."""
    sink[0].reset()
    settings.smtp_host, settings.smtp_port, settings.sms_channel = "127.0.0.1", sink[1], "log"
    return settings


def _deliver_all(engine: Engine, clock: FixedClock, settings: Settings) -> list[str]:
    """Every owed delivery through the worker's code path (outbox row → deliver)."""
    rt = Runtime(engine=engine, clock=clock, settings=settings, channels=build_channels(settings))
    with Session(engine) as s:
        rows = s.exec(select(OutboxMessage).where(OutboxMessage.sent_at == None)).all()  # noqa: E711
        owed = [(r.actor, r.args) for r in rows]
    assert all(actor == DELIVER_ACTOR for actor, _ in owed)
    return [delivery.deliver(rt, args[0]).outcome for _, args in owed]


def _notices(engine: Engine) -> list[Notification]:
    with Session(engine) as s:
        return list(s.exec(select(Notification).order_by(Notification.id)).all())


def test_registrants_are_told_each_change_by_sms_and_email(
    engine: Engine,
    walker: Walker,
    clock: FixedClock,
    notify_settings: Settings,
    sink: tuple[SinkHandler, int],
) -> None:
    client, staff = walker.client, walker.world.headers["housing"]
    event = open_event(walker, places=1, location="某小区南门", start_time="14:30")
    eid = event["id"]
    a = register(client, eid, phone="13900000001", name="赵六", email=EMAIL, id_number=ID_ADULT)
    b = register(client, eid, phone="13900000002", name="钱七")
    c = register(client, eid, phone="13900000003", name="孙八")
    assert [r.json()["state"] for r in (a, b, c)] == ["registered", "waitlisted", "waitlisted"]
    rows = {r["code"]: r["id"] for r in client.get(
        f"/api/v1/events/{eid}/registrations", headers=staff).json()}  # fmt: skip
    # A refused change owes nothing: a stale version confirms nobody.
    stale = client.post(
        f"/api/v1/events/{eid}/registrations/{rows[a.json()['code']]}/confirm",
        params={"expected_version": 1}, headers=staff,
    )  # fmt: skip
    assert stale.status_code == 409
    assert len(_notices(engine)) == 4  # A: sms + email registered; B, C: sms waitlisted
    declined = client.post(
        f"/api/v1/events/{eid}/registrations/{rows[a.json()['code']]}/decline",
        json={"reason": "本场活动限本小区居民参加"}, headers=staff,
    )  # fmt: skip
    assert declined.status_code == 200  # B is offered the place (the clerk confirms it)
    version = client.get(f"/api/v1/events/{eid}", headers=staff).json()["version"]
    confirmed = client.post(
        f"/api/v1/events/{eid}/registrations/{rows[b.json()['code']]}/confirm",
        params={"expected_version": version}, headers=staff,
    )  # fmt: skip
    assert confirmed.status_code == 200
    gone = client.post(
        "/api/v1/public/registrations/cancel",
        json={"code": c.json()["code"], "phone": "13900000003"},
    )
    assert gone.status_code == 200
    notes = _notices(engine)
    by_reg: dict[int, list[tuple[str, str]]] = {}
    for n in notes:
        by_reg.setdefault(n.subject_id, []).append((n.kind, n.channel))
    ra, rb, rc = (rows[x.json()["code"]] for x in (a, b, c))
    assert by_reg == {
        ra: [("registered", "sms"), ("registered", "email"), ("declined", "sms"),
             ("declined", "email")],
        rb: [("waitlisted", "sms"), ("offered", "sms"), ("confirmed", "sms")],
        rc: [("waitlisted", "sms"), ("cancelled", "sms")],
    }  # fmt: skip
    # Nothing personal in the rows: no phone, address, name or ID number; one outbox row each.
    stored = " ".join(f"{n.key} {n.recipient} {n.title} {n.body}" for n in notes)
    for secret in ("1390000000", EMAIL, "赵六", "钱七", ID_ADULT):
        assert secret not in stored
    assert {n.recipient for n in notes} == {f"registration:{r}" for r in (ra, rb, rc)}
    with Session(engine) as s:
        keys = s.exec(select(OutboxMessage.dedupe_key)).all()
    assert sorted(keys) == sorted(f"deliver:{n.id}" for n in notes)
    # The worker delivers: SMS to the log (phone masked), e-mail to the sink.
    with structlog.testing.capture_logs() as logs:
        outcomes = _deliver_all(engine, clock, notify_settings)
    assert outcomes == ["sent"] * len(notes)
    sms = [line for line in logs if line["event"] == "sms_sent"]
    assert len(sms) == 7 and {line["recipient"] for line in sms} == {
        "139****0001", "139****0002", "139****0003"}  # fmt: skip
    assert "13900000001" not in str(logs) and ID_ADULT not in str(logs)
    assert any("原因：本场活动限本小区居民参加" in line["text"] for line in sms)
    assert any("第 1 位" in line["text"] for line in sms)
    mails = [sink[0].parsed(i) for i in range(len(sink[0].envelopes))]
    assert [m["To"] for m in mails] == [EMAIL, EMAIL]
    assert [m["Subject"] for m in mails] == ["政府开放日：报名成功，待单位确认",
                                             "政府开放日：报名未获确认"]  # fmt: skip
    assert "本场活动限本小区居民参加" in mails[1].get_content()
    assert "某小区南门" in mails[0].get_content() and "14:30" in mails[0].get_content()
    assert all(ID_ADULT not in m.as_string() for m in mails)
    # Idempotent: delivering again sends nothing; owing the same message again owes nothing.
    assert set(_deliver_all(engine, clock, notify_settings)) <= {"already_sent"}
    rt = Runtime(engine, clock, notify_settings, build_channels(notify_settings))
    assert {delivery.deliver(rt, n.id).outcome for n in notes} == {"already_sent"}
    with Session(engine) as s:
        reg = s.get(Registration, ra)
        ev = s.get(Event, eid)
        assert notices.owe(s, reg, ev, "declined", Channels(True, True), clock.now()) == []  # type: ignore[arg-type]
    assert len(sink[0].envelopes) == 2


def test_without_channels_nothing_is_owed_and_a_purged_registrant_gets_nothing(
    engine: Engine, walker: Walker, world: World, clock: FixedClock, settings: Settings
) -> None:
    event = open_event(walker, places=1)
    assert register(walker.client, event["id"]).status_code == 201
    assert _notices(engine) == []  # SMS off, no SMTP: nothing owed
    settings.sms_channel = "log"
    assert register(walker.client, event["id"], phone="13900000009").status_code == 201
    (note,) = _notices(engine)
    assert (note.kind, note.channel) == ("waitlisted", "sms")
    with world.session() as s:  # the retention purge runs before the worker sends it
        ends = s.get(Campaign, world.campaign_id).ends_on  # type: ignore[union-attr]
        privacy.purge(s, retention_days=0, today=ends + timedelta(days=1), now=clock.now())
        s.commit()
    rt = Runtime(engine, clock, settings, build_channels(settings))
    with structlog.testing.capture_logs() as logs:
        assert delivery.deliver(rt, note.id).outcome == "failed"
    with Session(engine) as s:
        failed = s.get(Notification, note.id)
    assert failed is not None and "联系方式已清除" in (failed.last_error or "")
    assert not [line for line in logs if line["event"] == "sms_sent"]


def test_registration_refuses_a_malformed_email(walker: Walker) -> None:
    event = open_event(walker, places=1)
    for bad in ("a@b", "x y@example.org", "a@example.org, b@example.org", "a" * 95 + "@e.org"):
        r = register(walker.client, event["id"], email=bad)
        assert r.status_code == 422, (bad, r.text)
    assert error_of(register(walker.client, event["id"], email="a@b"))["code"] == "invalid_email"


class _Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    def send_sms(self, phone: str, text: str, key: str) -> None:
        self.sent.append((phone, text, key))


def test_sms_channel_checks_the_number_and_hands_the_text_to_its_gateway() -> None:
    gateway = _Recorder()
    assert isinstance(gateway, SmsGateway)
    channel = SmsChannel(gateway)
    message = Message(key="registration:1:registered:sms", channel="sms",
                      recipient="+86 139-0000-0001", subject="s", body="您已报名。")  # fmt: skip
    channel.send(message)
    assert gateway.sent == [("13900000001", "【政府开放日】您已报名。", message.key)]
    for bad in ("", "12345", "010-12345678"):
        with pytest.raises(PermanentChannelError) as err:
            channel.send(replace(message, recipient=bad))
        assert err.value.code == "invalid_recipient"
    with pytest.raises(PermanentChannelError):
        channel.send(replace(message, body="字" * 600))
    with structlog.testing.capture_logs() as logs:
        SmsChannel(LogSmsGateway()).send(replace(message, body="请致电 13812345678 咨询"))
    assert logs[0]["recipient"] == "139****0001" and "13812345678" not in str(logs)


def test_pages_owe_the_same_messages_as_the_api(
    engine: Engine, walker: Walker, notify_settings: Settings
) -> None:
    """The citizen's form (with an e-mail address) and the staff page's confirm and cancel
    owe their messages too; a bad address re-renders the form naming the field."""
    client = walker.client
    event = open_event(walker, places=1)

    def filled(**extra: str) -> dict[str, str]:
        page = client.get(f"/public/events/{event['id']}").text
        question = page.split("验证题：")[1].split("<")[0]
        digits = "零一二三四五六七八九十"
        left, right = question.split("等于")[0].split("加")
        return {
            "csrf": page.split('name="csrf" value="')[1].split('"')[0],
            "challenge_token": page.split('name="challenge_token" value="')[1].split('"')[0],
            "challenge_answer": str(digits.index(left) + digits.index(right)),
            "name": "王五", "phone": PHONE, "district": "雁江区", "consent": "1", **extra,
        }  # fmt: skip

    bad = client.post(f"/public/events/{event['id']}/register", data=filled(email="a@b"))
    assert bad.status_code == 422 and "电子邮箱格式不正确" in bad.text
    assert _notices(engine) == []
    done = client.post(f"/public/events/{event['id']}/register", data=filled(email=EMAIL))
    assert done.status_code == 201, done.text
    assert [(n.kind, n.channel) for n in _notices(engine)] == [
        ("registered", "sms"), ("registered", "email")]  # fmt: skip
    sign_in(client)
    staff_page = client.get(f"/events/{event['id']}/registrations").text
    rid = staff_page.split('id="registration-')[1].split('"')[0]
    version = staff_page.split('name="version" value="')[1].split('"')[0]
    confirmed = client.post(
        f"/events/{event['id']}/registrations/{rid}/confirm",
        data={"csrf": csrf_of(staff_page), "version": version}, follow_redirects=False,
    )  # fmt: skip
    assert confirmed.status_code == 303
    assert [(n.kind, n.channel) for n in _notices(engine)][2:] == [
        ("confirmed", "sms"), ("confirmed", "email")]  # fmt: skip
