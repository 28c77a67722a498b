"""Submission history (issue 25): every summary submission is kept with its round, time, deadline
and lateness; the summary is late by its first submission against the original due day, and a
spot-check round found lacking stays in the report, the assessment and the .docx after a
satisfactory later round."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import docx

from models import TransitionLog
from tests.conftest import HOUSING, Walker, World, local
from tests.pages.test_reports_pages import _supervisor
from workflows.event.submissions import _walk


def _late_then_reworked(walker: Walker, clock) -> int:
    """Held 9-16 (summary due 9-19); sent 9-26, a week late; found unsatisfactory and returned
    on 9-27 with 10-10 as the new deadline; sent again 9-28, in time; then satisfactory."""
    event, _ = walker.held_event()
    eid = event["id"]
    assert walker.move(eid, "collect_feedback", data={"no_opinions": True}).status_code == 200
    assert walker.upload(eid).status_code == 201
    clock.set(local(2022, 9, 26, 10))
    assert walker.move(eid, "submit_summary", data={"text": "总结"}).status_code == 200
    clock.set(local(2022, 9, 27, 10))
    r = walker.move(eid, "spot_check", who="supervisor", data={"result": "unsatisfactory"})
    assert r.status_code == 200, r.text
    r = walker.move(
        eid,
        "return_for_rework",
        who="supervisor",
        data={"reasons": ["缺少现场照片说明"], "due_on": "2022-10-10"},
    )
    assert r.status_code == 200, r.text
    clock.set(local(2022, 9, 28, 10))
    assert walker.move(eid, "submit_summary", data={"text": "总结（补充）"}).status_code == 200
    r = walker.move(eid, "spot_check", who="supervisor", data={"result": "satisfactory"})
    assert r.status_code == 200, r.text
    clock.set(local(2022, 10, 20, 10))
    return eid


def test_every_submission_is_kept_and_the_first_decides(walker: Walker, clock) -> None:
    eid = _late_then_reworked(walker, clock)
    h = walker.world.headers["supervisor"]
    summary = walker.client.get(f"/api/v1/events/{eid}/summary", headers=h).json()
    first, second = summary["submissions"]
    assert (first["round"], first["due_on"], first["late"]) == (1, "2022-09-19", True)
    assert first["late_hours"] == 24 * 6 + 10  # 9-20 00:00 → 9-26 10:00
    assert (second["round"], second["due_on"], second["late"]) == (2, "2022-10-10", False)

    evidence = walker.client.get(f"/api/v1/events/{eid}/evidence", headers=h).json()["summary"]
    assert evidence["late_hours"] == 154 and len(evidence["submissions"]) == 2
    assert "截止 2022年9月19日（星期一）当天，逾期 154.0 小时" in evidence["text"]
    assert (
        "第 2 轮（退回整改后）报送于 2022年9月28日（星期三）10:00，"
        "整改期限 2022年10月10日（星期一）当天，按时" in (evidence["text"])
    )


def test_the_report_the_assessment_and_the_docx_keep_every_round(
    walker: Walker, world: World, clock
) -> None:
    eid = _late_then_reworked(walker, clock)
    cid, h = world.campaign_id, world.headers["supervisor"]
    row = {
        r["unit_name"]: r
        for r in walker.client.get(f"/api/v1/campaigns/{cid}/report", headers=h).json()["units"]
    }[HOUSING]
    assert (row["summaries_late"], row["summaries_on_time"], row["reworks"]) == (1, 0, 1)
    assert (row["spot_unsatisfactory"], row["spot_satisfactory"]) == (1, 1)
    scores = walker.client.get(f"/api/v1/campaigns/{cid}/assessment", headers=h).json()
    housing = next(u for u in scores["units"] if u["unit_name"] == HOUSING)
    assert sorted(d["criterion"] for d in housing["deductions"]) == [
        "late_summary",
        "rework",
        "spot_check_unsatisfactory",
    ]
    r = walker.client.get(f"/api/v1/campaigns/{cid}/summary.docx", headers=h)
    text = "\n".join(
        cell.text
        for table in docx.Document(io.BytesIO(r.content)).tables
        for row_ in table.rows
        for cell in row_.cells
    )
    assert "逾期 154.0 小时" in text and "按时；" not in text
    body = "\n".join(p.text for p in docx.Document(io.BytesIO(r.content)).paragraphs)
    assert "抽查合格 1 轮、需整改 0 轮、不合格 1 轮" in body
    _supervisor(walker, world)
    page = walker.client.get(f"/events/{eid}/summary")
    assert "报送记录" in page.text and "第 2 次报送" in page.text and "逾期 154.0 小时" in page.text


def test_older_lines_take_the_deadline_the_hold_or_the_rework_set() -> None:
    """Submissions logged before the lines carried their deadline read it from the hold's and
    the rework's lines before them."""
    at = datetime(2022, 9, 26, 2, tzinfo=UTC)

    def line(n: int, trigger: str, data: dict) -> TransitionLog:
        return TransitionLog(
            id=n, event_id=1, trigger=trigger, to_state="x", version=n, actor_name="t", at=at,
            data=data,
        )  # fmt: skip

    subs = _walk(
        [
            line(1, "hold", {"summary_due_on": "2022-09-19"}),
            line(2, "submit_summary", {"late_seconds": 3600}),
            line(3, "return_for_rework", {"summary_due_on": "2022-10-10"}),
            line(4, "submit_summary", {}),
        ]
    )
    assert [(s.round, s.due_on, s.late) for s in subs] == [
        (1, date(2022, 9, 19), True),
        (2, date(2022, 10, 10), False),
    ]
    assert subs[0].due_at == datetime(2022, 9, 19, 16, tzinfo=UTC)  # local midnight after
