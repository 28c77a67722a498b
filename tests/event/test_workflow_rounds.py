"""The workflow as a clerk lives it: the real day held, a fixed invitee list, versions people
own, rework after a spot check (issue 10)."""

from __future__ import annotations

from sqlmodel import select

from models import SpotCheck, Timer
from tests.conftest import Walker, error_of, local
from tests.event.test_event_moves import _submitted


def test_a_backdated_hold_counts_every_clock_from_the_day_held(walker: Walker, clock) -> None:
    """Held 2022-09-16, recorded 2026-12-01: summary due 09-19, answers due 10-12."""
    event, invitees = walker.invited_event()
    clock.set(local(2026, 12, 1, 9))
    attendance = {str(i["id"]): True for i in invitees}
    r = walker.move(event["id"], "hold", data={"held_on": "2022-09-16", "attendance": attendance})
    assert r.status_code == 200, r.text
    moved = r.json()
    assert moved["event"]["held_on"] == "2022-09-16"
    assert moved["event"]["summary_due_on"] == "2022-09-19"
    assert moved["move"]["data"]["recorded_on"] == "2026-12-01"
    assert moved["move"]["data"]["late_days"] == 0
    r = walker.move(event["id"], "collect_feedback", data={"items": [{"content": "公开资金"}]})
    assert r.status_code == 200, r.text
    items = walker.client.get(
        f"/api/v1/events/{event['id']}/feedback", headers=walker.world.headers["housing"]
    ).json()["items"]
    assert [i["due_on"] for i in items] == ["2022-10-12"]


def test_the_day_held_is_not_in_the_future_nor_early_without_a_reason(walker: Walker) -> None:
    """held_on after today → 409; before the planned day → 409 unless a reason is given."""
    event, invitees = walker.invited_event()
    attendance = {str(i["id"]): True for i in invitees}
    err = error_of(
        walker.move(event["id"], "hold", data={"held_on": "2022-09-17", "attendance": attendance})
    )
    assert err["code"] == "held_on_in_future"
    err = error_of(
        walker.move(event["id"], "hold", data={"held_on": "2022-09-15", "attendance": attendance})
    )
    assert err["code"] == "held_before_window" and "请说明理由" in err["message"]
    r = walker.move(
        event["id"],
        "hold",
        data={"held_on": "2022-09-15", "attendance": attendance},
        reason="应市民代表要求提前一天开展",
    )
    assert r.status_code == 200 and r.json()["event"]["held_on"] == "2022-09-15"


def test_after_invite_the_list_changes_only_within_the_quota(walker: Walker) -> None:
    """Ten more deputies after invite would break the citizen share: refused, nothing added;
    a change that keeps the rules is accepted and bumps the version (rules in `refuse` mode;
    in `flag` mode the change is kept and flagged: tests/event/test_hold_flags.py)."""
    walker.set_rule_modes("refuse")
    event, _ = walker.invited_event(citizens=5, deputies=10)
    url = f"/api/v1/events/{event['id']}/invitees"
    h = walker.world.headers["housing"]
    extra = [{"name": f"代表{n}", "category": "npc_deputy"} for n in range(10)]
    r = walker.client.post(url, json=extra, params=walker.version_of(event["id"]), headers=h)
    assert r.status_code == 409
    assert {v["code"] for v in error_of(r)["violations"]} == {
        "invitee_count_out_of_range",
        "citizen_share_too_low",
    }
    assert walker.client.get(url, headers=h).json()["total"] == 15
    before = walker.get(event["id"])["version"]
    r = walker.client.post(
        url,
        json={"name": "市民新", "category": "citizen", "invitation": "public"},
        params={"expected_version": before},
        headers=h,
    )
    assert r.status_code == 201, r.text
    assert walker.get(event["id"])["version"] == before + 1


def test_invitee_writes_need_the_current_version(walker: Walker) -> None:
    """A list change based on an old version is 409 stale_version; without one it is 422."""
    event = walker.create_event()
    walker.add_invitees(event["id"], citizens=5, deputies=10)  # version 1 → 2
    url = f"/api/v1/events/{event['id']}/invitees"
    body = {"name": "甲", "category": "npc_deputy"}
    h = walker.world.headers["housing"]
    r = walker.client.post(url, json=body, params={"expected_version": 1}, headers=h)
    assert r.status_code == 409 and error_of(r)["code"] == "stale_version"
    r = walker.client.post(url, json=body, headers=h)
    assert r.status_code == 422 and "expected_version" in error_of(r)["message_en"]
    assert "版本号：必填" in error_of(r)["message"]


def test_an_opinion_names_only_this_events_invitees(walker: Walker) -> None:
    """collect_feedback items naming another event's invitee are refused."""
    event, _ = walker.held_event()
    _, others = walker.invited_event()
    err = error_of(
        walker.move(
            event["id"],
            "collect_feedback",
            data={"items": [{"content": "x", "raised_by_invitee_id": others[0]["id"]}]},
        )
    )
    assert err["code"] == "invitee_not_found"


