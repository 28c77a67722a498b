"""Rules other districts' notices add (issue 30), through the API on both backends with the
injected clock: a plan filed, returned with a reason, filed again and approved before the event
may be invited (refused until then, or flagged where the notice says 原则上); the announcement and
the representatives' 公示 published; each missing one pressed by durable timers — the unit at the
deadline, the district office a working day later — and nothing pressed once it is done. Old
campaigns (rules off) invite as before."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from models import EventFiling, InboxMessage, Notification, Timer, TimerState
from tests.conftest import Walker, error_of, local
from workers.scheduler import Scheduler
from workflows.escalation import service as escalation
from workflows.escalation.batch import NotifyConfig
from workflows.filing import timers


def _rules(walker: Walker, **rules: Any) -> None:
    r = walker.client.patch(
        f"/api/v1/campaigns/{walker.world.campaign_id}",
        json={"rules": rules},
        headers=walker.world.headers["supervisor"],
    )
    assert r.status_code == 200, r.text


def _filings(walker: Walker, eid: int, who: str = "housing") -> dict[str, dict[str, Any]]:
    r = walker.client.get(f"/api/v1/events/{eid}/filings", headers=walker.world.headers[who])
    assert r.status_code == 200, r.text
    return {f["rule"]: f for f in r.json()}


def _plan(walker: Walker, eid: int, text: str, who: str = "housing") -> Any:
    return walker.client.put(
        f"/api/v1/events/{eid}/filings/plan", json={"text": text}, headers=walker.world.headers[who]
    )


def _decide(walker: Walker, eid: int, who: str = "supervisor", **body: Any) -> Any:
    return walker.client.post(
        f"/api/v1/events/{eid}/filings/plan/decision", json=body, headers=walker.world.headers[who]
    )


PLAN = (
    "一、活动主题：参观老旧小区改造现场。二、邀请人员15人，其中市民代表5人。三、流程：参观、座谈。"
)


def test_a_plan_is_filed_returned_filed_again_approved_then_the_event_is_invited(
    walker: Walker,
) -> None:
    """With the rule on, invite is refused until the district office approves the plan."""
    _rules(walker, plan_approval_required=True, plan_approval_sentence="方案报区政府办审核备案")
    event = walker.create_event(date="2022-09-20")
    eid = event["id"]
    walker.add_invitees(eid, citizens=5, deputies=10)
    refused = walker.move(eid, "invite")
    assert refused.status_code == 409
    err = error_of(refused)
    assert err["code"] == "plan_not_approved" and "未报送" in err["message"]
    assert _filings(walker, eid)[timers.PLAN]["state"] is None
    short = _plan(walker, eid, "太短")
    assert short.status_code == 422 and error_of(short)["code"] == "validation_error"
    assert _plan(walker, eid, PLAN).status_code == 200
    assert _plan(walker, eid, PLAN, who="shiling").status_code == 404  # another unit's event
    assert _decide(walker, eid, who="housing", approve=True).status_code == 403
    no_reason = _decide(walker, eid, approve=False)
    assert no_reason.status_code == 422 and error_of(no_reason)["code"] == "note_invalid"
    returned = _decide(walker, eid, approve=False, note="请补充安全保障措施")
    assert returned.status_code == 200, returned.text
    plan = _filings(walker, eid)[timers.PLAN]
    assert plan["state"] == "returned" and plan["note"] == "请补充安全保障措施"
    assert walker.move(eid, "invite").status_code == 409
    assert _plan(walker, eid, PLAN + "四、安全保障：专人负责。").status_code == 200
    assert _decide(walker, eid, approve=True).status_code == 200
    again = _decide(walker, eid, approve=True)
    assert again.status_code == 409 and error_of(again)["code"] == "plan_not_submitted"
    plan = _filings(walker, eid)[timers.PLAN]
    assert plan["state"] == "approved" and plan["round"] == 2
    invited = walker.move(eid, "invite")
    assert invited.status_code == 200, invited.text
    late = _plan(walker, eid, PLAN)
    assert late.status_code == 409 and error_of(late)["code"] == "plan_not_open"
    triggers = [h["trigger"] for h in walker.history(eid)]
    assert triggers.count("plan_submit") == 2 and "plan_return" in triggers
    assert triggers.index("plan_approve") < triggers.index("invite")


def test_where_the_notice_says_in_principle_an_invite_without_the_plan_is_flagged(
    walker: Walker,
) -> None:
    """原则上: the invite goes through, the deviation is recorded with the notice's sentence."""
    sentence = "活动方案原则上应报区政府办审核备案。"
    _rules(
        walker,
        plan_approval_required=True,
        plan_approval_mode="flag",
        plan_approval_sentence=sentence,
    )
    event, _ = walker.invited_event()
    flags = [f for f in event["flags"] or [] if f["rule"] == "plan_approval"]
    assert len(flags) == 1 and flags[0]["source"] == sentence
    assert "方案未经审核即邀请" in flags[0]["badge"]


