"""Answers back to the citizen and 回访 (issue 26): the person who raised an opinion is told by
SMS, e-mail or a posted letter, once; the 15 working days are met when told, not when typed;
the person rates on the tracking page (code + phone) or by phone to the unit; 不满意 reopens the
opinion with a new clock unless a supervisor upholds the unit's appeal."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import docx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models import ChangeLog, FeedbackItem, InboxMessage, Notification, OpinionReply, Timer
from tests.conftest import Walker, error_of, local
from tests.workdays import test_deadlines as _deadlines
from tests.workdays.test_deadlines import Workers, tick
from workers.channels import StubChannel
from workers.delivery import deliver
from workflows.event import invitations
from workflows.public.notices import Channels

broker = _deadlines.broker
rt = _deadlines.rt
scheduler = _deadlines.scheduler
workers = _deadlines.workers
PHONE = "13800000001"


@pytest.fixture
def channels() -> dict[str, StubChannel]:
    """Stub channels recording what was sent, SMS among them."""
    return {name: StubChannel(name) for name in ("email", "log", "sms", "webhook_json")}


@pytest.fixture(autouse=True)
def sms_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """SMS through the gateway on, e-mail off (no SMTP): as many 政务外网 deployments."""
    monkeypatch.setattr(invitations, "channels", lambda: Channels(email=False, sms=True))


def opinions(walker: Walker) -> dict[str, int]:
    """An event held 2022-09-16 (answers due 2022-10-12) with three opinions: one from a
    citizen with a phone, one from a deputy with neither phone nor e-mail, one anonymous."""
    event = walker.create_event()
    people: list[dict[str, Any]] = [
        {"name": f"代表{i}", "category": "npc_deputy"} for i in range(10)
    ] + [{"name": f"市民{i}", "category": "citizen", "invitation": "public"} for i in range(5)]
    people[10]["phone"] = PHONE
    made = walker.client.post(
        f"/api/v1/events/{event['id']}/invitees", json=people,
        params=walker.version_of(event["id"]), headers=walker.world.headers["housing"],
    )  # fmt: skip
    assert made.status_code == 201, made.text
    ids = [p["id"] for p in made.json()]
    assert walker.move(event["id"], "invite").status_code == 200
    held = walker.move(event["id"], "hold", data={"attendance": {str(i): True for i in ids}})
    assert held.status_code == 200, held.text
    items = [
        {"content": "建议增设路灯", "raised_by_invitee_id": ids[10]},
        {"content": "建议公开资金明细", "raised_by_invitee_id": ids[0]},
        {"content": "希望延长食堂营业时间"},
    ]
    r = walker.move(event["id"], "collect_feedback", data={"items": items})
    assert r.status_code == 200, r.text
    with walker.world.session() as s:
        rows = s.exec(select(FeedbackItem).order_by(col(FeedbackItem.id))).all()
        return {
            "event": event["id"], "sms": rows[0].id, "letter": rows[1].id, "none": rows[2].id,
            "code": rows[0].receipt_code,
        }  # type: ignore[return-value]  # fmt: skip


def answer(walker: Walker, item_id: int, text: str = "已列入明年计划", who: str = "housing") -> Any:
    h = walker.world.headers[who]
    version = walker.client.get(f"/api/v1/feedback/{item_id}", headers=h).json()["version"]
    return walker.client.post(
        f"/api/v1/feedback/{item_id}/transitions",
        json={"trigger": "answer", "expected_version": version, "data": {"answer": text}},
        headers=h,
    )


def item(engine: Engine, item_id: int) -> FeedbackItem:
    with Session(engine) as s:
        row = s.get(FeedbackItem, item_id)
        assert row is not None
        return row


def test_an_answer_is_texted_once_and_the_clock_is_met_when_sent(
    walker: Walker, engine: Engine, clock, scheduler, workers: Workers, channels, rt
) -> None:
    """Typed on the due day 10-12 and sent on 10-13: one working day late (counted when told);
    the SMS names the answer and the tracking link; a redelivered message sends nothing twice."""
    ids = opinions(walker)
    clock.set(local(2022, 10, 12, 17))
    r = answer(walker, ids["sms"])
    assert r.status_code == 200, r.text
    typed = item(engine, ids["sms"])
    assert typed.state == "answered" and typed.told_at is None
    assert typed.answered_late_workdays is None  # not yet with the person: no lateness yet
    report = walker.client.get(
        f"/api/v1/campaigns/{walker.world.campaign_id}/report",
        headers=walker.world.headers["supervisor"],
    ).json()
    housing = next(u for u in report["units"] if u["unit_name"] == "区住建局")
    assert housing["answered"] == 0 and housing["answered_not_told"] == 1
    track = walker.client.get(f"/api/v1/public/receipts/{ids['code']}").json()
    assert track["status_label"] == "已答复，正在送达" and track["told_at"] is None
    clock.set(local(2022, 10, 13, 9))
    tick(scheduler, workers)
    sent = [m for m in channels["sms"].sent if m.data["rule"] == "reply"]
    assert len(sent) == 1, sent
    assert deliver(rt, sent[0].data["notification_id"]).outcome == "already_sent"
    assert len([m for m in channels["sms"].sent if m.data["rule"] == "reply"]) == 1
    assert "已列入明年计划" in sent[0].body and "/public/track?code=" in sent[0].body
    assert sent[0].recipient == PHONE  # resolved at send time; the row holds invitee:<id>
    told = item(engine, ids["sms"])
    assert told.told_at == local(2022, 10, 13, 9) and told.answered_late_workdays == 1
    track = walker.client.get(f"/api/v1/public/receipts/{ids['code']}").json()
    assert track["status_label"] == "已答复" and track["told_via"] == "短信"
    assert track["answer"] == "已列入明年计划" and track["can_rate"] is True
    with Session(engine) as s:
        rows = s.exec(select(Notification).where(Notification.rule == "reply")).all()
        assert [(n.channel, n.state, n.recipient.startswith("invitee:")) for n in rows] == [
            ("sms", "sent", True)
        ]


def test_nobody_to_tell_counts_when_typed_and_a_letter_when_posted_once(
    walker: Walker, engine: Engine, clock
) -> None:
    """The anonymous opinion is told at once; the deputy without phone or e-mail gets a letter
    (A4 .docx with the unit, opinion and answer), counted on the day marked posted; marking it
    posted twice is 409 `letter_already_posted` and writes nothing."""
    ids = opinions(walker)
    clock.set(local(2022, 10, 11, 10))
    assert answer(walker, ids["none"]).status_code == 200
    assert answer(walker, ids["letter"], "资金明细已在官网公开").status_code == 200
    anonymous = item(engine, ids["none"])
    assert anonymous.told_at == local(2022, 10, 11, 10) and anonymous.answered_late_workdays == 0
    h = walker.world.headers["housing"]
    letter = walker.client.get(f"/api/v1/feedback/{ids['letter']}/reply-letter", headers=h)
    assert letter.status_code == 200, letter.text
    document = docx.Document(io.BytesIO(letter.content))
    text = "\n".join(p.text for p in document.paragraphs)
    assert "资金明细已在官网公开" in text and "建议公开资金明细" in text and "区住建局" in text
    assert round(document.sections[0].page_width.mm) == 210
    assert item(engine, ids["letter"]).told_at is None
    clock.set(local(2022, 10, 17, 10))  # posted three working days after the due day
    posted = walker.client.post(f"/api/v1/feedback/{ids['letter']}/letter-posted", headers=h)
    assert posted.status_code == 200, posted.text
    assert posted.json()["late_workdays"] == 3 and posted.json()["told_via"] == "letter"
    with Session(engine) as s:
        lines = s.exec(select(ChangeLog).where(ChangeLog.action == "reply.letter_posted")).all()
    again = walker.client.post(f"/api/v1/feedback/{ids['letter']}/letter-posted", headers=h)
    assert again.status_code == 409 and error_of(again)["code"] == "letter_already_posted"
    with Session(engine) as s:
        after = s.exec(select(ChangeLog).where(ChangeLog.action == "reply.letter_posted")).all()
        assert len(after) == len(lines) == 1
    other = walker.client.post(f"/api/v1/feedback/{ids['none']}/letter-posted", headers=h)
    assert other.status_code == 409 and error_of(other)["code"] == "letter_not_owed"
    foreign = walker.client.post(
        f"/api/v1/feedback/{ids['letter']}/letter-posted", headers=walker.world.headers["shiling"]
    )
    assert foreign.status_code == 404


def test_a_rating_needs_the_code_and_the_phone_and_dissatisfied_reopens(
    walker: Walker, engine: Engine, clock, scheduler, workers: Workers
) -> None:
    """A wrong phone is 404 `receipt_phone_mismatch` and writes nothing; 不满意 reopens the opinion
    due `reopen_workdays` (10) working days later, with its timers armed again; a second rating
    is 409 `already_rated`."""
    ids = opinions(walker)
    clock.set(local(2022, 10, 10, 10))
    assert answer(walker, ids["sms"]).status_code == 200
    tick(scheduler, workers)
    url = f"/api/v1/public/receipts/{ids['code']}/rating"
    wrong = walker.client.post(url, json={"phone": "13900000000", "rating": "satisfied"})
    assert wrong.status_code == 404 and error_of(wrong)["code"] == "receipt_phone_mismatch"
    bad = walker.client.post(url, json={"phone": PHONE, "rating": "great"})
    assert bad.status_code == 422
    with Session(engine) as s:
        assert s.exec(select(OpinionReply)).one().rating is None
    clock.set(local(2022, 10, 11, 15))
    rated = walker.client.post(
        url, json={"phone": PHONE, "rating": "dissatisfied", "comment": "路灯仍未安装"}
    )
    assert rated.status_code == 200, rated.text
    assert rated.json()["reopened"] is True and rated.json()["due_on"] == "2022-10-25"
    reopened = item(engine, ids["sms"])
    assert reopened.state == "assigned" and reopened.due_on == date(2022, 10, 25)
    assert reopened.answer is None and reopened.told_at is None
    with Session(engine) as s:
        timers = s.exec(
            select(Timer).where(Timer.subject_id == ids["sms"], Timer.state == "pending")
        ).all()
        assert timers and all(t.due_at > local(2022, 10, 11, 15) for t in timers)
    again = walker.client.post(url, json={"phone": PHONE, "rating": "satisfied"})
    assert again.status_code == 409 and error_of(again)["code"] == "rating_not_open"


def test_an_upheld_appeal_gives_the_answer_back_and_a_rejected_one_keeps_it_reopened(
    walker: Walker, engine: Engine, clock, scheduler, workers: Workers
) -> None:
    """Rated 不满意 by phone to the unit; the unit appeals (申诉); the supervisor upholds: the
    opinion is answered again with its first answer and due day; a second appeal is 409."""
    ids = opinions(walker)
    clock.set(local(2022, 10, 10, 10))
    assert answer(walker, ids["sms"]).status_code == 200
    tick(scheduler, workers)
    h, sup = walker.world.headers["housing"], walker.world.headers["supervisor"]
    rated = walker.client.post(
        f"/api/v1/feedback/{ids['sms']}/rating", json={"rating": "dissatisfied"}, headers=h
    )
    assert rated.status_code == 200 and rated.json()["rated_via"] == "phone"
    early = walker.client.post(
        f"/api/v1/feedback/{ids['sms']}/appeal/decision", json={"uphold": True}, headers=sup
    )
    assert early.status_code == 409 and error_of(early)["code"] == "appeal_not_pending"
    appealed = walker.client.post(
        f"/api/v1/feedback/{ids['sms']}/appeal", json={"reason": "已按规划答复"}, headers=h
    )
    assert appealed.status_code == 200 and appealed.json()["appeal_state"] == "pending"
    twice = walker.client.post(
        f"/api/v1/feedback/{ids['sms']}/appeal", json={"reason": "再次申诉"}, headers=h
    )
    assert twice.status_code == 409 and error_of(twice)["code"] == "appeal_exists"
    by_clerk = walker.client.post(
        f"/api/v1/feedback/{ids['sms']}/appeal/decision", json={"uphold": True}, headers=h
    )
    assert by_clerk.status_code == 403
    upheld = walker.client.post(
        f"/api/v1/feedback/{ids['sms']}/appeal/decision",
        json={"uphold": True, "note": "答复合理"}, headers=sup,
    )  # fmt: skip
    assert upheld.status_code == 200 and upheld.json()["appeal_state"] == "upheld"
    back = item(engine, ids["sms"])
    assert back.state == "answered" and back.answer == "已列入明年计划"
    assert back.due_on == date(2022, 10, 12) and back.told_at is not None
    with Session(engine) as s:
        pending = s.exec(
            select(Timer).where(Timer.subject_id == ids["sms"], Timer.state == "pending")
        ).all()
        assert pending == []


def test_satisfaction_counts_per_unit_in_the_report_the_export_and_the_assessment(
    walker: Walker, engine: Engine, clock, scheduler, workers: Workers
) -> None:
    """满意 on one answer, 不满意 on another: the report counts both (满意率 50%), the opinions
    export names each rating, and the assessment deducts `dissatisfied` (1 point by default)
    with the opinion and the comment; an upheld appeal takes the deduction back."""
    ids = opinions(walker)
    clock.set(local(2022, 10, 10, 10))
    assert answer(walker, ids["sms"]).status_code == 200
    assert answer(walker, ids["none"]).status_code == 200
    tick(scheduler, workers)
    h, sup = walker.world.headers["housing"], walker.world.headers["supervisor"]
    for item_id, rating in ((ids["sms"], "dissatisfied"), (ids["none"], "satisfied")):
        r = walker.client.post(
            f"/api/v1/feedback/{item_id}/rating",
            json={"rating": rating, "comment": "仍未解决" if rating == "dissatisfied" else None},
            headers=h,
        )
        assert r.status_code == 200, r.text
    campaign = walker.world.campaign_id

    def unit_row() -> dict[str, Any]:
        report = walker.client.get(f"/api/v1/campaigns/{campaign}/report", headers=sup).json()
        return next(u for u in report["units"] if u["unit_name"] == "区住建局")

    def deductions() -> list[dict[str, Any]]:
        scores = walker.client.get(f"/api/v1/campaigns/{campaign}/assessment", headers=sup)
        unit = next(u for u in scores.json()["units"] if u["unit_name"] == "区住建局")
        return [d for d in unit["deductions"] if d["criterion"] == "dissatisfied"]

    row = unit_row()
    assert (row["rated"], row["rated_satisfied"], row["rated_dissatisfied"]) == (2, 1, 1)
    (deducted,) = deductions()
    assert deducted["points"] == 1 and "仍未解决" in str(deducted)
    export = walker.client.get(
        "/api/v1/exports/opinions.csv", params={"campaign_id": campaign}, headers=sup
    )
    assert export.status_code == 200, export.text
    assert "回访评价" in export.text and "不满意" in export.text and "满意" in export.text
    assert (
        walker.client.post(
            f"/api/v1/feedback/{ids['sms']}/appeal", json={"reason": "已按规划答复"}, headers=h
        ).status_code
        == 200
    )
    assert (
        walker.client.post(
            f"/api/v1/feedback/{ids['sms']}/appeal/decision", json={"uphold": True}, headers=sup
        ).status_code
        == 200
    )
    row = unit_row()
    assert (row["rated_dissatisfied"], row["rated_upheld"]) == (0, 1)
    assert deductions() == []


def test_the_public_page_shows_what_was_heard_and_an_answer_only_with_consent(
    walker: Walker, engine: Engine, clock, scheduler, workers: Workers
) -> None:
    """The campaign's public page lists every opinion with its state and rating; the answer
    whose person consented is shown, the other is not; never a name or a phone."""
    ids = opinions(walker)
    clock.set(local(2022, 10, 10, 10))
    assert answer(walker, ids["sms"], "已更换路灯").status_code == 200
    assert answer(walker, ids["none"], "食堂延长至晚八点").status_code == 200
    tick(scheduler, workers)
    rated = walker.client.post(
        f"/api/v1/public/receipts/{ids['code']}/rating",
        json={"phone": PHONE, "rating": "satisfied", "public_consent": True},
    )
    assert rated.status_code == 200, rated.text
    page = walker.client.get(f"/public/campaigns/{walker.world.campaign_id}/heard")
    assert page.status_code == 200, page.text
    text = page.text
    assert "建议增设路灯" in text and "建议公开资金明细" in text and "希望延长食堂营业时间" in text
    assert "已更换路灯" in text and "提出人评价：满意" in text  # consented
    assert "食堂延长至晚八点" not in text  # nobody consented
    assert "共 3 条意见建议，已答复 2 条，其中按时答复 2 条" in text
    assert PHONE not in text and "市民0" not in text and "代表0" not in text
    assert walker.client.get("/public/campaigns/999/heard").status_code == 404


def test_an_answer_not_yet_told_still_escalates_until_the_letter_is_posted(
    walker: Walker, engine: Engine, clock, scheduler, workers: Workers
) -> None:
    """Typed before the due day but never posted, the deputy's answer is still owed: its
    deadline passes and the unit is pressed (催办) like any unanswered opinion; once the letter
    is marked posted, nothing more fires for it."""
    ids = opinions(walker)
    clock.set(local(2022, 10, 11, 10))
    assert answer(walker, ids["letter"], "资金明细已在官网公开").status_code == 200
    assert answer(walker, ids["none"]).status_code == 200

    def pressed(item_id: int) -> list[Notification]:
        with Session(engine) as s:
            return list(
                s.exec(
                    select(Notification).where(
                        Notification.subject_type == "feedback_item",
                        Notification.subject_id == item_id,
                        Notification.rule == "feedback_answer",
                        col(Notification.level) >= 1,
                    )
                ).all()
            )

    clock.set(local(2022, 10, 14, 10))  # two working days past the due day (10-12)
    tick(scheduler, workers)
    assert pressed(ids["letter"]), "an answer nobody was told escalates"
    assert pressed(ids["none"]) == []  # told when typed (nobody to tell): nothing owed
    h = walker.world.headers["housing"]
    posted = walker.client.post(f"/api/v1/feedback/{ids['letter']}/letter-posted", headers=h)
    assert posted.status_code == 200, posted.text
    before = len(pressed(ids["letter"]))
    clock.set(local(2022, 11, 30, 10))
    tick(scheduler, workers)
    assert len(pressed(ids["letter"])) == before


def test_a_corrected_answer_day_counts_from_the_day_the_person_was_told(
    walker: Walker, engine: Engine, clock
) -> None:
    """A letter posted on 10-17 (3 working days late) stays late when the unit corrects the
    answer's day to 10-10: the person was told when it was posted. The anonymous opinion, told at
    once, follows its corrected day (typed 10-17, late; given 10-10, on time). An answer not yet
    told has no lateness to count until it is."""
    ids = opinions(walker)
    clock.set(local(2022, 10, 17, 10))
    h = walker.world.headers["housing"]
    for key in ("letter", "none", "sms"):
        assert answer(walker, ids[key]).status_code == 200
    posted = walker.client.post(f"/api/v1/feedback/{ids['letter']}/letter-posted", headers=h)
    assert posted.status_code == 200, posted.text
    assert item(engine, ids["none"]).answered_late_workdays == 3

    def correct(item_id: int) -> dict[str, Any]:
        version = walker.client.get(f"/api/v1/feedback/{item_id}", headers=h).json()["version"]
        r = walker.client.post(
            f"/api/v1/feedback/{item_id}/answer-corrections",
            json={"expected_version": version, "answered_on": "2022-10-10", "reason": "日期录错"},
            headers=h,
        )
        assert r.status_code == 200, r.text
        return r.json()

    assert correct(ids["letter"])["answered_late_workdays"] == 3
    assert correct(ids["none"])["answered_late_workdays"] == 0
    assert correct(ids["sms"])["answered_late_workdays"] is None
    assert item(engine, ids["sms"]).told_at is None


def test_a_letter_to_post_reaches_the_unit_staff_inbox_once(
    walker: Walker, engine: Engine, clock
) -> None:
    """The deputy with neither phone nor e-mail: the unit's staff find 答复函待寄送 in their inbox
    (站内信) linking to its row on the 答复待送达 list, once; the anonymous opinion owes no letter.
    When the citizen's only SMS fails for good, the letter owed instead is announced alike."""
    from workers.delivery import replies as delivery_replies
    from workflows.inbox.kinds import kind_of

    ids = opinions(walker)
    clock.set(local(2022, 10, 11, 10))
    for key in ("letter", "none", "sms"):
        assert answer(walker, ids[key]).status_code == 200

    def letters_in(who: str) -> list[InboxMessage]:
        with Session(engine) as s:
            stmt = select(InboxMessage).where(
                InboxMessage.user_id == walker.world.user_ids[who],
                InboxMessage.kind == "reply_letter",
            )
            return list(s.exec(stmt).all())

    (owed,) = letters_in("housing")
    assert owed.link == f"/replies#not-told-{ids['letter']}" and "答复函" in owed.title
    assert "建议公开资金明细" in owed.title and "2022-10-12" in owed.body
    assert kind_of("reply_letter").label == "答复函待寄送"
    assert letters_in("shiling") == [] and letters_in("supervisor") == []
    with Session(engine) as s:
        sms = s.exec(
            select(Notification).where(
                Notification.channel == "sms", Notification.rule == delivery_replies.RULE
            )
        ).one()
        sms.state = "failed"
        delivery_replies.on_failed(s, sms, local(2022, 10, 11, 11))
        delivery_replies.on_failed(s, sms, local(2022, 10, 11, 12))  # redelivered: nothing twice
        s.commit()
    assert sorted(m.link for m in letters_in("housing")) == sorted(
        f"/replies#not-told-{ids[k]}" for k in ("letter", "sms")
    )
