"""Cancellation is a request (issue 25): unit staff ask with a reason, the event stays where it
is while the request waits, a supervisor approves (the event is cancelled, both people and
reasons audited) or refuses with a reason the clerk sees; an approval may mark the
cancellation 不计扣分, with its reason, then or later."""

from __future__ import annotations

from typing import Any

from sqlmodel import func, select

from models import CancellationRequest, Event, Timer, TransitionLog
from tests.conftest import Walker, error_of
from workflows.event import history

API = "/api/v1"


def _ask(
    walker: Walker, event_id: int, reason: str = "场地改造无法使用", who: str = "housing"
) -> Any:
    return walker.client.post(
        f"{API}/events/{event_id}/cancellation-requests",
        json={"reason": reason},
        headers=walker.world.headers[who],
    )


def _decide(walker: Walker, request_id: int, who: str = "supervisor", **body: Any) -> Any:
    return walker.client.post(
        f"{API}/cancellation-requests/{request_id}/decision",
        json=body,
        headers=walker.world.headers[who],
    )


def _sentences(walker: Walker, event_id: int) -> list[str]:
    with walker.world.session() as s:
        return [line.sentence for line in history.of_event(s, event_id)]


def _rows(walker: Walker) -> tuple[int, int, int]:
    """Requests, audit lines and the events' versions summed: what a refusal must not change."""
    with walker.world.session() as s:
        return (
            s.exec(select(func.count()).select_from(CancellationRequest)).one(),
            s.exec(select(func.count()).select_from(TransitionLog)).one(),
            sum(e.version for e in s.exec(select(Event)).all()),
        )


def test_staff_ask_the_event_waits_and_a_supervisor_approves(walker: Walker) -> None:
    """The request leaves the event planned; approval cancels it, names both people and
    reasons in the history, and drops its timers."""
    event, _ = walker.invited_event()
    version = walker.get(event["id"])["version"]
    r = _ask(walker, event["id"])
    assert r.status_code == 201, r.text
    asked = r.json()
    assert asked["state"] == "pending" and asked["requested_by_name"] == "housing"
    still = walker.get(event["id"])
    assert still["state"] == "invited" and still["version"] == version  # nothing changed yet
    assert "cancel" not in still["allowed_triggers"]  # staff ask; they do not cancel
    refused = walker.move(event["id"], "cancel", reason="我自己取消可以吗")
    assert refused.status_code == 403
    assert error_of(refused)["code"] == "cancel_requires_supervisor"

    r = _decide(walker, asked["id"], approve=True, note="同意，情况属实")
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["state"] == "approved" and done["decided_by_name"] == "supervisor"
    assert done["exempt"] is False and done["direct"] is False
    assert walker.get(event["id"])["state"] == "cancelled"
    said = _sentences(walker, event["id"])
    assert "housing申请取消活动，待区政府办审批。理由：场地改造无法使用。" in said
    assert (
        "supervisor批准了housing的取消申请（申请理由：场地改造无法使用），活动已取消；"
        "审批意见：同意，情况属实。"
    ) in said
    with walker.world.session() as s:
        timers = s.exec(select(Timer).where(Timer.subject_id == event["id"])).all()
        assert timers and all(t.state == "cancelled" for t in timers if t.subject_type == "event")


def test_a_refusal_says_why_and_the_event_goes_on(walker: Walker) -> None:
    """Refusing needs a reason; the clerk reads it; a new request may follow."""
    event = walker.create_event()
    asked = _ask(walker, event["id"]).json()
    before = _rows(walker)
    r = _decide(walker, asked["id"], approve=False)
    assert r.status_code == 422
    err = error_of(r)
    assert err["code"] == "note_required" and "不予批准的理由" in err["message"]
    assert _rows(walker) == before
    r = _decide(walker, asked["id"], approve=False, note="活动须按计划开展，请改期")
    assert r.status_code == 200 and r.json()["state"] == "refused"
    assert walker.get(event["id"])["state"] == "planned"
    mine = walker.client.get(
        f"{API}/cancellation-requests",
        params={"event_id": event["id"]},
        headers=walker.world.headers["housing"],
    ).json()
    assert [(x["state"], x["decision_note"]) for x in mine["items"]] == [
        ("refused", "活动须按计划开展，请改期")
    ]
    said = _sentences(walker, event["id"])
    assert (
        "supervisor不予批准housing的取消申请，活动照常进行。理由：活动须按计划开展，请改期。"
        in said
    )
    assert _ask(walker, event["id"], "场地仍然无法使用").status_code == 201


