"""The campaign report per unit and the assessment: numbers, deductions traced, rules validated."""

from __future__ import annotations

import io

import openpyxl
from openpyxl.utils import get_column_letter

from tests.conftest import HOUSING, SHILING, Walker, error_of, local
from workflows.reporting import reports


def _campaign_story(walker: Walker, clock) -> dict:
    """区住建局: held on time, two opinions (one answered 3 working days late, one never),
    summary on time, sent back once, checked 需整改. 石岭镇: an event never held."""
    event, _ = walker.held_event()
    eid = event["id"]
    r = walker.move(eid, "collect_feedback", data={"items": [{"content": "甲"}, {"content": "乙"}]})
    assert r.status_code == 200, r.text
    assert walker.upload(eid).status_code == 201
    assert walker.move(eid, "submit_summary", data={"text": "总结"}).status_code == 200
    r = walker.move(eid, "return_for_rework", who="supervisor", data={"reasons": ["缺少照片说明"]})
    assert r.status_code == 200, r.text
    assert walker.move(eid, "submit_summary", data={"text": "总结（补充）"}).status_code == 200
    r = walker.move(eid, "spot_check", who="supervisor", data={"result": "needs_improvement"})
    assert r.status_code == 200, r.text
    walker.create_event(who="shiling", unit=SHILING, theme="镇村开放日")
    items = walker.client.get(
        f"/api/v1/events/{eid}/feedback", headers=walker.world.headers["housing"]
    ).json()
    items = items["items"] if isinstance(items, dict) else items
    clock.set(local(2022, 10, 17, 15))
    r = walker.client.post(
        f"/api/v1/feedback/{items[0]['id']}/transitions",
        json={
            "trigger": "answer",
            "expected_version": items[0]["version"],
            "data": {"answer": "好"},
        },
        headers=walker.world.headers["housing"],
    )
    assert r.status_code == 200, r.text
    clock.set(local(2022, 10, 20, 10))
    return {"event_id": eid, "late_item": items[0]["id"], "open_item": items[1]["id"]}


def test_report_per_unit_and_district_totals(walker: Walker, clock) -> None:
    _campaign_story(walker, clock)
    cid = walker.world.campaign_id
    r = walker.client.get(
        f"/api/v1/campaigns/{cid}/report", headers=walker.world.headers["supervisor"]
    )
    assert r.status_code == 200, r.text
    body = r.json()
    rows = {row["unit_name"]: row for row in body["units"]}
    housing, shiling = rows[HOUSING], rows[SHILING]
    assert housing["events"] == 1 and housing["held_on_time"] == 1 and housing["held_late"] == 0
    assert (housing["invitees"], housing["citizen"], housing["npc_deputy"]) == (15, 5, 5)
    assert (housing["citizen_targeted"], housing["citizen_public"]) == (3, 2)
    assert housing["attended"] == 15 and housing["attended_citizens"] == 5
    assert housing["opinions"] == 2 and housing["answered_late"] == 1
    assert housing["workdays_late"] == 3 and housing["open_overdue"] == 1
    assert housing["summaries"] == 1 and housing["summaries_on_time"] == 1
    assert housing["reworks"] == 1 and housing["spot_needs_improvement"] == 1
    assert shiling["not_held_overdue"] == 1 and shiling["held"] == 0
    assert body["totals"]["events"] == 2 and body["totals"]["opinions"] == 2
    mine = walker.client.get(
        f"/api/v1/campaigns/{cid}/report", headers=walker.world.headers["housing"]
    ).json()
    assert [row["unit_name"] for row in mine["units"]] == [HOUSING]

    x = walker.client.get(
        f"/api/v1/campaigns/{cid}/report.xlsx", headers=walker.world.headers["supervisor"]
    )
    assert x.status_code == 200
    ws = openpyxl.load_workbook(io.BytesIO(x.content)).active
    table = [list(row) for row in ws.iter_rows(values_only=True)]
    # Two header rows grouped like the report page: 责任单位 over both, each group's label
    # merged over its columns, the columns' labels below.
    assert table[0][:3] == ["责任单位", "开展", None]
    assert table[1][:5] == [None, "活动数", "已到期", "已取消", "取消不计扣分"]
    merged = {str(r) for r in ws.merged_cells.ranges}
    assert "A1:A2" in merged and "B1:I1" in merged  # 开展: 8 columns
    groups = [(label, len(keys)) for label, keys in reports.COLUMN_GROUPS]
    assert sum(n for _, n in groups) == len(reports.COLUMNS)  # every column in one group
    keys = [k for _, group in reports.COLUMN_GROUPS for k in group]
    assert sorted(keys) == sorted(k for k, _ in reports.COLUMNS)
    column = 2
    for label, n in groups:
        first, last = get_column_letter(column), get_column_letter(column + n - 1)
        assert table[0][column - 1] == label
        assert (f"{first}1:{last}1" in merged) == (n > 1), label
        column += n
    assert table[1][1:] == [dict(reports.COLUMNS)[k] for k in keys]
    assert table[-1][0] == "全区合计" and table[-1][1] == 2
    assert ws.freeze_panes == "B3"


