"""The event workflow through the API: the whole walk, every guard, every refused move."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from models import Event, FeedbackItem, Invitee, SpotCheck, TransitionLog
from tests.conftest import Walker, error_of, local


def _state_and_history_unchanged(walker: Walker, event: dict, before: list[dict]) -> None:
    now = walker.get(event["id"], who="supervisor")
    assert now["state"] == event["state"]
    assert now["version"] == event["version"]
    assert walker.history(event["id"]) == before


def test_full_walk_planned_to_spot_checked(walker: Walker) -> None:
    """A unit staffer walks their event to summary-submitted; a supervisor spot-checks it."""
    event = walker.create_event()
    assert event["state"] == "planned" and event["version"] == 1
    invitees = walker.add_invitees(event["id"], citizens=5, deputies=10)

    r = walker.move(event["id"], "invite")
    assert r.status_code == 200, r.text
    assert r.json()["event"]["state"] == "invited"

    attendance = {
        str(i["id"]): i["category"] == "citizen" or i["name"] != "代表1" for i in invitees
    }
    r = walker.move(event["id"], "hold", data={"attendance": attendance})
    assert r.status_code == 200, r.text
    assert r.json()["event"]["held_on"] == "2022-09-16"
    assert r.json()["move"]["data"]["attendees"] == 14

    r = walker.client.post(
        f"/api/v1/events/{event['id']}/feedback",
        params=walker.version_of(event["id"]),
        json={
            "content": "建议公开老旧小区改造资金使用明细",
            "raised_by_invitee_id": invitees[-1]["id"],
        },
        headers=walker.world.headers["housing"],
    )
    assert r.status_code == 201, r.text
    r = walker.move(
        event["id"], "collect_feedback", data={"items": [{"content": "希望增加加装电梯的宣传"}]}
    )
    assert r.status_code == 200, r.text
    feedback = walker.client.get(
        f"/api/v1/events/{event['id']}/feedback", headers=walker.world.headers["housing"]
    ).json()
    assert feedback["total"] == 2
    assert {f["collected_on"] for f in feedback["items"]} == {"2022-09-16"}

    assert walker.upload(event["id"]).status_code == 201
    r = walker.move(event["id"], "submit_summary", data={"text": "活动于9月16日开展，15人参加。"})
    assert r.status_code == 200, r.text
    assert r.json()["event"]["state"] == "summary_submitted"
    assert "spot_check" not in r.json()["event"]["allowed_triggers"]  # staff cannot check

    r = walker.move(
        event["id"],
        "spot_check",
        who="supervisor",
        data={"result": "satisfactory", "notes": "现场走访，资料齐全", "site_visit": True},
    )
    assert r.status_code == 200, r.text
    assert r.json()["event"]["state"] == "spot_checked"
    assert r.json()["event"]["allowed_triggers"] == ["return_for_rework"]  # the rework loop

    history = walker.history(event["id"])
    assert [(h["trigger"], h["from_state"], h["to_state"]) for h in history] == [
        ("create", None, "planned"),
        ("edit.invitees", "planned", "planned"),
        ("invite", "planned", "invited"),
        ("hold", "invited", "held"),
        ("edit.feedback", "held", "held"),
        ("collect_feedback", "held", "feedback_collected"),
        ("edit.attachment", "feedback_collected", "feedback_collected"),
        ("submit_summary", "feedback_collected", "summary_submitted"),
        ("spot_check", "summary_submitted", "spot_checked"),
    ]
    assert [h["actor_name"] for h in history[1:]] == ["housing"] * 7 + ["supervisor"]
    # Every person's change bumps the version by one, edits and moves alike.
    assert [h["version"] for h in history] == list(range(1, 10))
    check = walker.client.get(
        f"/api/v1/events/{event['id']}/spot-check", headers=walker.world.headers["housing"]
    ).json()
    assert check["result"] == "satisfactory" and check["site_visit"] is True


# ---- invite --------------------------------------------------------------------------------


def test_invite_refused_when_citizens_below_a_third(walker: Walker) -> None:
    """In `refuse` mode, citizens 4 of 15 → 409 naming the rule, the numbers and the moves
    still allowed (the default mode flags instead: tests/event/test_hold_flags.py)."""
    walker.set_rule_modes("refuse")
    event = walker.create_event()
    walker.add_invitees(event["id"], citizens=4, deputies=11)
    event = walker.get(event["id"])
    before = walker.history(event["id"])
    r = walker.move(event["id"], "invite")
    assert r.status_code == 409
    err = error_of(r)
    assert err["code"] == "citizen_share_too_low"
    assert "市民代表 4 人（共 15 人）" in err["message"] and "至少 5 人" in err["message"]
    assert "citizens 4 of 15, need at least 5" in err["message_en"]
    assert err["violations"][0]["details"] == {"citizens": 4, "total": 15, "needed": 5}
    assert err["allowed_triggers"] == ["invite", "reschedule"]  # staff ask to cancel instead
    _state_and_history_unchanged(walker, event, before)


def test_invite_accepted_at_exactly_a_third(walker: Walker) -> None:
    """5 citizens of 15 is exactly one third: allowed."""
    event = walker.create_event()
    walker.add_invitees(event["id"], citizens=5, deputies=10)
    assert walker.move(event["id"], "invite").status_code == 200


def test_inviting_nobody_is_refused_in_every_mode(walker: Walker) -> None:
    """The count rule flags by default (原则上15人左右), but an invitation of nobody records
    nothing: refused, like a hold with no attendance."""
    event = walker.create_event()
    err = error_of(walker.move(event["id"], "invite"))
    assert err["code"] == "no_invitees"
    assert walker.get(event["id"])["state"] == "planned"


def test_invite_refused_outside_the_size_range(walker: Walker) -> None:
    """In `refuse` mode, 9 and 21 invitees fall outside the default 10–20; both rules reported
    together."""
    walker.set_rule_modes("refuse")
    small = walker.create_event()
    walker.add_invitees(small["id"], citizens=2, deputies=7)
    err = error_of(walker.move(small["id"], "invite"))
    assert err["code"] == "invitee_count_out_of_range"
    assert [v["code"] for v in err["violations"]] == [
        "invitee_count_out_of_range",
        "citizen_share_too_low",
    ]
    big = walker.create_event(theme="第二场")
    walker.add_invitees(big["id"], citizens=7, deputies=14)
    err = error_of(walker.move(big["id"], "invite"))
    assert err["code"] == "invitee_count_out_of_range"
    assert "21 invitees, need between 10 and 20" in err["message_en"]


def test_invite_limits_are_campaign_settings(walker: Walker) -> None:
    """A campaign that allows 4–8 invitees with half citizens applies those limits instead."""
    r = walker.client.patch(
        f"/api/v1/campaigns/{walker.world.campaign_id}",
        json={
            "rules": {
                "invitees_min": 4,
                "invitees_max": 8,
                "citizen_share_min": "1/2",
                "citizen_share_mode": "refuse",
            }
        },
        headers=walker.world.headers["supervisor"],
    )
    assert r.status_code == 200, r.text
    event = walker.create_event()
    walker.add_invitees(event["id"], citizens=2, deputies=4)
    err = error_of(walker.move(event["id"], "invite"))
    assert err["code"] == "citizen_share_too_low" and err["violations"][0]["details"]["needed"] == 3
    walker.add_invitees(event["id"], citizens=2, deputies=0)  # 4 citizens of 8: half
    assert walker.move(event["id"], "invite").status_code == 200


def test_uninvited_people_do_not_count(walker: Walker) -> None:
    """People kept on the list with invited=false are not counted for the quota."""
    walker.set_rule_modes("refuse")
    event = walker.create_event()
    people = walker.add_invitees(event["id"], citizens=5, deputies=10)
    r = walker.client.patch(
        f"/api/v1/events/{event['id']}/invitees/{people[-1]['id']}",
        params=walker.version_of(event["id"]),
        json={"invited": False},
        headers=walker.world.headers["housing"],
    )
    assert r.status_code == 200
    err = error_of(walker.move(event["id"], "invite"))
    assert err["violations"][0]["details"] == {"citizens": 4, "total": 14, "needed": 5}


# ---- hold ----------------------------------------------------------------------------------


def test_hold_refused_before_the_event_date(walker: Walker, clock) -> None:
    """Holding on 09-15 an event dated 09-16 is refused (local Shanghai date)."""
    event, invitees = walker.invited_event()
    clock.set(local(2022, 9, 15, 23, 59))
    attendance = {str(i["id"]): True for i in invitees}
    before = walker.history(event["id"])
    r = walker.move(event["id"], "hold", data={"attendance": attendance})
    assert r.status_code == 409
    assert error_of(r)["code"] == "event_date_not_reached"
    assert "2022-09-16" in error_of(r)["message"]
    _state_and_history_unchanged(walker, event, before)
    # The attendance sent with the refused move was not kept either.
    with walker.world.session() as s:
        assert s.exec(select(Invitee).where(Invitee.attended.is_not(None))).all() == []  # type: ignore[union-attr]
    clock.set(local(2022, 9, 16, 0, 1))
    assert walker.move(event["id"], "hold", data={"attendance": attendance}).status_code == 200


def test_hold_refused_without_attendance(walker: Walker) -> None:
    """Every invitee's attendance must be recorded before the event counts as held."""
    event, invitees = walker.invited_event()
    partial = {str(i["id"]): True for i in invitees[:10]}
    err = error_of(walker.move(event["id"], "hold", data={"attendance": partial}))
    assert err["code"] == "attendance_not_recorded"
    assert err["violations"][0]["details"] == {"unrecorded": 5}