def test_bad_requests_and_decisions_write_nothing(walker: Walker) -> None:
    """No reason or a too short one (422 naming 原因), a held event, a second pending request,
    deciding twice, staff deciding, another unit's event, a viewer: each refused, nothing
    written."""
    event = walker.create_event()
    held, _ = walker.held_event()
    before = _rows(walker)
    for body in ({}, {"reason": ""}, {"reason": "取消"}):
        r = walker.client.post(
            f"{API}/events/{event['id']}/cancellation-requests",
            json=body,
            headers=walker.world.headers["housing"],
        )
        assert r.status_code == 422, body
        err = error_of(r)
        assert err["code"] == "validation_error" and "原因" in err["message"]
        assert "reason" in err["message_en"]
    r = _ask(walker, held["id"])
    assert r.status_code == 409 and error_of(r)["code"] == "cancellation_not_open"
    assert "已开展" in error_of(r)["message"]
    assert _ask(walker, event["id"], who="shiling").status_code == 404
    r = _ask(walker, event["id"], who="viewer")
    assert r.status_code == 403 and error_of(r)["code"] == "read_only"
    assert _rows(walker) == before

    asked = _ask(walker, event["id"]).json()
    r = _ask(walker, event["id"], "又一次申请取消")
    assert r.status_code == 409 and error_of(r)["code"] == "cancellation_pending"
    r = _decide(walker, asked["id"], who="housing", approve=True)
    assert r.status_code == 403 and error_of(r)["code"] == "supervisor_required"
    assert _decide(walker, asked["id"], approve=True).status_code == 200
    before = _rows(walker)
    r = _decide(walker, asked["id"], approve=False, note="改主意了不行吗")
    assert r.status_code == 409 and error_of(r)["code"] == "cancellation_decided"
    assert _decide(walker, 9999, approve=True).status_code == 404
    assert _rows(walker) == before


def test_exempt_needs_a_reason_and_can_be_taken_back(walker: Walker) -> None:
    """不计扣分 when approving needs its reason (422 naming 不计扣分理由); later the mark can be
    taken back, with a reason, audited."""
    event = walker.create_event()
    asked = _ask(walker, event["id"], "上级统一部署停止活动").json()
    before = _rows(walker)
    r = _decide(walker, asked["id"], approve=True, exempt=True)
    assert r.status_code == 422 and error_of(r)["code"] == "exempt_reason_required"
    assert "不计扣分理由" in error_of(r)["message"]
    assert _rows(walker) == before
    r = _decide(walker, asked["id"], approve=True, exempt=True, exempt_reason="疫情防控要求停办")
    assert r.status_code == 200 and r.json()["exempt"] is True
    assert r.json()["exempt_reason"] == "疫情防控要求停办"
    said = _sentences(walker, event["id"])
    assert any("经批准不计扣分，理由：疫情防控要求停办" in line for line in said)

    url = f"{API}/cancellation-requests/{asked['id']}/exemption"
    h = walker.world.headers
    r = walker.client.post(
        url, json={"exempt": False, "reason": "核实后仍应扣分"}, headers=h["housing"]
    )
    assert r.status_code == 403
    r = walker.client.post(
        url, json={"exempt": False, "reason": "核实后仍应扣分"}, headers=h["supervisor"]
    )
    assert r.status_code == 200 and r.json()["exempt"] is False
    r = walker.client.post(
        url, json={"exempt": False, "reason": "核实后仍应扣分"}, headers=h["supervisor"]
    )
    assert r.status_code == 409 and error_of(r)["code"] == "cancellation_exempt_unchanged"
    said = _sentences(walker, event["id"])
    assert "supervisor撤销了取消的不计扣分标记，按未开展计扣分。理由：核实后仍应扣分。" in said


