"""签收 and 转办 (issue 26): the unit signs for an opinion, transfers it, the receiving unit sends
it back, a supervisor decides; bad input is a 4xx with a stable code and writes nothing; an
unsigned opinion escalates to the unit holding it."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from models import FeedbackItem, FeedbackTransfer, InboxMessage, Notification, TransitionLog
from tests.conftest import HOUSING, SHILING, Walker, error_of, local
from tests.workdays import test_deadlines as _deadlines
from tests.workdays.test_deadlines import Workers, _collected_with_one_opinion, tick

broker = _deadlines.broker
channels = _deadlines.channels
rt = _deadlines.rt
scheduler = _deadlines.scheduler
workers = _deadlines.workers


def _item(walker: Walker, item_id: int, who: str = "housing") -> dict[str, Any]:
    r = walker.client.get(f"/api/v1/feedback/{item_id}", headers=walker.world.headers[who])
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def _written(engine: Engine) -> tuple[int, int, int]:
    """Transfers, opinion audit lines and inbox messages so far."""
    with Session(engine) as s:
        return (
            s.exec(select(func.count()).select_from(FeedbackTransfer)).one(),
            s.exec(
                select(func.count())
                .select_from(TransitionLog)
                .where(col(TransitionLog.feedback_item_id).is_not(None))
            ).one(),
            s.exec(select(func.count()).select_from(InboxMessage)).one(),
        )


def _post(walker: Walker, path: str, who: str, body: dict[str, Any]) -> Any:
    return walker.client.post(f"/api/v1{path}", json=body, headers=walker.world.headers[who])


def test_sign_transfer_send_back_and_a_supervisor_decides(
    walker: Walker, engine: Engine, clock
) -> None:
    _, item_id = _collected_with_one_opinion(walker, sign=False)
    units = walker.world.units
    item = _item(walker, item_id)
    due_on = item["due_on"]
    assert item["unit_id"] == units[HOUSING] and item["signed_at"] is None
    assert item["sign_due_on"] is not None
    assert any(t["rule"] == "feedback_sign" for t in item["timers"])
    v = item["version"]
    before = _written(engine)
    # Bad input: nothing written.
    r = _post(walker, f"/feedback/{item_id}/sign", "shiling", {"expected_version": v})
    assert r.status_code == 404 and error_of(r)["code"] == "feedback_not_found"
    r = _post(walker, f"/feedback/{item_id}/sign", "supervisor", {"expected_version": v})
    assert r.status_code == 403 and error_of(r)["code"] == "feedback_not_holder"
    same = {"to_unit_id": units[HOUSING], "reason": "不属本单位", "expected_version": v}
    r = _post(walker, f"/feedback/{item_id}/transfers", "housing", same)
    assert r.status_code == 422 and error_of(r)["code"] == "transfer_same_unit"
    unknown = {**same, "to_unit_id": 99999}
    r = _post(walker, f"/feedback/{item_id}/transfers", "housing", unknown)
    assert r.status_code == 422 and error_of(r)["code"] == "transfer_unit_unknown"
    r = _post(walker, f"/feedback/{item_id}/transfer/send-back", "housing", {"reason": "x"})
    assert r.status_code == 409 and error_of(r)["code"] == "transfer_not_pending"
    assert _written(engine) == before and _item(walker, item_id)["version"] == v

    clock.set(local(2022, 9, 19, 9))
    r = _post(walker, f"/feedback/{item_id}/sign", "housing", {"expected_version": v})
    assert r.status_code == 200, r.text
    assert r.json()["signed_by"] == "housing"
    r = _post(
        walker, f"/feedback/{item_id}/sign", "housing", {"expected_version": r.json()["version"]}
    )
    assert r.status_code == 409 and error_of(r)["code"] == "feedback_already_signed"

    # Transfer to 石岭镇: it holds the opinion, unsigned, with a new sign-for day; due day stays.
    v = _item(walker, item_id)["version"]
    body = {"to_unit_id": units[SHILING], "reason": "属石岭镇辖区事务", "expected_version": v}
    r = _post(walker, f"/feedback/{item_id}/transfers", "housing", body)
    assert r.status_code == 201, r.text
    assert r.json()["state"] == "pending"
    moved = _item(walker, item_id, "shiling")
    assert moved["unit_id"] == units[SHILING] and moved["signed_at"] is None
    assert moved["due_on"] == due_on and moved["sign_due_on"] == "2022-09-20"
    with Session(engine) as s:
        titles = [
            m.title
            for m in s.exec(
                select(InboxMessage).where(InboxMessage.user_id == walker.world.user_ids["shiling"])
            )
        ]
    assert any(t.startswith("【转办】区住建局转来意见") for t in titles), titles
    # The unit that sent it may no longer sign for it: someone else's item.
    r = _post(
        walker, f"/feedback/{item_id}/sign", "housing", {"expected_version": moved["version"]}
    )
    assert r.status_code == 403 and error_of(r)["code"] == "feedback_not_holder"
    r = _post(
        walker,
        f"/feedback/{item_id}/transfers",
        "housing",
        {**body, "expected_version": moved["version"]},
    )
    assert r.status_code == 403

    # 石岭镇 sends it back; a supervisor decides it is 石岭镇's after all, with a later due day.
    r = _post(
        walker, f"/feedback/{item_id}/transfer/send-back", "shiling", {"reason": "属区住建局职责"}
    )
    assert r.status_code == 200 and r.json()["state"] == "returned", r.text
    assert _item(walker, item_id)["unit_id"] == units[HOUSING]
    r = _post(walker, f"/feedback/{item_id}/transfer/decision", "housing", {"outcome": "receiver"})
    assert r.status_code == 403
    decision = {"outcome": "receiver", "note": "属镇级职责", "new_due_on": "2022-10-31"}
    r = _post(walker, f"/feedback/{item_id}/transfer/decision", "supervisor", decision)
    assert r.status_code == 200 and r.json()["state"] == "upheld", r.text
    held = _item(walker, item_id, "shiling")
    assert held["unit_id"] == units[SHILING] and held["due_on"] == "2022-10-31"
    r = _post(walker, f"/feedback/{item_id}/sign", "shiling", {"expected_version": held["version"]})
    assert r.status_code == 200, r.text

    r = walker.client.get(
        f"/api/v1/feedback/{item_id}/transfers", headers=walker.world.headers["housing"]
    )
    texts = [s["text"] for s in r.json()["steps"]]
    assert texts == [
        "区住建局签收（housing）",
        "区住建局转办至石岭镇，理由：属石岭镇辖区事务，"
        "请于 2022年9月20日（星期二）前签收（housing）",
        "石岭镇退回区住建局，理由：属区住建局职责，等待区政府办裁定（shiling）",
        "区政府办裁定由石岭镇办理，答复期限延至 2022年10月31日（星期一），"
        "裁定意见：属镇级职责（supervisor）",
        "石岭镇签收（shiling）",
    ], texts
    r = walker.client.get("/api/v1/transfers?state=upheld", headers=walker.world.headers["shiling"])
    assert [t["feedback_item_id"] for t in r.json()["items"]] == [item_id]


def test_public_tracking_shows_the_steps_without_names_or_reasons(
    walker: Walker, engine: Engine
) -> None:
    _, item_id = _collected_with_one_opinion(walker, sign=False)
    v = _item(walker, item_id)["version"]
    body = {"to_unit_id": walker.world.units[SHILING], "reason": "内部理由", "expected_version": v}
    assert _post(walker, f"/feedback/{item_id}/transfers", "housing", body).status_code == 201
    with Session(engine) as s:
        code = s.get(FeedbackItem, item_id).receipt_code  # type: ignore[union-attr]
    r = walker.client.get("/public/track", params={"code": code})
    assert r.status_code == 200
    assert "区住建局转办至石岭镇" in r.text
    assert "内部理由" not in r.text and "housing" not in r.text


def test_an_unsigned_opinion_escalates_to_its_holder_once(
    walker: Walker, engine: Engine, clock, scheduler, workers: Workers
) -> None:
    """Collected on the day held; unsigned at the end of the next working day: one 【催办】
    to the unit holding it, linking to the opinion's page; nothing after it is signed."""
    _, item_id = _collected_with_one_opinion(walker, sign=False)
    due = _item(walker, item_id)["sign_due_on"]
    y, m, d = (int(x) for x in due.split("-"))
    clock.set(local(y, m, d, 23))
    tick(scheduler, workers)
    with Session(engine) as s:
        assert not s.exec(select(Notification).where(Notification.rule == "feedback_sign")).all()
    clock.set(local(y, m, d + 1, 0, 0, 1))
    tick(scheduler, workers)
    tick(scheduler, workers)
    with Session(engine) as s:
        sent = s.exec(select(Notification).where(Notification.rule == "feedback_sign")).all()
        boxed = s.exec(
            select(InboxMessage).where(InboxMessage.user_id == walker.world.user_ids["housing"])
        ).all()
        item = s.get(FeedbackItem, item_id)
        assert item is not None and item.state == "received" and item.escalation_level == 0
    assert sent and {n.unit_id for n in sent} == {walker.world.units[HOUSING]}
    assert all("逾期未签收" in n.title for n in sent)
    assert [b.link for b in boxed if "签收" in b.title] == [f"/feedback/{item_id}"]