def test_hold_refused_when_nobody_came(walker: Walker) -> None:
    """An event nobody attended is not held."""
    event, invitees = walker.invited_event()
    err = error_of(
        walker.move(
            event["id"], "hold", data={"attendance": {str(i["id"]): False for i in invitees}}
        )
    )
    assert err["code"] == "too_few_attendees"


def test_hold_refused_when_too_few_citizens_attend(walker: Walker) -> None:
    """In `refuse` mode citizens must be a third of the attendees too: 3 of 13 is refused."""
    walker.set_rule_modes("refuse")
    event, invitees = walker.invited_event()
    citizens = [i for i in invitees if i["category"] == "citizen"]
    attendance = {str(i["id"]): True for i in invitees}
    for person in citizens[:2]:
        attendance[str(person["id"])] = False
    err = error_of(walker.move(event["id"], "hold", data={"attendance": attendance}))
    assert err["code"] == "attendee_citizen_share_too_low"
    assert "citizens 3 of 13 attendees, need at least 5" in err["message_en"]


def test_attendance_recorded_beforehand_counts(walker: Walker) -> None:
    """Attendance recorded invitee by invitee satisfies the hold guard without move data."""
    event, invitees = walker.invited_event()
    for person in invitees:
        r = walker.client.patch(
            f"/api/v1/events/{event['id']}/invitees/{person['id']}",
            params=walker.version_of(event["id"]),
            json={"attended": True},
            headers=walker.world.headers["housing"],
        )
        assert r.status_code == 200, r.text
    assert walker.move(event["id"], "hold").status_code == 200