def test_assessment_names_every_deduction_and_follows_rule_changes(walker: Walker, clock) -> None:
    story = _campaign_story(walker, clock)
    cid, h = walker.world.campaign_id, walker.world.headers
    r = walker.client.get(f"/api/v1/campaigns/{cid}/assessment", headers=h["supervisor"])
    assert r.status_code == 200, r.text
    units = {u["unit_name"]: u for u in r.json()["units"]}
    housing = units[HOUSING]
    found = {(d["criterion"], d["event_id"], d["item_id"]) for d in housing["deductions"]}
    assert found == {
        ("late_answer", story["event_id"], story["late_item"]),
        ("unanswered_overdue", story["event_id"], story["open_item"]),
        ("rework", story["event_id"], None),
        ("spot_check_needs_improvement", story["event_id"], None),
    }
    # Issue 25: not holding is the heaviest deduction. The old expectation (石岭镇, which never
    # held, first with 95; 区住建局, which held and answered, second) rewarded not holding.
    assert housing["score"] == 100 - 2 - 3 - 2 - 3 and housing["rank"] == 1
    assert all(d["reason"] and d["source"] for d in housing["deductions"])
    assert units[SHILING]["score"] == 60 and units[SHILING]["rank"] == 2
    assert units[SHILING]["deductions"][0]["criterion"] == "event_not_held"

    r = walker.client.put(
        f"/api/v1/campaigns/{cid}/scoring-rules",
        json={"deductions": {"rework": 0, "late_answer": 10}},
        headers=h["supervisor"],
    )
    assert r.status_code == 200, r.text
    again = walker.client.get(f"/api/v1/campaigns/{cid}/assessment", headers=h["supervisor"])
    # The answers of one event cost at most 6 points (event_caps.answers): the late answer's
    # 10 is capped to 6 and the unanswered one adds nothing more.
    assert {u["unit_name"]: u["score"] for u in again.json()["units"]}[HOUSING] == 100 - 6 - 3

    x = walker.client.get(f"/api/v1/campaigns/{cid}/assessment.xlsx", headers=h["supervisor"])
    wb = openpyxl.load_workbook(io.BytesIO(x.content))
    assert wb.sheetnames == ["考核得分", "扣分明细"]
    ranking = [list(row) for row in wb["考核得分"].iter_rows(values_only=True)]
    assert ranking[0][:3] == ["排名", "责任单位", "满分"]
    assert ranking[1][:2] == [1, HOUSING]
    detail = [list(row) for row in wb["扣分明细"].iter_rows(values_only=True)]
    assert any(row[4] == story["late_item"] and row[2] == 6 for row in detail[1:])
    assert all("15个工作日内办结" in row[6] for row in detail[1:] if row[4] is not None)


def test_scoring_rules_are_validated_in_both_languages(walker: Walker) -> None:
    cid, h = walker.world.campaign_id, walker.world.headers
    url = f"/api/v1/campaigns/{cid}/scoring-rules"
    r = walker.client.put(
        url, json={"deductions": {"rework": -1, "bribery": 5}}, headers=h["supervisor"]
    )
    assert r.status_code == 422
    err = error_of(r)
    assert err["code"] == "scoring_rules_invalid"
    assert "不能为负数" in err["message"] and "未知的考核项" in err["message"]
    assert "non-negative" in err["message_en"] and "unknown criterion" in err["message_en"]
    fields = {p["field"] for p in err["details"]["problems"]}
    assert fields == {"deductions.rework", "deductions.bribery"}
    r = walker.client.put(url, json={"base_points": "lots"}, headers=h["supervisor"])
    assert r.status_code == 422 and error_of(r)["code"] == "scoring_rules_invalid"
    r = walker.client.put(url, json=[1, 2], headers=h["supervisor"])
    assert r.status_code == 422
    r = walker.client.put(url, json={"deductions": {"rework": 1}}, headers=h["housing"])
    assert r.status_code == 403
    assert walker.client.get(url, headers=h["viewer"]).json()["deductions"]["rework"] == 2
    r = walker.client.get("/api/v1/campaigns/999/assessment", headers=h["supervisor"])
    assert r.status_code == 404 and error_of(r)["code"] == "campaign_not_found"
    r = walker.client.get("/api/v1/campaigns/999/report", headers=h["supervisor"])
    assert r.status_code == 404