def test_old_campaigns_invite_as_before_and_ask_no_filings(walker: Walker) -> None:
    """Rules off by default: no plan asked, no filing timers armed."""
    event, _ = walker.invited_event()
    assert event["state"] == "invited"
    assert not any(f["asked"] for f in _filings(walker, event["id"]).values())
    off = _plan(walker, event["id"], PLAN)
    assert off.status_code == 409 and error_of(off)["code"] == "plan_not_required"
    with walker.world.session() as s:
        rules = s.exec(select(Timer.rule).where(col(Timer.rule).in_(timers.RULES))).all()
    assert rules == []


def _fire(walker: Walker, clock: Any) -> Any:
    fired: list[int] = []
    Scheduler(walker.world.engine, lambda _a, args: fired.extend(args[0]), clock).run_once()
    with Session(walker.world.engine, expire_on_commit=False) as s:
        out = escalation.handle_timers(s, fired, clock.now(), NotifyConfig())
        s.commit()
    return out


def _notices(walker: Walker, rule: str) -> list[Notification]:
    with walker.world.session() as s:
        stmt = select(Notification).where(Notification.rule == rule).order_by(col(Notification.id))
        return list(s.exec(stmt).all())


def _inbox(walker: Walker, who: str) -> list[InboxMessage]:
    with walker.world.session() as s:
        stmt = select(InboxMessage).where(InboxMessage.user_id == walker.world.user_ids[who])
        return list(s.exec(stmt).all())


def test_a_missing_plan_presses_the_unit_then_the_district_office(walker: Walker, clock) -> None:
    """提前5个工作日: due 9月13日 for a 9月20日 event; level 1 at its end to the unit, level 2
    a working day later copied to the office; a plan filed in time cancels them."""
    _rules(walker, plan_approval_required=True, plan_days_before=5, plan_workdays=True)
    clock.set(local(2022, 9, 1, 10, 0))
    late = walker.create_event(date="2022-09-20")["id"]
    on_time = walker.create_event(date="2022-09-20", theme="座谈交流")["id"]
    assert _filings(walker, late)[timers.PLAN]["due_on"] == "2022-09-13"
    assert _plan(walker, on_time, PLAN).status_code == 200
    with walker.world.session() as s:
        rows = s.exec(select(Timer).where(Timer.rule == timers.PLAN)).all()
    states = {(t.subject_id, t.level): t.state for t in rows}
    assert states[(late, 1)] == states[(late, 2)] == TimerState.pending
    assert states[(on_time, 1)] == states[(on_time, 2)] == TimerState.cancelled
    clock.set(local(2022, 9, 13, 23, 0))
    _fire(walker, clock)
    assert _notices(walker, timers.PLAN) == []  # not before the end of the due day
    clock.set(local(2022, 9, 14, 9, 0))
    _fire(walker, clock)
    first = _notices(walker, timers.PLAN)
    assert first and {n.level for n in first} == {1}
    assert "活动方案逾期未报雁江区政府办审核" in first[0].title and "2022年9月13日" in first[0].body
    assert "报雁江区政府办审核；" in first[0].body  # the office the escalation names throughout
    unit_box = [m for m in _inbox(walker, "housing") if m.event_id == late]
    assert unit_box and unit_box[0].link == f"/events/{late}/filings"
    assert not [m for m in _inbox(walker, "supervisor") if m.event_id == late]
    clock.set(local(2022, 9, 15, 0, 1))  # after 9月14日, the next working day
    _fire(walker, clock)
    assert {n.level for n in _notices(walker, timers.PLAN)} == {1, 2}
    assert [m for m in _inbox(walker, "supervisor") if m.event_id == late]
    assert all(n.event_id == late for n in _notices(walker, timers.PLAN))
    assert walker.get(late)["escalation_level"] == 0  # the hold's level is untouched


def test_a_plan_filed_after_the_timer_fired_is_not_pressed(walker: Walker, clock) -> None:
    """A timer handled after the plan came in (filed between claim and handling) is skipped."""
    _rules(walker, plan_approval_required=True)
    clock.set(local(2022, 9, 1, 10, 0))
    eid = walker.create_event(date="2022-09-20")["id"]
    clock.set(local(2022, 9, 14, 9, 0))
    fired: list[int] = []
    Scheduler(walker.world.engine, lambda _a, args: fired.extend(args[0]), clock).run_once()
    assert fired
    assert _plan(walker, eid, PLAN).status_code == 200
    with Session(walker.world.engine, expire_on_commit=False) as s:
        out = escalation.handle_timers(s, fired, clock.now(), NotifyConfig())
        s.commit()
    assert out.count("skipped") == len(fired) and _notices(walker, timers.PLAN) == []


