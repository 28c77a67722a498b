"""Corrections of a recorded hold beyond attendance (issue 24): the days held, the forms, who
met the visitors, and the invitee list after the hold — each with a reason, audited, told in
Chinese, the hold's rules run again and the summary's deadline re-armed with the last day."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import Session, select

from models import Timer, TimerState
from tests.conftest import Walker, error_of
from tests.event.test_hold_record import said


def correct(walker: Walker, event_id: int, kind: str, payload: Any, reason: str = "核对后更正",
            who: str = "housing") -> Any:  # fmt: skip
    return walker.client.post(
        f"/api/v1/events/{event_id}/corrections",
        json={
            "kind": kind,
            "payload": payload,
            "reason": reason,
            "expected_version": walker.get(event_id)["version"],
        },
        headers=walker.world.headers[who],
    )


def test_the_days_held_are_corrected_and_the_summary_deadline_follows_the_last_day(
    walker: Walker, clock
) -> None:
    event, _ = walker.held_event()
    eid = event["id"]
    assert walker.get(eid)["summary_due_on"] == "2022-09-19"
    clock.advance(timedelta(days=1))  # 2022-09-17
    r = correct(walker, eid, "hold", {"held_until": "2022-09-17"}, "活动连续开展两天")
    assert r.status_code == 200, r.text
    after = walker.get(eid)
    assert after["held_on"] == "2022-09-16" and after["held_until"] == "2022-09-17"
    assert after["summary_due_on"] == "2022-09-20"
    with Session(walker.world.engine) as session:
        timers = session.exec(
            select(Timer).where(
                Timer.subject_id == eid, Timer.rule == "summary", Timer.state == TimerState.pending
            )
        ).all()
        assert timers  # the reminder and the ladder, counted from the new due day
        assert {t.deadline_on.isoformat() for t in timers} == {"2022-09-20"}
    sentence = said(walker, eid, "edit.hold")
    assert (
        "更正了开展情况：开展日期由“2022年9月16日（星期五）”改为“2022年9月16日至17日”" in sentence
    )
    assert "总结报送期限改为2022年9月20日（星期二）" in sentence
    assert sentence.endswith("理由：活动连续开展两天。")


def test_forms_and_leader_are_corrected_and_the_leader_flag_recomputed(walker: Walker) -> None:
    event, _ = walker.held_event()
    eid = event["id"]
    r = correct(walker, eid, "hold", {"met_by": [{"name": "李科长", "post": "other"}]})
    assert r.status_code == 200, r.text
    assert [f["rule"] for f in walker.get(eid)["flags"]] == ["leader"]
    r = correct(walker, eid, "hold", {"met_by": [{"name": "王局长", "post": "deputy"}],
                                      "forms_held": ["office_visit", "dialogue"]})  # fmt: skip
    assert r.status_code == 200, r.text
    after = walker.get(eid)
    assert after["flags"] == [] and after["forms_held"] == ["office_visit", "dialogue"]
    sentence = said(walker, eid, "edit.hold")
    assert "开展形式由“政民恳谈交流”改为“参观机关办公场所、政民恳谈交流”" in sentence
    assert "面对面沟通的负责人由“李科长（其他）”改为“王局长（分管负责人）”" in sentence


def test_bad_corrections_are_refused_naming_the_field_and_nothing_is_written(
    walker: Walker,
) -> None:
    event, invitees = walker.held_event()
    eid = event["id"]
    version = walker.get(eid)["version"]
    cases = [
        ("hold", {"held_until": "2022-09-15"}, "理由", 422, "held_until_before_held_on",
         "最后开展日期"),
        ("hold", {"forms_held": []}, "理由", 422, "forms_held_missing", "实际开展形式"),
        ("hold", {"met_by": [{"name": "甲", "post": "boss"}]}, "理由", 422,
         "correction_payload_invalid", "开展情况"),
        ("hold", {"forms_held": ["site_visit"]}, "   ", 422, "correction_reason_missing",
         "更正理由"),
        ("invitees", {"remove": [999999]}, "理由", 422, "invitee_not_found", "受邀人员"),
    ]  # fmt: skip
    for kind, payload, reason, status, code, zh in cases:
        r = correct(walker, eid, kind, payload, reason)
        assert r.status_code == status, (payload, r.text)
        err = error_of(r)
        assert err["code"] == code and zh in err["message"] and err["message_en"], err
        assert walker.get(eid)["version"] == version
    other = correct(walker, eid, "hold", {"forms_held": ["site_visit"]}, who="shiling")
    assert other.status_code in (403, 404)


def test_the_invitee_list_is_corrected_after_the_hold(walker: Walker) -> None:
    event, invitees = walker.held_event()
    eid = event["id"]
    deputy = next(i for i in invitees if i["category"] != "citizen")
    r = correct(
        walker,
        eid,
        "invitees",
        {
            "change": [{"id": deputy["id"], "name": "代表甲"}],
            "add": [{"name": "市民新", "category": "citizen", "attended": True}],
        },
        "名单录入有误",
    )
    assert r.status_code == 200, r.text
    sentence = said(walker, eid, "edit.hold_invitees")
    assert "更正了受邀名单：" in sentence and "改为代表甲" in sentence
    assert "补充市民新（市民代表）" in sentence and "现出席 16 人" in sentence