def test_a_supervisor_cancels_directly_and_it_is_recorded(walker: Walker) -> None:
    """The cancel move (supervisors) records a direct cancellation with its reason, optionally
    exempt; it settles a request that was waiting; the version goes up by one."""
    event = walker.create_event()
    version = walker.get(event["id"])["version"]
    r = walker.move(
        event["id"],
        "cancel",
        who="supervisor",
        reason="区政府办统一调整",
        data={"exempt": True, "exempt_reason": "区里统一调整安排"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["event"]["version"] == version + 1
    rows = walker.client.get(
        f"{API}/cancellation-requests", headers=walker.world.headers["supervisor"]
    ).json()["items"]
    assert [(x["direct"], x["state"], x["reason"], x["exempt"]) for x in rows] == [
        (True, "approved", "区政府办统一调整", True)
    ]
    r = walker.move(
        walker.create_event()["id"],
        "cancel",
        who="supervisor",
        reason="调整",
        data={"exempt": True},
    )
    assert r.status_code == 422  # exempt without its reason

    other = walker.create_event()
    asked = _ask(walker, other["id"]).json()
    assert (
        walker.move(other["id"], "cancel", who="supervisor", reason="场地改造无法使用").status_code
        == 200
    )
    settled = walker.client.get(
        f"{API}/cancellation-requests/{asked['id']}", headers=walker.world.headers["housing"]
    ).json()
    assert settled["state"] == "approved" and settled["direct"] is False


def test_the_upgrade_records_every_earlier_cancellation_from_its_audit_line(
    walker: Walker, engine: Any
) -> None:
    """Events cancelled before revision 0028 get an approved, direct, counted cancellation with
    the reason, who and when of their `cancel` line."""
    import importlib.util

    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    from settings import PROJECT_DIR

    event = walker.create_event()
    assert (
        walker.move(event["id"], "cancel", who="supervisor", reason="场地改造中").status_code == 200
    )
    with walker.world.session() as s:  # as before 0028: the move left no request row
        for row in s.exec(select(CancellationRequest)).all():
            s.delete(row)
        s.commit()
    path = PROJECT_DIR / "migrations" / "versions" / "0028_cancellation_requests.py"
    spec = importlib.util.spec_from_file_location("m0028", path)
    assert spec and spec.loader
    m0028 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m0028)
    with engine.begin() as conn, Operations.context(MigrationContext.configure(conn)):
        m0028._backfill()
    with walker.world.session() as s:
        rows = s.exec(select(CancellationRequest)).all()
    assert [
        (r.event_id, r.reason, r.state, r.direct, r.exempt, r.requested_by_name) for r in rows
    ] == [(event["id"], "场地改造中", "approved", True, False, "supervisor")]


def test_the_request_and_each_decision_reach_the_inbox(walker: Walker) -> None:
    """The supervisors hear of a request in their inbox; the unit's staff hear of a refusal
    (with its reason) and of an approval (with how it counts)."""
    from models import InboxMessage

    def box(who: str) -> list[tuple[str, str]]:
        with walker.world.session() as s:
            rows = s.exec(
                select(InboxMessage)
                .where(InboxMessage.user_id == walker.world.user_ids[who])
                .order_by(InboxMessage.id)  # type: ignore[arg-type]
            ).all()
            return [(m.kind, m.title + "\n" + m.body) for m in rows]

    event = walker.create_event()
    first = _ask(walker, event["id"]).json()
    assert [k for k, _ in box("supervisor")] == ["cancel_request"]
    assert "场地改造无法使用" in box("supervisor")[0][1]
    assert box("shiling") == []  # another unit's staff hear nothing
    _decide(walker, first["id"], approve=False, note="请按计划开展活动")
    second = _ask(walker, event["id"], "场地仍然无法使用").json()
    _decide(walker, second["id"], approve=True, exempt=True, exempt_reason="上级统一停办活动")
    said = box("housing")
    assert [k for k, _ in said] == ["cancel_decision", "cancel_decision"]
    assert "未批准" in said[0][1] and "请按计划开展活动" in said[0][1]
    assert "已批准" in said[1][1] and "不计扣分（上级统一停办活动）" in said[1][1]


def test_the_events_export_says_why_and_how_a_cancellation_counts(walker: Walker) -> None:
    """The events list (CSV) gives an approved cancellation's reason and whether it counts."""
    import csv
    import io

    counted, exempt, goes_on = walker.create_event(), walker.create_event(), walker.create_event()
    _decide(walker, _ask(walker, counted["id"]).json()["id"], approve=True)
    asked = _ask(walker, exempt["id"], "上级通知统一停办").json()
    _decide(walker, asked["id"], approve=True, exempt=True, exempt_reason="疫情防控要求停办")
    _decide(walker, _ask(walker, goes_on["id"]).json()["id"], approve=False, note="请按计划开展")
    r = walker.client.get(f"{API}/exports/events.csv", headers=walker.world.headers["supervisor"])
    assert r.status_code == 200, r.text
    rows = {row["活动编号"]: row for row in csv.DictReader(io.StringIO(r.text.lstrip("\ufeff")))}
    assert (rows[str(counted["id"])]["取消理由"], rows[str(counted["id"])]["取消的考核认定"]) == (
        "场地改造无法使用",
        "按未开展计扣分",
    )
    assert rows[str(exempt["id"])]["取消的考核认定"] == "不计扣分（疫情防控要求停办）"
    assert rows[str(goes_on["id"])]["取消理由"] == "" and len(rows) == 3