def test_hold_with_a_foreign_invitee_id_writes_nothing(walker: Walker) -> None:
    """Attendance naming someone not on this event's list is 422, and nothing is recorded."""
    event, invitees = walker.invited_event()
    attendance = {str(i["id"]): True for i in invitees}
    attendance["999999"] = True
    r = walker.move(event["id"], "hold", data={"attendance": attendance})
    assert r.status_code == 422
    assert error_of(r)["code"] == "invitee_not_found"
    with walker.world.session() as s:
        assert s.exec(select(Invitee).where(Invitee.attended.is_not(None))).all() == []  # type: ignore[union-attr]
    assert walker.get(event["id"])["state"] == "invited"


# ---- collect_feedback ---------------------------------------------------------------------


def test_collect_feedback_needs_items_or_a_statement(walker: Walker) -> None:
    """No items and no 'no opinions' statement is refused; the statement alone is accepted."""
    event, _ = walker.held_event()
    err = error_of(walker.move(event["id"], "collect_feedback"))
    assert err["code"] == "feedback_not_recorded"
    r = walker.move(
        event["id"],
        "collect_feedback",
        data={"no_opinions": True, "statement": "与会人员均表示无意见"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["move"]["data"]["no_opinions"] is True
    assert r.json()["move"]["data"]["statement"] == "与会人员均表示无意见"


def test_collect_feedback_refuses_items_and_no_opinions_together(walker: Walker) -> None:
    """Stating 'no opinions' while items are recorded is contradictory; nothing is written."""
    event, _ = walker.held_event()
    r = walker.move(
        event["id"],
        "collect_feedback",
        data={"items": [{"content": "意见一"}], "no_opinions": True},
    )
    assert error_of(r)["code"] == "feedback_contradiction"
    with walker.world.session() as s:
        assert s.exec(select(FeedbackItem)).all() == []


# ---- submit_summary -----------------------------------------------------------------------


def test_submit_summary_needs_text_and_a_photo(walker: Walker) -> None:
    """Both missing pieces are named; with text and a photo it goes through."""
    event, _ = walker.held_event()
    assert (
        walker.move(event["id"], "collect_feedback", data={"no_opinions": True}).status_code == 200
    )
    err = error_of(walker.move(event["id"], "submit_summary"))
    assert [v["code"] for v in err["violations"]] == [
        "summary_text_missing",
        "summary_attachment_missing",
    ]
    r = walker.client.put(
        f"/api/v1/events/{event['id']}/summary",
        params=walker.version_of(event["id"]),
        json={"text": "活动总结"},
        headers=walker.world.headers["housing"],
    )
    assert r.status_code == 200
    assert (
        error_of(walker.move(event["id"], "submit_summary"))["code"] == "summary_attachment_missing"
    )
    assert walker.upload(event["id"], "report.jpg").status_code == 201
    r = walker.move(event["id"], "submit_summary")
    assert r.status_code == 200, r.text
    summary = walker.client.get(
        f"/api/v1/events/{event['id']}/summary", headers=walker.world.headers["housing"]
    ).json()
    assert summary["submitted_at"] is not None and summary["attachments"][0]["kind"] == "photo"
    # Submitted summaries are frozen.
    r = walker.client.put(
        f"/api/v1/events/{event['id']}/summary",
        params=walker.version_of(event["id"]),
        json={"text": "改写"},
        headers=walker.world.headers["housing"],
    )
    assert error_of(r)["code"] == "summary_not_open"


# ---- spot_check ---------------------------------------------------------------------------


def _submitted(walker: Walker) -> dict:
    event, _ = walker.held_event()
    walker.move(event["id"], "collect_feedback", data={"no_opinions": True})
    walker.upload(event["id"])
    r = walker.move(event["id"], "submit_summary", data={"text": "总结"})
    assert r.status_code == 200, r.text
    return r.json()["event"]


def test_spot_check_refused_to_unit_staff(walker: Walker) -> None:
    """A unit staffer cannot spot-check their own event: 403, nothing recorded."""
    event = _submitted(walker)
    r = walker.move(event["id"], "spot_check", data={"result": "satisfactory"})
    assert r.status_code == 403
    assert error_of(r)["code"] == "spot_check_requires_supervisor"
    with walker.world.session() as s:
        assert s.exec(select(SpotCheck)).all() == []


def test_spot_check_result_is_validated(walker: Walker) -> None:
    """An unknown result answers 422 naming body.data.result (in words in the message)."""
    event = _submitted(walker)
    r = walker.move(event["id"], "spot_check", who="supervisor", data={"result": "great"})
    assert r.status_code == 422
    err = error_of(r)
    assert err["code"] == "validation_error"
    assert err["details"]["fields"][0]["field"] == "body.data.result"
    assert "抽查结果：应为以下之一：合格、需整改、不合格" in err["message"]
    assert "body.data.result" in err["message_en"]


def test_viewer_cannot_move(walker: Walker) -> None:
    """A read-only account sees events but every move is 403."""
    event = walker.create_event()
    assert walker.get(event["id"], who="viewer")["allowed_triggers"] == []
    r = walker.move(event["id"], "cancel", who="viewer", reason="测试")
    assert r.status_code == 403 and error_of(r)["code"] == "read_only"


# ---- reschedule and cancel ----------------------------------------------------------------


def test_reschedule_keeps_state_and_records_old_and_new_dates(walker: Walker) -> None:
    """Rescheduling an invited event moves its dates, keeps its state, logs the reason."""
    event, _ = walker.invited_event()
    r = walker.move(
        event["id"],
        "reschedule",
        data={"earliest": "2022-09-19", "latest": "2022-09-20"},
        reason="因天气原因延期",
    )
    assert r.status_code == 200, r.text
    moved = r.json()["event"]
    assert (moved["state"], moved["date_earliest"], moved["date_latest"]) == (
        "invited",
        "2022-09-19",
        "2022-09-20",
    )
    entry = r.json()["move"]
    assert entry["reason"] == "因天气原因延期"
    assert entry["data"]["old_earliest"] == "2022-09-16"
    assert entry["data"]["new_latest"] == "2022-09-20"


def test_reschedule_needs_a_reason_and_a_future_date(walker: Walker) -> None:
    """No reason and a date in the past are both refused, together."""
    event = walker.create_event()
    err = error_of(walker.move(event["id"], "reschedule", data={"date": "2022-09-01"}))
    assert [v["code"] for v in err["violations"]] == ["reason_required", "reschedule_date_in_past"]


def test_reschedule_data_must_name_a_date(walker: Walker) -> None:
    """Reschedule data without any date is 422."""
    event = walker.create_event()
    r = walker.move(event["id"], "reschedule", data={}, reason="改期")
    assert r.status_code == 422 and error_of(r)["code"] == "validation_error"


def test_cancel_needs_a_reason_and_ends_the_workflow(walker: Walker) -> None:
    """Cancel without reason is refused; after cancelling no move is allowed."""
    event = walker.create_event()
    assert (
        error_of(walker.move(event["id"], "cancel", who="supervisor"))["code"] == "reason_required"
    )
    r = walker.move(event["id"], "cancel", who="supervisor", reason="单位工作调整")
    assert r.status_code == 200 and r.json()["event"]["state"] == "cancelled"
    err = error_of(walker.move(event["id"], "invite"))
    assert err["code"] == "move_not_allowed" and err["allowed_triggers"] == []


def test_cancel_refused_once_held(walker: Walker) -> None:
    """A held event can no longer be cancelled or rescheduled."""
    event, _ = walker.held_event()
    err = error_of(walker.move(event["id"], "cancel", who="supervisor", reason="x"))
    assert err["code"] == "move_not_allowed"
    assert err["allowed_triggers"] == ["collect_feedback"]
    assert "已开展" in err["message"]


# ---- refusals common to every move --------------------------------------------------------


def test_move_not_allowed_from_state_lists_the_allowed_ones(walker: Walker) -> None:
    """hold from planned → 409 move_not_allowed with invite/reschedule allowed (cancelling is
    a supervisor's move; unit staff ask for it: tests/event/test_cancellation.py)."""
    event = walker.create_event()
    r = walker.move(event["id"], "hold")
    assert r.status_code == 409
    err = error_of(r)
    assert err["code"] == "move_not_allowed"
    assert err["allowed_triggers"] == ["invite", "reschedule"]  # staff ask to cancel instead
    assert "'hold' is not allowed from state 'planned'" in err["message_en"]


def test_stale_version_is_refused_and_changes_nothing(walker: Walker) -> None:
    """A move based on an old version answers 409 stale_version; the event stays as it was."""
    event = walker.create_event()
    walker.add_invitees(event["id"], citizens=5, deputies=10)
    assert (
        walker.move(
            event["id"], "reschedule", data={"date": "2022-09-17"}, reason="改期"
        ).status_code
        == 200
    )
    before = walker.history(event["id"])
    current = walker.get(event["id"])
    r = walker.move(event["id"], "invite", version=1)
    assert r.status_code == 409
    err = error_of(r)
    assert err["code"] == "stale_version"
    # create (1), the invitee list (2), reschedule (3)
    assert err["violations"][0]["details"] == {"current_version": 3, "expected_version": 1}
    _state_and_history_unchanged(walker, current, before)


def test_unknown_trigger_is_422(walker: Walker) -> None:
    """An unknown trigger names the known ones."""
    event = walker.create_event()
    r = walker.move(event["id"], "publish")
    assert r.status_code == 422
    assert "invite" in error_of(r)["details"]["known"]


def test_move_data_with_unknown_fields_is_422(walker: Walker) -> None:
    """Extra keys in the move's data are named, not silently dropped."""
    event = walker.create_event()
    r = walker.move(event["id"], "cancel", who="supervisor", data={"why": "x"}, reason="x")
    assert r.status_code == 422
    assert error_of(r)["details"]["fields"][0]["field"] == "body.data.why"


def test_refused_move_leaves_the_database_untouched(walker: Walker) -> None:
    """The rows of event, log and side tables are identical before and after a refused move."""
    event, _ = walker.held_event()

    def snapshot() -> tuple:
        with walker.world.session() as s:
            return (
                [e.model_dump() for e in s.exec(select(Event)).all()],
                len(s.exec(select(TransitionLog)).all()),
                len(s.exec(select(FeedbackItem)).all()),
            )

    before = snapshot()
    walker.move(
        event["id"], "collect_feedback", data={"items": [{"content": "x"}], "no_opinions": True}
    )
    assert snapshot() == before


def test_hold_date_uses_shanghai_local_day(walker: Walker, clock) -> None:
    """At 2022-09-15 16:30 UTC it is already 09-16 in Shanghai: the event may be held."""
    event, invitees = walker.invited_event()
    clock.set(local(2022, 9, 16, 0, 30) - timedelta(0))
    assert clock.now().day == 15  # UTC still shows the 15th
    r = walker.move(
        event["id"], "hold", data={"attendance": {str(i["id"]): True for i in invitees}}
    )
    assert r.status_code == 200
