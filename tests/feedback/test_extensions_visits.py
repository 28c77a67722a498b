"""Extensions of an opinion's answer deadline, and on-site visits (issue 10)."""

from __future__ import annotations

from tests.conftest import Walker, error_of, local, tiny_jpeg


def _one_opinion(walker: Walker) -> int:
    event, _ = walker.held_event()
    r = walker.move(event["id"], "collect_feedback", data={"items": [{"content": "路灯不亮"}]})
    assert r.status_code == 200, r.text
    items = walker.client.get(
        f"/api/v1/events/{event['id']}/feedback", headers=walker.world.headers["housing"]
    ).json()["items"]
    return items[0]["id"]  # type: ignore[no-any-return]


def test_an_extension_is_asked_before_the_due_date_and_approved_with_a_new_one(
    walker: Walker, clock
) -> None:
    """Asked on 10-10 (due 10-12), approved to 10-28: the opinion's due date and timers move,
    the overdue list shows the request; a second request is refused (once per opinion)."""
    item_id = _one_opinion(walker)
    h = walker.world.headers
    clock.set(local(2022, 10, 10, 9))
    r = walker.client.post(
        f"/api/v1/feedback/{item_id}/extensions",
        json={"reason": "需协调区财政局答复资金安排", "requested_due_on": "2022-10-28"},
        headers=h["housing"],
    )
    assert r.status_code == 201, r.text
    ext = r.json()
    assert ext["state"] == "pending" and ext["old_due_on"] == "2022-10-12"
    overdue = walker.client.get(
        "/api/v1/overdue?kind=feedback_answer", headers=h["supervisor"]
    ).json()["items"]
    assert [(o["feedback_item_id"], o["extension_state"]) for o in overdue] == [
        (item_id, "pending")
    ]
    r = walker.client.post(
        f"/api/v1/extensions/{ext['id']}/decision", json={"approve": True}, headers=h["housing"]
    )
    assert r.status_code == 403
    r = walker.client.post(
        f"/api/v1/extensions/{ext['id']}/decision",
        json={"approve": True, "note": "同意"},
        headers=h["supervisor"],
    )
    assert r.status_code == 200 and r.json()["new_due_on"] == "2022-10-28", r.text
    item = walker.client.get(f"/api/v1/feedback/{item_id}", headers=h["housing"]).json()
    assert item["due_on"] == "2022-10-28"
    answer = [t for t in item["timers"] if t["rule"] == "feedback_answer"]
    assert {t["deadline_on"] for t in answer if t["state"] == "pending"} == {"2022-10-28"}
    r = walker.client.post(
        f"/api/v1/feedback/{item_id}/extensions", json={"reason": "再延"}, headers=h["housing"]
    )
    assert r.status_code == 409 and error_of(r)["code"] == "extension_limit_reached"


def test_an_extension_after_the_due_date_is_refused(walker: Walker, clock) -> None:
    """Asked on 10-13 for a 10-12 deadline: 409 naming the due date."""
    item_id = _one_opinion(walker)
    clock.set(local(2022, 10, 13, 9))
    r = walker.client.post(
        f"/api/v1/feedback/{item_id}/extensions",
        json={"reason": "来不及"},
        headers=walker.world.headers["housing"],
    )
    assert r.status_code == 409 and error_of(r)["code"] == "extension_too_late"
    assert "2022-10-12" in error_of(r)["message"]


def test_a_refused_extension_leaves_the_deadline(walker: Walker, clock) -> None:
    """A refusal keeps the due date and is recorded with its note."""
    item_id = _one_opinion(walker)
    h = walker.world.headers
    ext = walker.client.post(
        f"/api/v1/feedback/{item_id}/extensions", json={"reason": "人手不足"}, headers=h["housing"]
    ).json()
    r = walker.client.post(
        f"/api/v1/extensions/{ext['id']}/decision",
        json={"approve": False, "note": "请按期办理"},
        headers=h["supervisor"],
    )
    assert r.status_code == 200 and r.json()["state"] == "refused"
    item = walker.client.get(f"/api/v1/feedback/{item_id}", headers=h["housing"]).json()
    assert item["due_on"] == "2022-10-12"


def test_supervisors_record_on_site_visits_with_photos(walker: Walker) -> None:
    """A visit (date, people, findings) and a photo; staff may read it, not record one."""
    event, _ = walker.held_event()
    h = walker.world.headers
    body = {"visited_on": "2022-09-16", "people": "区政府办 张三、李四", "findings": "现场秩序良好"}
    r = walker.client.post(f"/api/v1/events/{event['id']}/visits", json=body, headers=h["housing"])
    assert r.status_code == 403
    r = walker.client.post(
        f"/api/v1/events/{event['id']}/visits",
        json={**body, "visited_on": "2022-09-20"},
        headers=h["supervisor"],
    )
    assert r.status_code == 422 and error_of(r)["code"] == "visit_in_future"
    r = walker.client.post(
        f"/api/v1/events/{event['id']}/visits", json=body, headers=h["supervisor"]
    )
    assert r.status_code == 201, r.text
    visit = r.json()
    r = walker.client.post(
        f"/api/v1/visits/{visit['id']}/photos",
        files={"file": ("现场.jpg", tiny_jpeg(), "image/jpeg")},
        headers=h["supervisor"],
    )
    assert r.status_code == 201, r.text
    seen = walker.client.get(f"/api/v1/visits?event_id={event['id']}", headers=h["housing"]).json()
    assert seen["total"] == 1 and seen["items"][0]["photos"][0]["filename"] == "现场.jpg"


def test_a_visit_photo_is_typed_by_its_content(walker: Walker) -> None:
    """Bytes that only claim to be a JPEG are refused with the file named."""
    event, _ = walker.held_event()
    h = walker.world.headers["supervisor"]
    body = {"visited_on": "2022-09-16", "people": "张三"}
    visit = walker.client.post(f"/api/v1/events/{event['id']}/visits", json=body, headers=h).json()
    r = walker.client.post(
        f"/api/v1/visits/{visit['id']}/photos",
        files={"file": ("假照片.jpg", b"<html>not a photo</html>", "image/jpeg")},
        headers=h,
    )
    assert r.status_code == 422 and error_of(r)["code"] == "file_type_not_allowed"
    assert "假照片.jpg" in error_of(r)["message"]


def test_move_dates_outside_the_services_reach_are_field_errors(walker: Walker) -> None:
    """A reschedule to 9999-12-31 is 422 naming body.data.date, not a 500."""
    event = walker.create_event()
    r = walker.move(event["id"], "reschedule", data={"date": "9999-12-31"}, reason="x")
    assert r.status_code == 422
    assert error_of(r)["details"]["fields"][0]["field"] == "body.data.date"
