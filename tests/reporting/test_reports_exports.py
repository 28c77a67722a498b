"""Exports: xlsx opened with openpyxl and CSV read back, with the lists' filters and scoping."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import openpyxl
from fastapi.testclient import TestClient

from tests.conftest import HOUSING, SHILING, Walker, error_of, local


def _collected(walker: Walker, opinions: list[str]) -> dict:
    event, _ = walker.held_event()
    r = walker.move(
        event["id"], "collect_feedback", data={"items": [{"content": c} for c in opinions]}
    )
    assert r.status_code == 200, r.text
    return event


def _xlsx(client: TestClient, url: str, headers: dict, **params: object) -> list[list]:
    r = client.get(url, headers=headers, params=params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in r.headers["content-disposition"]
    wb = openpyxl.load_workbook(io.BytesIO(r.content))
    ws = wb.active
    assert ws.freeze_panes == "A2"
    assert ws.column_dimensions["A"].width > 0
    return [list(row) for row in ws.iter_rows(values_only=True)]


def test_overdue_list_as_xlsx_has_chinese_headers_real_dates_and_staff_scope(
    walker: Walker, clock
) -> None:
    event = _collected(walker, ["建议公开改造资金明细", "希望延长社区食堂营业时间"])
    walker.create_event(who="shiling", unit=SHILING, theme="镇村开放日")
    clock.set(local(2022, 10, 20, 10))
    h = walker.world.headers
    rows = _xlsx(walker.client, "/api/v1/exports/overdue.xlsx", h["supervisor"])
    assert rows[0][:6] == ["责任单位", "事项", "活动编号", "意见编号", "活动主题", "应于"]
    body = rows[1:]
    assert {r[0] for r in body} == {HOUSING, SHILING}
    answers = [r for r in body if r[1] == "意见答复"]
    assert len(answers) == 2 and all(r[2] == event["id"] for r in answers)
    # The answer deadline is a real date cell: 15 working days after 2022-09-16.
    assert answers[0][5] == datetime(2022, 10, 12)
    assert rows[0][7:9] == ["逾期工作日", "逾期自然日"]  # both counts, labelled (issue 24)
    assert answers[0][6] == "已逾期" and (answers[0][7], answers[0][8]) == (6, 8)
    hold = next(r for r in body if r[1] == "活动开展")
    assert hold[0] == SHILING and hold[5] == datetime(2022, 9, 16)

    mine = _xlsx(walker.client, "/api/v1/exports/overdue.xlsx", h["housing"])
    assert {r[0] for r in mine[1:]} == {HOUSING}
    other = _xlsx(
        walker.client,
        "/api/v1/exports/overdue.xlsx",
        h["housing"],
        unit_id=walker.world.units[SHILING],
    )
    assert other[1:] == []


def test_opinions_export_shows_answers_and_lateness_csv_with_bom(walker: Walker, clock) -> None:
    event = _collected(walker, ["意见甲", "意见乙"])
    items = walker.client.get(
        f"/api/v1/events/{event['id']}/feedback",
        headers=walker.world.headers["housing"],
    ).json()
    items = items["items"] if isinstance(items, dict) else items
    first = items[0]
    clock.set(local(2022, 10, 17, 15))
    r = walker.client.post(
        f"/api/v1/feedback/{first['id']}/transitions",
        json={
            "trigger": "answer",
            "expected_version": first["version"],
            "data": {"answer": "已公开"},
        },
        headers=walker.world.headers["housing"],
    )
    assert r.status_code == 200, r.text
    r = walker.client.get(
        "/api/v1/exports/opinions.csv", headers=walker.world.headers["supervisor"]
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    head = table[0]
    assert head[0] == "意见编号" and "答复内容" in head and "超期工作日" in head
    by_id = {int(row[0]): dict(zip(head, row, strict=True)) for row in table[1:]}
    answered = by_id[first["id"]]
    assert answered["答复内容"] == "已公开"
    assert answered["是否按时"] == "逾期答复" and answered["超期工作日"] == "3"
    assert answered["答复期限"] == "2022-10-12"
    other = next(v for k, v in by_id.items() if k != first["id"])
    assert other["是否按时"] == "逾期未答复" and other["答复内容"] == ""


def test_events_notifications_and_spot_checks_export(walker: Walker) -> None:
    e1 = walker.create_event()
    walker.create_event(who="shiling", unit=SHILING, theme="镇村开放日")
    h = walker.world.headers
    rows = _xlsx(walker.client, "/api/v1/exports/events.xlsx", h["supervisor"])
    assert rows[0][:4] == ["活动编号", "责任单位", "活动主题", "开始日期"]
    assert len(rows) == 3
    first = next(r for r in rows[1:] if r[0] == e1["id"])
    assert first[1] == HOUSING and first[3] == datetime(2022, 9, 16) and first[8] == "计划中"
    planned = _xlsx(walker.client, "/api/v1/exports/events.xlsx", h["housing"], state=["planned"])
    assert [r[1] for r in planned[1:]] == [HOUSING]
    notes = _xlsx(walker.client, "/api/v1/exports/notifications.xlsx", h["supervisor"])
    assert notes[0][0] == "通知编号"
    checks = _xlsx(walker.client, "/api/v1/exports/spot-checks.xlsx", h["supervisor"])
    assert checks[0][:3] == ["抽查编号", "活动编号", "责任单位"] and len(checks) == 1


def test_unknown_export_or_campaign_is_404_with_a_code(walker: Walker) -> None:
    h = walker.world.headers["supervisor"]
    r = walker.client.get("/api/v1/exports/payroll.xlsx", headers=h)
    assert r.status_code == 404 and error_of(r)["code"] == "export_not_found"
    r = walker.client.get("/api/v1/exports/events.pdf", headers=h)
    assert r.status_code == 404 and error_of(r)["code"] == "export_not_found"
    r = walker.client.get("/api/v1/exports/events.csv", headers=h, params={"campaign_id": 999})
    assert r.status_code == 404 and error_of(r)["code"] == "campaign_not_found"
    r = walker.client.get("/api/v1/exports/events.csv")
    assert r.status_code == 401


def test_local_times_in_sheets_are_shanghai_wall_clock() -> None:
    from workflows.reporting.exports import local as to_local

    assert to_local(datetime(2022, 9, 16, 2, 0, tzinfo=UTC)) == datetime(2022, 9, 16, 10, 0)
