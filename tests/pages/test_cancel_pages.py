"""Pages: a clerk asks to cancel on the event's page; the request shows on the event page, the
clerk's list and the board; a supervisor refuses or approves (不计扣分 with its reason) in the
queue reached from the board."""

from __future__ import annotations

from sqlmodel import Session

from models import User
from tests.conftest import Walker, World
from tests.pages.test_pages import csrf_of, sign_in
from workflows.accounts.service import hash_password


def _supervisor_password(world: World) -> None:
    with Session(world.engine) as session:
        user = session.get(User, world.user_ids["supervisor"])
        assert user is not None
        user.password_hash = hash_password("pw-super")
        session.commit()


def test_request_refusal_then_approval_through_the_pages(walker: Walker, world: World) -> None:
    """No reason → the error summary names 取消理由; a request shows 取消申请待审批 on the event
    page, the clerk's list and the board; a refusal without its reason is named, with it the
    clerk reads why; a second request is approved 不计扣分 and the report says so."""
    event = walker.create_event()
    eid = event["id"]
    _supervisor_password(world)
    client = walker.client
    sign_in(client)
    page = client.get(f"/events/{eid}")
    assert 'id="cancel-link"' in page.text and "申请取消活动" in page.text
    form = client.get(f"/events/{eid}/cancel")
    assert form.status_code == 200 and "提交取消申请" in form.text
    refused = client.post(f"/events/{eid}/cancel/request", data={"csrf": csrf_of(form.text)})
    assert refused.status_code == 422
    assert 'href="#reason"' in refused.text and "请填写取消理由" in refused.text
    sent = client.post(
        f"/events/{eid}/cancel/request",
        data={"csrf": csrf_of(form.text), "reason": "场地改造无法使用"},
    )
    assert "已提交取消申请" in sent.text and "取消申请待审批" in sent.text
    assert "取消申请待审批" in client.get("/").text
    assert walker.get(eid)["state"] == "planned"

    client.cookies.clear()
    sign_in(client, "supervisor", "pw-super")
    board = client.get("/board")
    assert "取消申请（1）" in board.text and 'href="/board/cancellations"' in board.text
    queue = client.get("/board/cancellations")
    assert "场地改造无法使用" in queue.text and "取消申请（待审批 1 件）" in queue.text
    request_id = walker.client.get(
        "/api/v1/cancellation-requests?state=pending", headers=world.headers["supervisor"]
    ).json()["items"][0]["id"]
    bad = client.post(
        f"/board/cancellations/{request_id}",
        data={"csrf": csrf_of(queue.text), "decision": "refuse", "back": "queue"},
    )
    assert bad.status_code == 422 and f'href="#note-{request_id}"' in bad.text
    assert "不予批准的理由" in bad.text
    done = client.post(
        f"/board/cancellations/{request_id}",
        data={
            "csrf": csrf_of(queue.text),
            "decision": "refuse",
            "note": "请按计划开展活动",
            "back": "queue",
        },
    )
    assert "已驳回取消申请" in done.text

    client.cookies.clear()
    sign_in(client)
    page = client.get(f"/events/{eid}")
    assert "区政府办未批准取消申请" in page.text and "请按计划开展活动" in page.text
    form = client.get(f"/events/{eid}/cancel")
    client.post(
        f"/events/{eid}/cancel/request",
        data={"csrf": csrf_of(form.text), "reason": "上级通知统一停办"},
    )

    client.cookies.clear()
    sign_in(client, "supervisor", "pw-super")
    on_event = client.get(f"/events/{eid}/cancel")
    assert "审批取消申请" in on_event.text and "上级通知统一停办" in on_event.text
    second = walker.client.get(
        "/api/v1/cancellation-requests?state=pending", headers=world.headers["supervisor"]
    ).json()["items"][0]["id"]
    approved = client.post(
        f"/board/cancellations/{second}",
        data={
            "csrf": csrf_of(on_event.text), "decision": "approve", "back": "event",
            "exempt": "yes", "exempt_reason": "上级统一停办活动",
        },
    )  # fmt: skip
    assert "已批准取消" in approved.text and walker.get(eid)["state"] == "cancelled"
    shown = client.get(f"/events/{eid}/cancel")
    assert "不计扣分：上级统一停办活动" in shown.text
    report = client.get(f"/board/report?campaign={world.campaign_id}")
    assert "取消不计扣分" in report.text and "上级统一停办活动" in report.text
    history = client.get(f"/events/{eid}/history")
    assert "不予批准" in history.text and "批准了" in history.text


def test_staff_cannot_open_the_queue_and_viewers_read_it_without_forms(
    walker: Walker, world: World
) -> None:
    """The queue is the supervisors'; staff get 403; a viewer (who reads the board) reads it
    without the decision forms."""
    event = walker.create_event()
    walker.client.post(
        f"/api/v1/events/{event['id']}/cancellation-requests",
        json={"reason": "场地改造无法使用"},
        headers=world.headers["housing"],
    )
    sign_in(walker.client)
    assert walker.client.get("/board/cancellations").status_code == 403
    with Session(world.engine) as session:
        user = session.get(User, world.user_ids["viewer"])
        assert user is not None
        user.password_hash = hash_password("pw-viewer")
        session.commit()
    walker.client.cookies.clear()
    sign_in(walker.client, "viewer", "pw-viewer")
    page = walker.client.get("/board/cancellations")
    assert page.status_code == 200 and "场地改造无法使用" in page.text
    assert ">批准取消<" not in page.text and 'action="/board/cancellations/' not in page.text
