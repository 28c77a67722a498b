"""Pages: a clerk asks for more time on an opinion; a supervisor decides on the board."""

from __future__ import annotations

from sqlmodel import Session, select

from models import FeedbackItem, User
from tests.conftest import Walker, World, local, tiny_jpeg
from tests.pages.test_pages import csrf_of, sign_in
from workflows.accounts.service import hash_password


def test_extension_asked_on_the_opinion_page_and_approved_on_the_board(
    walker: Walker, world: World, clock
) -> None:
    """The clerk's form shows the campaign's answer window and sends the request; the board
    lists it with the opinion and approves it with a new date."""
    event, _ = walker.held_event()
    walker.move(event["id"], "collect_feedback", data={"items": [{"content": "路灯不亮"}]})
    with Session(world.engine) as session:
        item_id = session.exec(select(FeedbackItem.id)).one()
        user = session.get(User, world.user_ids["supervisor"])
        assert user is not None
        user.password_hash = hash_password("pw-super")
        session.commit()
    clock.set(local(2022, 10, 10, 9))
    sign_in(walker.client)
    page = walker.client.get(f"/events/{event['id']}/feedback")
    assert "15 个工作日内办结并答复" in page.text and "申请延期" in page.text
    refused = walker.client.post(
        f"/events/{event['id']}/feedback/{item_id}/extension",
        data={"csrf": csrf_of(page.text), "reason": ""},
    )
    assert 'href="#reason-' in refused.text and "请说明申请延期的理由" in refused.text
    sent = walker.client.post(
        f"/events/{event['id']}/feedback/{item_id}/extension",
        data={
            "csrf": csrf_of(page.text),
            "reason": "需协调财政局",
            "requested_due_on": "2022-10-28",
        },
    )
    assert "延期申请已提交区政府办" in sent.text and "待区政府办审批" in sent.text
    walker.client.cookies.clear()
    sign_in(walker.client, "supervisor", "pw-super")
    assert 'id="extensions-link">延期申请（1）</a>' in walker.client.get("/board").text
    board = walker.client.get("/board/extensions")
    assert "延期申请（待审批 1 件）" in board.text and "需协调财政局" in board.text
    ext_id = walker.client.get(
        "/api/v1/extensions?state=pending", headers=world.headers["supervisor"]
    ).json()["items"][0]["id"]
    done = walker.client.post(
        f"/board/extensions/{ext_id}",
        data={"csrf": csrf_of(board.text), "decision": "approve", "new_due_on": "2022-10-28"},
    )
    assert "已批准延期" in done.text
    detail = walker.client.get(f"/api/v1/feedback/{item_id}", headers=world.headers["housing"])
    assert detail.json()["due_on"] == "2022-10-28"


def test_a_visit_with_photos_is_recorded_on_the_board(walker: Walker, world: World) -> None:
    """The board's 现场走访 form records a visit to a submitted event with a photo; a missing
    name of who went is shown as an error linked to its field."""
    from tests.event.test_event_moves import _submitted

    event = _submitted(walker)
    with Session(world.engine) as session:
        user = session.get(User, world.user_ids["supervisor"])
        assert user is not None
        user.password_hash = hash_password("pw-super")
        session.commit()
    sign_in(walker.client, "supervisor", "pw-super")
    board = walker.client.get("/board/visits")
    assert 'id="visits-link" aria-current="page">现场走访' in board.text
    form = {"csrf": csrf_of(board.text), "event_id": str(event["id"]), "visited_on": "2022-09-16"}
    missing = walker.client.post("/board/visits", data={**form, "people": ""})
    assert 'href="#visit-people"' in missing.text and "请填写走访人员" in missing.text
    done = walker.client.post(
        "/board/visits",
        data={**form, "people": "区政府办 张三", "findings": "资料齐全"},
        files=[("photos", ("现场.jpg", tiny_jpeg(), "image/jpeg"))],
    )
    assert "已登记现场走访（1 张照片）" in done.text and "区政府办 张三" in done.text
    listed = walker.client.get("/api/v1/visits", headers=world.headers["supervisor"]).json()
    assert listed["items"][0]["photos"][0]["filename"] == "现场.jpg"