def test_a_summary_sent_back_is_resubmitted_and_checked_again(walker: Walker, engine) -> None:
    """Spot check finds it lacking → return_for_rework (reasons, new deadline with timers) →
    the unit resubmits → a second spot check closes it; history keeps both rounds."""
    event = _submitted(walker)
    r = walker.move(event["id"], "spot_check", who="supervisor", data={"result": "unsatisfactory"})
    assert r.status_code == 200, r.text
    r = walker.move(event["id"], "return_for_rework", data={"reasons": ["缺少照片"]})
    assert r.status_code == 403  # the unit cannot send its own summary back
    r = walker.move(
        event["id"],
        "return_for_rework",
        who="supervisor",
        data={"reasons": ["缺少现场照片", "未写明意见办理情况"], "due_on": "2022-09-23"},
    )
    assert r.status_code == 200, r.text
    back = r.json()
    assert back["event"]["state"] == "feedback_collected"
    assert back["event"]["summary_due_on"] == "2022-09-23"
    assert back["move"]["data"]["round"] == 2
    with walker.world.session() as s:
        pending = s.exec(
            select(Timer).where(
                Timer.subject_id == event["id"], Timer.rule == "summary", Timer.state == "pending"
            )
        ).all()
    assert pending and {t.deadline_on.isoformat() for t in pending} == {"2022-09-23"}
    summary = walker.client.get(
        f"/api/v1/events/{event['id']}/summary", headers=walker.world.headers["housing"]
    ).json()
    assert summary["submitted_at"] is None  # a draft again
    r = walker.move(event["id"], "submit_summary", data={"text": "补充了照片和办理情况"})
    assert r.status_code == 200, r.text
    r = walker.move(event["id"], "spot_check", who="supervisor", data={"result": "satisfactory"})
    assert r.status_code == 200 and r.json()["event"]["state"] == "spot_checked"
    with walker.world.session() as s:
        checks = s.exec(select(SpotCheck).order_by(SpotCheck.id)).all()  # type: ignore[arg-type]
    assert [(c.round, c.result) for c in checks] == [(1, "unsatisfactory"), (2, "satisfactory")]
    triggers = [h["trigger"] for h in walker.history(event["id"]) if "." not in h["trigger"]]
    assert triggers[-4:] == ["spot_check", "return_for_rework", "submit_summary", "spot_check"]


def test_new_events_stay_in_the_campaign_and_out_of_the_past(walker: Walker) -> None:
    """Staff cannot plan an event before today or outside the campaign's window (409 naming the
    window); a supervisor may, with a reason kept in the audit line."""
    body = {
        "campaign_id": walker.world.campaign_id,
        "unit_id": walker.world.units["区住建局"],
        "theme": "年底补办",
    }
    h = walker.world.headers
    for day, code in (
        ("2022-09-01", "event_date_in_past"),
        ("2027-01-05", "outside_campaign_window"),
    ):
        r = walker.client.post("/api/v1/events", json={**body, "date": day}, headers=h["housing"])
        assert r.status_code == 409 and error_of(r)["code"] == code, r.text
    err = error_of(
        walker.client.post(
            "/api/v1/events", json={**body, "date": "2022-08-01"}, headers=h["housing"]
        )
    )
    assert {v["code"] for v in err["violations"]} == {
        "event_date_in_past",
        "outside_campaign_window",
    }
    assert "2022-08-22–2022-09-22" in err["violations"][1]["message"]
    r = walker.client.post(
        "/api/v1/events", json={**body, "date": "2027-01-05"}, headers=h["supervisor"]
    )
    assert r.status_code == 409  # no reason, no override
    r = walker.client.post(
        "/api/v1/events",
        json={**body, "date": "2027-01-05", "override_reason": "经区政府办同意延期至1月"},
        headers=h["supervisor"],
    )
    assert r.status_code == 201, r.text
    created = walker.history(r.json()["id"])[0]
    assert created["data"]["override_reason"] == "经区政府办同意延期至1月"


def test_reschedule_outside_the_campaign_needs_a_supervisor(walker: Walker) -> None:
    """A staffer's reschedule past the window is refused; a supervisor's, with its reason, goes
    through and is marked as an override."""
    event = walker.create_event()
    err = error_of(
        walker.move(event["id"], "reschedule", data={"date": "2022-10-10"}, reason="延期")
    )
    assert err["code"] == "outside_campaign_window"
    r = walker.move(
        event["id"],
        "reschedule",
        who="supervisor",
        data={"date": "2022-10-10"},
        reason="国庆后举办",
    )
    assert r.status_code == 200, r.text
    assert r.json()["move"]["data"]["campaign_window_override"] is True


def test_events_keep_their_time_and_place(walker: Walker) -> None:
    """Start and end time and location are kept, shown, and editable with an audit line."""
    event = walker.create_event(start_time="14:30", end_time="17:00", location="某小区")
    assert (event["start_time"], event["end_time"], event["location"]) == (
        "14:30:00",
        "17:00:00",
        "某小区",
    )
    r = walker.client.patch(
        f"/api/v1/events/{event['id']}",
        json={"expected_version": 1, "start_time": "15:00"},
        headers=walker.world.headers["housing"],
    )
    assert r.status_code == 200 and r.json()["start_time"] == "15:00:00", r.text
    edit = walker.history(event["id"])[-1]
    assert edit["trigger"] == "edit.event"
    assert edit["data"] == {
        "before": {"start_time": "14:30:00"},
        "after": {"start_time": "15:00:00"},
    }
