"""问责 after a spot check found lacking (issue 25): the rectification notice with its own
working-day due day, the unit's report, the supervisor's closing or send-back; an overdue one
escalates like an overdue answer; on-site visits linked to a round reach the report and the
assessment. Time from the injected clock."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from models import InboxMessage, Notification, Rectification, Timer, TimerState, TransitionLog
from tests.conftest import SHILING, Walker, error_of, local, tiny_jpeg
from workers.scheduler import Scheduler
from workflows.escalation import service as escalation
from workflows.escalation.batch import NotifyConfig
from workflows.event import history


def _box(walker: Walker, who: str) -> list[InboxMessage]:
    with Session(walker.world.engine) as s:
        stmt = select(InboxMessage).where(InboxMessage.user_id == walker.world.user_ids[who])
        return list(s.exec(stmt.order_by(col(InboxMessage.id))).all())


def _checked(walker: Walker, result: str = "unsatisfactory", notes: str = "照片与活动不符") -> Any:
    """区住建局's event held, summary submitted, spot-checked with `result`; its round's id."""
    event, _ = walker.held_event()
    eid = event["id"]
    r = walker.move(eid, "collect_feedback", data={"no_opinions": True})
    assert r.status_code == 200, r.text
    assert walker.upload(eid).status_code == 201
    assert walker.move(eid, "submit_summary", data={"text": "总结"}).status_code == 200
    r = walker.move(eid, "spot_check", who="supervisor", data={"result": result, "notes": notes})
    assert r.status_code == 200, r.text
    checks = walker.client.get(
        "/api/v1/spot-checks", headers=walker.world.headers["supervisor"]
    ).json()["items"]
    return eid, checks[0]["id"]


def _post(walker: Walker, path: str, who: str, body: dict | None = None) -> Any:
    return walker.client.post(f"/api/v1{path}", json=body, headers=walker.world.headers[who])


def _issue(walker: Walker, check_id: int, notice: str | None = None) -> dict:
    r = _post(walker, f"/spot-checks/{check_id}/rectification", "supervisor", {"notice": notice})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def test_notice_report_close(walker: Walker, clock) -> None:
    eid, check_id = _checked(walker)
    rect = _issue(walker, check_id)
    # 2022-09-16 (Friday) + 10 working days, counting from the next day.
    assert rect["state"] == "issued" and rect["notice"] == "照片与活动不符"
    assert rect["due_on"] == "2022-09-30"
    rid = rect["id"]
    r = walker.client.post(
        f"/api/v1/rectifications/{rid}/files",
        files={"file": ("整改照片.jpg", tiny_jpeg(), "image/jpeg")},
        headers=walker.world.headers["housing"],
    )
    assert r.status_code == 201, r.text
    clock.set(local(2022, 9, 20, 10))
    r = _post(walker, f"/rectifications/{rid}/report", "housing", {"report": "已补充现场照片"})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "reported" and r.json()["overdue"] is False
    assert [f["filename"] for f in r.json()["files"]] == ["整改照片.jpg"]
    r = _post(walker, f"/rectifications/{rid}/close", "supervisor")
    assert r.status_code == 200 and r.json()["state"] == "closed"
    again = _post(walker, f"/rectifications/{rid}/close", "supervisor")
    assert again.status_code == 409
    assert error_of(again)["code"] == "rectification_not_reported"
    with Session(walker.world.engine) as s:
        lines = s.exec(
            select(TransitionLog)
            .where(
                TransitionLog.event_id == eid, col(TransitionLog.trigger).like("rectification.%")
            )
            .order_by(col(TransitionLog.id))
        ).all()
        timers = s.exec(select(Timer).where(Timer.subject_type == "rectification")).all()
    assert [line.trigger for line in lines] == [
        "rectification.issue", "rectification.report", "rectification.close",
    ]  # fmt: skip
    said = [history.sentence(line) for line in lines]
    assert "下发整改通知" in said[0] and "2022年9月30日（星期五）" in said[0]
    assert said[1] == "housing报送了整改情况，附材料 1 个。"
    assert "销号" in said[2]
    assert timers and all(t.state == TimerState.cancelled for t in timers)
    # The notice and the decision reach the unit's inbox, the report the supervisors'.
    unit_box = [(m.kind, m.link) for m in _box(walker, "housing")]
    link = f"/events/{eid}/spot-check#rectification-{rid}"
    assert unit_box == [("rect_notice", link), ("rect_decision", link)]
    assert [m.kind for m in _box(walker, "supervisor")] == ["rect_report"]
    assert "2022年9月30日" in _box(walker, "housing")[0].title
    assert _box(walker, "shiling") == []
    # The event's own version and state still end its chain (the audit's check).
    event = walker.get(eid, who="supervisor")
    assert lines[-1].version == event["version"] and lines[-1].to_state == event["state"]


def test_send_back_sets_a_new_due_day(walker: Walker, clock) -> None:
    _, check_id = _checked(walker, "needs_improvement")
    rid = _issue(walker, check_id, "请补充意见反馈情况")["id"]
    r = _post(walker, f"/rectifications/{rid}/report", "housing", {"report": "已补充"})
    assert r.is_success
    clock.set(local(2022, 9, 21, 10))
    r = _post(walker, f"/rectifications/{rid}/send-back", "supervisor", {"reasons": ""})
    assert r.status_code == 422
    r = _post(walker, f"/rectifications/{rid}/send-back", "supervisor", {"reasons": "未附佐证"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["state"], body["round"], body["send_back_reasons"]) == ("issued", 2, "未附佐证")
    # 9-22 … 9-30 (7 working days), the National Day week off, then 10-8 and 10-9 (make-up
    # working days) and 10-10.
    assert body["due_on"] == "2022-10-10"
    assert [line["trigger"] for line in walker.history(body["event_id"])][-1] == (
        "rectification.send_back"
    )
    with Session(walker.world.engine) as s:
        said = [line.sentence for line in history.of_event(s, body["event_id"])]
    assert said[-1] == (
        "supervisor退回了整改情况（第 2 次整改），理由：未附佐证；"
        "请于2022年10月10日（星期一）前重新报送。"
    )


def test_bad_input_is_refused_and_writes_nothing(walker: Walker) -> None:
    _, ok_check = _checked(walker, "satisfactory", "")
    r = _post(walker, f"/spot-checks/{ok_check}/rectification", "supervisor", {})
    assert r.status_code == 409 and error_of(r)["code"] == "rectification_not_needed"
    assert "合格" in error_of(r)["message"]
    r = _post(walker, "/spot-checks/999/rectification", "supervisor", {})
    assert r.status_code == 404
    r = _post(walker, f"/spot-checks/{ok_check}/rectification", "housing", {})
    assert r.status_code == 403
    with Session(walker.world.engine) as s:
        assert s.exec(select(Rectification)).all() == []


def test_only_the_notified_unit_reports(walker: Walker) -> None:
    _, check_id = _checked(walker)
    rid = _issue(walker, check_id)["id"]
    r = _post(walker, f"/rectifications/{rid}/report", "shiling", {"report": "不是我们的"})
    assert r.status_code == 404  # another unit's rectification is not even visible
    r = _post(walker, f"/rectifications/{rid}/report", "supervisor", {"report": "代报"})
    assert r.status_code == 403 and error_of(r)["code"] == "other_unit"
    r = _post(walker, f"/rectifications/{rid}/report", "housing", {"report": ""})
    assert r.status_code == 422 and "整改情况" in error_of(r)["message"]
    again = _post(walker, f"/spot-checks/{check_id}/rectification", "supervisor", {})
    assert again.status_code == 409 and error_of(again)["code"] == "rectification_exists"
    shiling = walker.client.get("/api/v1/rectifications", headers=walker.world.headers["shiling"])
    assert shiling.json()["items"] == []


def _fire_due(walker: Walker, clock) -> list[int]:
    fired: list[int] = []
    Scheduler(walker.world.engine, lambda _a, args: fired.extend(args[0]), clock).run_once()
    return fired


def test_an_overdue_rectification_escalates_and_costs_points(walker: Walker, clock) -> None:
    eid, check_id = _checked(walker)
    rid = _issue(walker, check_id)["id"]
    clock.set(local(2022, 10, 1, 0, 0, 1))  # the due day 9-30 has passed
    fired = _fire_due(walker, clock)
    assert fired
    with Session(walker.world.engine, expire_on_commit=False) as s:
        out = escalation.handle_timers(s, fired, clock.now(), NotifyConfig())
        s.commit()
        rect = s.get(Rectification, rid)
        notes = s.exec(
            select(Notification).where(
                Notification.subject_type == "rectification", Notification.kind == "escalation"
            )
        ).all()
    assert out.count("done") >= 1
    assert rect is not None and rect.escalation_level == 1 and rect.overdue
    assert notes and all(n.rule == "rectification" for n in notes)
    assert "抽查整改逾期未报送" in notes[0].title and "2022年9月30日" in notes[0].body
    # The same escalation reaches the unit's staff in their inbox, linking to the notice.
    escalated = [m for m in _box(walker, "housing") if m.kind == "escalation"]
    assert escalated and escalated[0].link == f"/events/{eid}/spot-check#rectification-{rid}"
    r = walker.client.get(
        f"/api/v1/campaigns/{walker.world.campaign_id}/assessment",
        headers=walker.world.headers["supervisor"],
    )
    housing = next(u for u in r.json()["units"] if u["unit_name"] == "区住建局")
    overdue = [d for d in housing["deductions"] if d["criterion"] == "rectification_overdue"]
    assert len(overdue) == 1 and overdue[0]["source"] == "强化督查，严格问责。"
    assert "至今未报送" in overdue[0]["reason"]
    # Reported late later: still one deduction, now said as reported late.
    r = _post(walker, f"/rectifications/{rid}/report", "housing", {"report": "已整改"})
    assert r.status_code == 200 and r.json()["overdue"] is True
    report = walker.client.get(
        f"/api/v1/campaigns/{walker.world.campaign_id}/report",
        headers=walker.world.headers["supervisor"],
    ).json()
    row = next(u for u in report["units"] if u["unit_name"] == "区住建局")
    assert (row["rectifications"], row["rectifications_overdue"]) == (1, 1)
    assert eid


def test_visits_linked_to_a_round_reach_report_and_assessment(walker: Walker) -> None:
    eid, check_id = _checked(walker, "needs_improvement")
    body = {"visited_on": "2022-09-16", "people": "区政府办 张三", "findings": "现场无公开栏",
            "spot_check_id": check_id, "problem": True}  # fmt: skip
    r = _post(walker, f"/events/{eid}/visits", "supervisor", body)
    assert r.status_code == 201, r.text
    assert (r.json()["spot_check_id"], r.json()["problem"]) == (check_id, True)
    r = _post(walker, f"/events/{eid}/visits", "supervisor", {**body, "spot_check_id": 999})
    assert r.status_code == 422 and error_of(r)["code"] == "visit_round_invalid"
    r = _post(walker, f"/events/{eid}/visits", "supervisor", {**body, "findings": ""})
    assert r.status_code == 422 and error_of(r)["code"] == "visit_problem_without_findings"
    ok = {**body, "problem": False, "findings": "一切正常"}
    assert _post(walker, f"/events/{eid}/visits", "supervisor", ok).status_code == 201
    report = walker.client.get(
        f"/api/v1/campaigns/{walker.world.campaign_id}/report",
        headers=walker.world.headers["supervisor"],
    ).json()
    row = next(u for u in report["units"] if u["unit_name"] == "区住建局")
    assert (row["visits"], row["visit_problems"]) == (2, 1)
    scores = walker.client.get(
        f"/api/v1/campaigns/{walker.world.campaign_id}/assessment",
        headers=walker.world.headers["supervisor"],
    ).json()
    housing = next(u for u in scores["units"] if u["unit_name"] == "区住建局")
    found = [d for d in housing["deductions"] if d["criterion"] == "visit_problem"]
    assert len(found) == 1 and "第 1 轮抽查" in found[0]["reason"]
    assert "现场走访" in found[0]["source"] and found[0]["points"] == 2
    export = walker.client.get(
        "/api/v1/exports/visits.csv", headers=walker.world.headers["supervisor"]
    ).content.decode("utf-8-sig")
    linked = [line for line in export.splitlines() if "现场无公开栏" in line]
    assert len(linked) == 1 and ",是,第 1 轮," in linked[0]
    assert SHILING


def test_the_due_day_follows_the_campaign_rule(walker: Walker) -> None:
    """rectification_workdays is a campaign rule: refused out of range in words, and a notice
    issued after a change counts the new number of working days."""
    path = f"/api/v1/campaigns/{walker.world.campaign_id}"
    h = walker.world.headers["supervisor"]
    bad = walker.client.patch(path, json={"rules": {"rectification_workdays": 0}}, headers=h)
    assert bad.status_code == 422 and "整改时限（工作日）" in error_of(bad)["message"]
    ok = walker.client.patch(path, json={"rules": {"rectification_workdays": 5}}, headers=h)
    assert ok.status_code == 200, ok.text
    _, check_id = _checked(walker)
    assert _issue(walker, check_id)["due_on"] == "2022-09-23"  # 9-16 + 5 working days
