"""Other kinds reach the inbox too (issue 26): a request for more time reaches the supervisors,
its decision and a summary sent back reach the unit's staff, each once, linking to its item."""

from __future__ import annotations

from sqlmodel import Session, col, select

from models import FeedbackItem, InboxMessage
from tests.conftest import Walker
from workflows.inbox.kinds import KINDS, kind_of


def _box(walker: Walker, who: str) -> list[InboxMessage]:
    with Session(walker.world.engine) as s:
        stmt = select(InboxMessage).where(InboxMessage.user_id == walker.world.user_ids[who])
        return list(s.exec(stmt.order_by(col(InboxMessage.id))).all())


def test_extension_request_and_decision_reach_the_right_inboxes(walker: Walker) -> None:
    event, _ = walker.held_event()
    r = walker.move(event["id"], "collect_feedback", data={"items": [{"content": "建议加装电梯"}]})
    assert r.status_code == 200, r.text
    with Session(walker.world.engine) as s:
        item_id = s.exec(select(FeedbackItem.id)).one()
    h = walker.world.headers
    ext = walker.client.post(
        f"/api/v1/feedback/{item_id}/extensions",
        json={"reason": "需协调多部门", "requested_due_on": "2022-10-30"},
        headers=h["housing"],
    )
    assert ext.status_code == 201, ext.text
    (asked,) = _box(walker, "supervisor")
    assert asked.kind == "ext_request" and asked.link == "/board/extensions"
    assert "希望延至 2022年10月30日" in asked.title and "需协调多部门" in asked.body
    assert _box(walker, "housing") == [] and _box(walker, "shiling") == []
    r = walker.client.post(
        f"/api/v1/extensions/{ext.json()['id']}/decision",
        json={"approve": True, "note": "同意"},
        headers=h["supervisor"],
    )
    assert r.status_code == 200, r.text
    (told,) = _box(walker, "housing")
    assert told.kind == "ext_decision" and told.title.startswith("【延期申请已批准】")
    assert told.link == f"/events/{event['id']}/feedback#item-{item_id}"
    assert len(_box(walker, "supervisor")) == 1  # the decision is the unit's news


def test_a_summary_sent_back_reaches_the_unit_staff_each_round(walker: Walker) -> None:
    event, _ = walker.held_event()
    eid = event["id"]
    assert walker.move(eid, "collect_feedback", data={"no_opinions": True}).status_code == 200
    assert walker.upload(eid).status_code == 201
    for round_ in (1, 2):
        r = walker.move(eid, "submit_summary", data={"text": f"第{round_}稿总结"})
        assert r.status_code == 200, r.text
        r = walker.move(
            eid, "spot_check", who="supervisor",
            data={"result": "needs_improvement", "notes": "缺照片说明"},
        )  # fmt: skip
        assert r.status_code == 200, r.text
        r = walker.move(
            eid,
            "return_for_rework",
            who="supervisor",
            data={"reasons": [f"第{round_}次：补充说明"]},
        )
        assert r.status_code == 200, r.text
    told = _box(walker, "housing")
    assert [m.kind for m in told] == ["rework", "rework"]
    assert all(m.link == f"/events/{eid}/summary" for m in told)
    assert "第2次：补充说明" in told[1].body and told[0].title.startswith("【总结退回整改】")


def test_links_lead_to_each_item() -> None:
    from dataclasses import dataclass

    from workflows.inbox.kinds import item_link

    @dataclass
    class N:
        subject_type: str
        subject_id: int
        event_id: int | None
        rule: str

    assert item_link(N("feedback_item", 4, 2, "feedback_answer")) == "/events/2/feedback#item-4"
    assert item_link(N("event", 2, 2, "summary")) == "/events/2/summary"
    assert item_link(N("rectification", 7, 2, "rectification")) == (
        "/events/2/spot-check#rectification-7"
    )
    assert item_link(N("event", 2, 2, "event_hold")) == "/events/2"
    assert item_link(N("digest", 9, None, "digest")) == "/inbox"


def test_every_kind_has_a_label_and_a_new_one_still_arrives() -> None:
    assert all(k.label and k.audience for k in KINDS.values())
    assert len({k.label for k in KINDS.values()}) == len(KINDS)
    assert kind_of("cancel_decision").audience == ("unit_staff",)  # not listed: the unit hears
