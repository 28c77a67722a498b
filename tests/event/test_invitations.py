"""Invitations people answer, the day-before reminder and check-in at the door (issue 27)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import icalendar
import pytest
from sqlmodel import col, select

from models import (
    Campaign,
    ChangeLog,
    Event,
    Invitee,
    Notification,
    OutboxMessage,
    Registration,
    Timer,
    TimerState,
)
from models.codes import grouped
from tests.conftest import FixedClock, Walker, World, local
from workflows.escalation import service as escalation
from workflows.escalation.batch import NotifyConfig
from workflows.event import checkin, icsfiles, invitations
from workflows.kernel.errors import DomainError
from workflows.kernel.visibility import SYSTEM
from workflows.public import registration
from workflows.public.notices import Channels


@pytest.fixture(autouse=True)
def both_channels(monkeypatch: pytest.MonkeyPatch) -> None:
    """SMS (the log gateway) and e-mail on, as a configured service has them."""
    monkeypatch.setattr(invitations, "channels", lambda: Channels(email=True, sms=True))


def _people(n: int = 15) -> list[dict[str, Any]]:
    """15 people: five citizens (first three with a phone, one with e-mail), ten deputies."""
    out: list[dict[str, Any]] = []
    for i in range(n):
        person: dict[str, Any] = {"name": f"人{i + 1}", "category": "npc_deputy"}
        if i < 5:
            person.update(category="citizen", invitation="public")
        if i < 3:
            person["phone"] = f"1380000000{i}"
        if i == 3:
            person["email"] = "li@example.org"
        out.append(person)
    return out


def _invited(walker: Walker, n: int = 15, **body: Any) -> tuple[dict, list[dict]]:
    event = walker.create_event(start_time="14:30", end_time="17:00", location="幸福社区", **body)
    response = walker.client.post(
        f"/api/v1/events/{event['id']}/invitees",
        json=_people(n),
        params=walker.version_of(event["id"]),
        headers=walker.world.headers["housing"],
    )
    assert response.status_code == 201, response.text
    moved = walker.move(event["id"], "invite")
    assert moved.status_code == 200, moved.text
    return moved.json()["event"], response.json()


def test_the_invite_move_owes_each_reachable_invitee_an_invitation_once(
    walker: Walker, world: World, clock: FixedClock
) -> None:
    event, people = _invited(walker)
    with world.session() as s:
        rows = s.exec(select(Notification).where(Notification.rule == "invitation")).all()
        assert sorted((r.subject_id, r.channel) for r in rows) == sorted(
            [(p["id"], "sms") for p in people[:3]] + [(people[3]["id"], "email")]
        )
        body = rows[0].body
        assert "参观老旧小区改造现场" in body and "区住建局" in body and "14:30–17:00" in body
        assert "2022年9月16日（星期五）" in body and "幸福社区" in body
        assert "/public/invitations/" in body and "入场签到码" in body
        assert all(r.recipient.startswith("invitee:") and "138" not in r.recipient for r in rows)
        outbox = s.exec(select(OutboxMessage).where(OutboxMessage.actor == "deliver_notification"))
        assert {o.args[0] for o in outbox} >= {r.id for r in rows}
        # Owed again (a retry of the move's step): nothing twice.
        ev = s.get(Event, event["id"])
        again = invitations.owe(s, ev, list(s.exec(select(Invitee))), "invitation", clock.now())  # type: ignore[arg-type]
        assert again == []
        # The reminder timer is armed for the day before, at the reminder hour.
        timer = s.exec(select(Timer).where(Timer.rule == invitations.REMINDER_RULE)).one()
        assert timer.due_at == local(2022, 9, 15, 9) and timer.subject_id == event["id"]


def test_a_signed_link_answers_and_a_forged_expired_or_foreign_one_is_refused(
    walker: Walker, world: World, clock: FixedClock
) -> None:
    event, people = _invited(walker)
    other, _ = _invited(walker, theme="另一场活动")
    with world.session() as s:
        invitee, ev = s.get(Invitee, people[0]["id"]), s.get(Event, event["id"])
        assert invitee is not None and ev is not None
        token = invitations.token_for(invitee, ev)
        got, got_event = invitations.open_link(s, token, clock.now())
        assert got.id == invitee.id and got_event.id == ev.id
        invitations.answer(s, got, got_event, "yes", via="link", actor=invitations.INVITEE_ACTOR,
                           now=clock.now())  # fmt: skip
        s.commit()
        line = s.exec(select(ChangeLog).where(ChangeLog.action == "answer")).one()
        assert line.after["answer"] == "yes" and line.entity_id == invitee.id
        forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
        body = f"{other['id']}.{invitee.id}.{token.split('.')[2]}"
        foreign = f"{body}.{invitations._sign(body)}"
        for bad, code, status in (
            (forged, "invitation_link_forged", 403),
            ("not-a-link", "invitation_link_invalid", 404),
            (foreign, "invitation_other_event", 409),
        ):
            with pytest.raises(DomainError) as refused:
                invitations.open_link(s, bad, clock.now())
            assert (refused.value.code, refused.value.status) == (code, status)
            assert "链接" in refused.value.message_zh
        with pytest.raises(DomainError) as late:
            invitations.open_link(s, token, local(2022, 9, 17, 0, 1))
        assert late.value.code == "invitation_link_expired" and late.value.status == 410
        with pytest.raises(DomainError) as wrong:
            invitations.answer(
                s, got, got_event, "maybe", via="link", actor=SYSTEM, now=clock.now()
            )
        assert "参加" in wrong.value.message_zh and "不参加" in wrong.value.message_zh


def test_the_reminder_goes_to_yes_sayers_once(
    walker: Walker, world: World, clock: FixedClock
) -> None:
    event, people = _invited(walker)
    with world.session() as s:
        ev = s.get(Event, event["id"])
        for p, value in ((people[0], "yes"), (people[1], "no"), (people[3], "yes")):
            invitee = s.get(Invitee, p["id"])
            invitations.answer(
                s, invitee, ev, value, via="phone", actor=SYSTEM, now=clock.now(),  # type: ignore[arg-type]
                confirm_share_below=True,  # people[1] is a citizen at the share's minimum
            )  # fmt: skip
        timer = s.exec(select(Timer).where(Timer.rule == invitations.REMINDER_RULE)).one()
        timer.state = TimerState.fired
        s.commit()
        out = escalation.handle_timers(s, [timer.id], clock.now(), NotifyConfig())  # type: ignore[list-item]
        s.commit()
        assert out.states[timer.id] == "done"  # type: ignore[index]
        reminders = s.exec(select(Notification).where(Notification.kind == "reminder")).all()
        assert sorted((r.subject_id, r.channel) for r in reminders) == [
            (people[0]["id"], "sms"),
            (people[3]["id"], "email"),
        ]
        assert "提醒您参加" in reminders[0].body
        timer.state = TimerState.fired  # fired again (a redelivery): nothing twice
        s.commit()
        escalation.handle_timers(s, [timer.id], clock.now(), NotifyConfig())  # type: ignore[list-item]
        s.commit()
        assert len(s.exec(select(Notification).where(Notification.kind == "reminder")).all()) == 2


def test_check_in_counts_once_and_explains_every_refusal(
    walker: Walker, world: World, clock: FixedClock
) -> None:
    event, people = _invited(walker)
    other, other_people = _invited(walker, theme="另一场活动")
    with world.session() as s:
        ev = s.get(Event, event["id"])
        assert ev is not None
        code = s.get(Invitee, people[0]["id"]).code  # type: ignore[union-attr]
        foreign = s.get(Invitee, other_people[0]["id"]).code  # type: ignore[union-attr]
        first = checkin.check_in(s, ev, grouped(code).lower(), SYSTEM, clock.now())
        assert first.ok and first.message.startswith("人1 签到成功")
        twice = checkin.check_in(s, ev, code or "", SYSTEM, clock.now() + timedelta(minutes=5))
        assert (twice.ok, twice.code) == (False, "already") and "不重复计数" in twice.message
        assert checkin.check_in(s, ev, foreign or "", SYSTEM, clock.now()).code == "other_event"
        assert checkin.check_in(s, ev, "12345", SYSTEM, clock.now()).code == "code_invalid"
        second = s.get(Invitee, people[1]["id"]).code or ""
        early = checkin.check_in(s, ev, second, SYSTEM, local(2022, 9, 15, 18))
        late = checkin.check_in(s, ev, second, SYSTEM, local(2022, 9, 17, 9))
        assert (early.code, late.code) == ("too_early", "too_late")
        assert "2022年9月16日" in early.message and "已过" in late.message
        s.commit()
        assert checkin.tally(s, ev.id).words == "签到出席：1 / 15"  # type: ignore[arg-type]
        lines = s.exec(select(ChangeLog).where(ChangeLog.entity == "check_in")).all()
        assert sorted(line.action for line in lines) == ["checked_in"] + ["refused"] * 5
        assert checkin.prefill(s, ev)[people[0]["id"]] is True
        assert checkin.prefill(s, ev)[people[1]["id"]] is False


def test_the_hold_marks_attendance_that_differs_from_check_ins(
    walker: Walker, world: World, clock: FixedClock
) -> None:
    event, people = _invited(walker)
    with world.session() as s:
        ev = s.get(Event, event["id"])
        for p in people[:8]:
            checkin.check_in(s, ev, s.get(Invitee, p["id"]).code or "", SYSTEM, clock.now())  # type: ignore[arg-type, union-attr]
        s.commit()
    attendance = {str(p["id"]): i < 9 for i, p in enumerate(people)}  # one more than checked in
    moved = walker.move(event["id"], "hold", data={"attendance": attendance})
    assert moved.status_code == 200, moved.text
    hold = [h for h in walker.history(event["id"]) if h.get("trigger") == "hold"]
    assert hold and hold[0]["data"]["attendance_corrected"] == [people[8]["id"]]


def test_the_ics_has_the_local_time_zone_and_the_feed_lists_public_events(
    walker: Walker, world: World, clock: FixedClock
) -> None:
    event, people = _invited(walker)
    walker.create_event(theme="不公开的活动")
    with world.session() as s:
        ev = s.get(Event, event["id"])
        assert ev is not None
        ev.public_places = 5
        s.commit()
        data = icsfiles.event_file(ev, "区住建局", clock.now(), url="http://x/y", code="A")  # type: ignore[arg-type]
        cal = icalendar.Calendar.from_ical(data)
        assert [tz["TZID"] for tz in cal.walk("VTIMEZONE")] == ["Asia/Shanghai"]
        start = cal.walk("VEVENT")[0].decoded("dtstart")
        assert start == local(2022, 9, 16, 14, 30) and str(start.tzinfo) == "Asia/Shanghai"
        feed = icalendar.Calendar.from_ical(
            icsfiles.campaign_feed(s, s.get(Campaign, world.campaign_id), clock.now())  # type: ignore[arg-type]
        )
        assert [str(e["summary"]) for e in feed.walk("VEVENT")] == [
            "政府开放日：参观老旧小区改造现场"
        ]
        row = s.exec(
            select(Notification).where(Notification.channel == "email", col(Notification.id) > 0)
        ).first()
        assert row is not None
        files = invitations.attachments_for(s, row, clock.now())
        assert [f["type"] for f in files] == ["text/calendar", "image/png"]
        assert files[1]["content"].startswith(b"\x89PNG")


def test_a_registration_confirmation_email_carries_the_ics_and_qr(
    walker: Walker, world: World, clock: FixedClock
) -> None:
    event, _ = _invited(walker)
    now = clock.now()
    with world.session() as s:
        ev = s.get(Event, event["id"])
        assert ev is not None
        ev.public_places = 1
        reg = Registration(
            event_id=ev.id, campaign_id=ev.campaign_id, name="报名人", state="registered",
            consent_at=now, created_at=now, updated_at=now, email_enc="x",
        )  # fmt: skip
        s.add(reg)
        s.commit()
        registration.confirm(s, ev, reg.id, expected_version=ev.version, actor=SYSTEM, now=now)  # type: ignore[arg-type]
        row = Notification(
            key="k", subject_type="registration", subject_id=reg.id, event_id=ev.id,  # type: ignore[arg-type]
            unit_id=ev.unit_id, rule="registration", kind="confirmed", channel="email",
            recipient=f"registration:{reg.id}", title="t", body="b", created_at=now,
        )  # fmt: skip
        files = invitations.attachments_for(s, row, now)
        assert [f["filename"] for f in files] == ["invitation.ics", "checkin-qr.png"]
        cal = icalendar.Calendar.from_ical(files[0]["content"])
        assert grouped(reg.code) in str(cal.walk("VEVENT")[0]["description"])
        row.kind = "registered"  # only the confirmation carries them
        assert invitations.attachments_for(s, row, now) == []