def test_announcement_and_representatives_are_published_and_their_timers_end(
    walker: Walker, clock
) -> None:
    """Opening public places arms the announcement's 催办; publishing it (and the masked 公示)
    ends them; the public page shows both, never a phone number or a full name."""
    _rules(
        walker,
        announcement_required=True,
        announcement_days_before=3,
        representatives_publicity_required=True,
        representatives_days_before=1,
    )
    clock.set(local(2022, 9, 1, 10, 0))
    event = walker.create_event(date="2022-09-20")
    eid = event["id"]
    opened = walker.client.patch(
        f"/api/v1/events/{eid}",
        json={"expected_version": event["version"], "public_places": 5},
        headers=walker.world.headers["housing"],
    )
    assert opened.status_code == 200, opened.text
    filings = _filings(walker, eid)
    assert filings[timers.ANNOUNCEMENT]["due_on"] == "2022-09-17"
    assert filings[timers.REPRESENTATIVES]["due_on"] == "2022-09-19"
    none = walker.client.post(
        f"/api/v1/events/{eid}/filings/representatives", headers=walker.world.headers["housing"]
    )
    assert none.status_code == 422 and error_of(none)["code"] == "representatives_none"
    walker.add_invitees(eid, citizens=3, deputies=4)
    blank = walker.client.post(
        f"/api/v1/events/{eid}/filings/announcement",
        json={"how_to_register": " "},
        headers=walker.world.headers["housing"],
    )
    assert blank.status_code == 422
    r = walker.client.post(
        f"/api/v1/events/{eid}/filings/announcement",
        json={"how_to_register": "在本网站活动页面在线报名，额满即止", "text": "欢迎市民参加"},
        headers=walker.world.headers["housing"],
    )
    assert r.status_code == 200, r.text
    r = walker.client.post(
        f"/api/v1/events/{eid}/filings/representatives", headers=walker.world.headers["housing"]
    )
    assert r.status_code == 200, r.text
    published = {f["rule"]: f for f in r.json()}
    names = published[timers.REPRESENTATIVES]["body"]["names"]
    assert names == ["市**", "市**", "市**"]
    with walker.world.session() as s:
        left = s.exec(
            select(Timer).where(
                col(Timer.rule).in_([timers.ANNOUNCEMENT, timers.REPRESENTATIVES]),
                Timer.state == TimerState.pending,
            )
        ).all()
        rows = s.exec(select(EventFiling).where(EventFiling.event_id == eid)).all()
    assert left == [] and {r.kind for r in rows} == {"announcement", "representatives"}
    clock.set(local(2022, 9, 21, 9, 0))
    _fire(walker, clock)
    assert _notices(walker, timers.ANNOUNCEMENT) == _notices(walker, timers.REPRESENTATIVES) == []
    triggers = [h["trigger"] for h in walker.history(eid)]
    assert "announcement_publish" in triggers and "representatives_publish" in triggers


def test_a_missing_publicity_is_pressed_and_a_reschedule_moves_its_deadline(
    walker: Walker, clock
) -> None:
    """公示 due the day before; rescheduled, the timers move to the new day's deadline."""
    _rules(walker, representatives_publicity_required=True, representatives_days_before=1)
    clock.set(local(2022, 9, 1, 10, 0))
    event = walker.create_event(date="2022-09-10")
    eid = event["id"]
    moved = walker.move(
        eid,
        "reschedule",
        reason="场地调整",
        data={"earliest": "2022-09-20", "latest": "2022-09-20"},
    )
    assert moved.status_code == 200, moved.text
    assert _filings(walker, eid)[timers.REPRESENTATIVES]["due_on"] == "2022-09-19"
    clock.set(local(2022, 9, 10, 9, 0))
    _fire(walker, clock)
    assert _notices(walker, timers.REPRESENTATIVES) == []  # the old deadline no longer counts
    clock.set(local(2022, 9, 20, 0, 1))
    _fire(walker, clock)
    notes = _notices(walker, timers.REPRESENTATIVES)
    assert notes and "市民代表名单逾期未公示" in notes[0].title


def test_a_rule_switched_on_later_reaches_the_events_already_planned(walker: Walker, clock) -> None:
    """Events imported before the rule was switched on get its timers; switched off, cancelled."""
    clock.set(local(2022, 9, 1, 10, 0))
    eid = walker.create_event(date="2022-09-20")["id"]
    held_id = walker.create_event(date="2022-09-05", theme="已开展的活动")["id"]

    def plan_timers(event_id: int) -> list[str]:
        with walker.world.session() as s:
            stmt = select(Timer.state).where(
                Timer.rule == timers.PLAN, Timer.subject_id == event_id
            )
            return sorted(s.exec(stmt).all())

    assert plan_timers(eid) == []
    _rules(walker, plan_approval_required=True)
    assert plan_timers(eid) == [TimerState.pending, TimerState.pending]
    assert len(plan_timers(held_id)) == 2  # still planned: asked too
    _rules(walker, plan_approval_required=False)
    assert plan_timers(eid) == [TimerState.cancelled, TimerState.cancelled]
