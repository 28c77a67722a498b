"""Late corrections go through a supervisor (issue 24): past the unit's correction days the
clerk's direct correction is refused (403) and a request is made instead; a supervisor sees it
pending, approves it (the change applied, audited as approved by them, naming who asked) or
refuses it with a reason; bad requests are refused naming the field, nothing written."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.conftest import Walker, error_of
from tests.event.test_hold_record import said
from tests.event.test_record_corrections import correct

API = "/api/v1"


def ask(walker: Walker, event_id: int, body: dict[str, Any], who: str = "housing") -> Any:
    return walker.client.post(
        f"{API}/events/{event_id}/correction-requests",
        json=body,
        headers=walker.world.headers[who],
    )


def decide(walker: Walker, request_id: int, body: dict[str, Any], who: str = "supervisor") -> Any:
    return walker.client.post(
        f"{API}/correction-requests/{request_id}/decision",
        json=body,
        headers=walker.world.headers[who],
    )


LATE = {"kind": "hold", "payload": {"forms_held": ["site_visit", "dialogue"]},
        "reason": "漏记了现场参观"}  # fmt: skip


def _late_event(walker: Walker, clock) -> int:
    event, _ = walker.held_event()
    clock.advance(timedelta(days=14))  # the unit's 5 working days are over
    return int(event["id"])


def test_a_late_clerk_asks_and_the_supervisor_approves(walker: Walker, clock) -> None:
    eid = _late_event(walker, clock)
    direct = correct(walker, eid, "hold", LATE["payload"], LATE["reason"])
    assert direct.status_code == 403 and error_of(direct)["code"] == "correction_window_closed"
    r = ask(walker, eid, LATE)
    assert r.status_code == 201, r.text
    request = r.json()
    assert request["state"] == "pending" and request["kind"] == "hold"
    assert walker.get(eid)["forms_held"] == ["dialogue"]  # nothing applied yet
    again = ask(walker, eid, LATE)
    assert again.status_code == 409 and error_of(again)["code"] == "correction_request_pending"
    pending = walker.client.get(
        f"{API}/correction-requests?state=pending", headers=walker.world.headers["supervisor"]
    ).json()
    assert [p["id"] for p in pending["items"]] == [request["id"]]
    assert "提交了开展情况更正申请" in said(walker, eid, "edit.correction_request")

    staff = decide(walker, request["id"], {"approve": True}, who="housing")
    assert staff.status_code == 403
    done = decide(walker, request["id"], {"approve": True})
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "approved"
    assert walker.get(eid)["forms_held"] == ["site_visit", "dialogue"]
    sentence = said(walker, eid, "edit.hold")
    assert sentence.startswith("supervisor（批准housing的更正申请）更正了开展情况") or (
        "的更正申请）更正了开展情况：开展形式由“政民恳谈交流”改为“现场参观考察、政民恳谈交流”"
        in sentence
    )
    assert sentence.endswith("理由：漏记了现场参观。")
    twice = decide(walker, request["id"], {"approve": False, "note": "重复"})
    assert twice.status_code == 409


def test_a_refusal_needs_a_reason_and_is_shown(walker: Walker, clock) -> None:
    eid = _late_event(walker, clock)
    request = ask(walker, eid, LATE).json()
    bare = decide(walker, request["id"], {"approve": False, "note": " "})
    assert bare.status_code == 422 and "理由" in error_of(bare)["message"]
    refused = decide(walker, request["id"], {"approve": False, "note": "签到表显示未开展现场参观"})
    assert refused.status_code == 200 and refused.json()["state"] == "refused"
    mine = walker.client.get(
        f"{API}/events/{eid}/correction-requests", headers=walker.world.headers["housing"]
    ).json()
    assert mine[0]["decision_note"] == "签到表显示未开展现场参观"
    assert walker.get(eid)["forms_held"] == ["dialogue"]
    assert "未批准开展情况更正申请" in said(walker, eid, "edit.correction_refused")


def test_bad_requests_are_refused_naming_the_field(walker: Walker, clock) -> None:
    eid = _late_event(walker, clock)
    version = walker.get(eid)["version"]
    cases = [
        ({**LATE, "reason": "  "}, 422, "correction_reason_missing", "更正理由"),
        ({**LATE, "kind": "weather"}, 422, "validation_error", "类别"),
        ({**LATE, "payload": {"held_until": "2022-13-01"}}, 422, "correction_payload_invalid",
         "开展情况"),
    ]  # fmt: skip
    for body, status, code, zh in cases:
        r = ask(walker, eid, body)
        assert r.status_code == status, (body, r.text)
        err = error_of(r)
        assert err["code"] == code and zh in err["message"], err
    other = ask(walker, eid, LATE, who="shiling")
    assert other.status_code in (403, 404)
    assert walker.get(eid)["version"] == version


def test_inside_the_unit_days_the_clerk_corrects_instead_of_asking(walker: Walker) -> None:
    early, _ = walker.held_event()
    inside = ask(walker, early["id"], LATE)
    assert inside.status_code == 409 and error_of(inside)["code"] == "correction_window_open"


def test_a_supervisor_still_corrects_directly(walker: Walker, clock) -> None:
    eid = _late_event(walker, clock)
    r = correct(walker, eid, "hold", LATE["payload"], LATE["reason"], who="supervisor")
    assert r.status_code == 200, r.text
    assert walker.get(eid)["forms_held"] == ["site_visit", "dialogue"]
