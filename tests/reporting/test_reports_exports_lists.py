"""Invitee, on-site visit and audit exports: xlsx read back with openpyxl, CSV with the csv
module, scoped like the lists (staff: their own unit)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import openpyxl
from sqlmodel import Session, func, select

from models import ChangeLog, TransitionLog
from tests.conftest import HOUSING, SHILING, Walker, World, local, tiny_jpeg
from tests.pages.test_reports_pages import _supervisor
from tests.reporting.test_reports_exports import _xlsx
from workflows.reporting import exports


def _csv(walker: Walker, url: str, who: str, **params: object) -> list[dict[str, str]]:
    r = walker.client.get(url, headers=walker.world.headers[who], params=params)
    assert r.status_code == 200, r.text
    assert r.content.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    return [dict(zip(table[0], row, strict=True)) for row in table[1:]]


def test_invitees_export_names_kind_mode_and_attendance(walker: Walker) -> None:
    event, invitees = walker.held_event()
    walker.create_event(who="shiling", unit=SHILING, theme="镇村开放日")
    h = walker.world.headers
    rows = _xlsx(walker.client, "/api/v1/exports/invitees.xlsx", h["supervisor"])
    head = rows[0]
    assert head[:6] == ["人员编号", "活动编号", "责任单位", "活动主题", "姓名", "类别"]
    body = [dict(zip(head, r, strict=True)) for r in rows[1:]]
    assert len(body) == len(invitees) == 15
    assert {r["活动编号"] for r in body} == {event["id"]}
    kinds = {r["类别"] for r in body}
    assert kinds == {"人大代表", "政协委员", "市民代表"}
    citizens = [r for r in body if r["类别"] == "市民代表"]
    assert sorted(r["邀请方式"] for r in citizens) == ["公开邀请"] * 2 + ["定向邀请"] * 3
    assert all(r["出席情况"] == "出席" for r in body)
    assert isinstance(body[0]["添加时间"], datetime)
    # Staff of another unit get only their own unit's rows, whatever they ask for.
    assert _csv(walker, "/api/v1/exports/invitees.csv", "shiling") == []
    other = _csv(walker, "/api/v1/exports/invitees.csv", "shiling", event_id=event["id"])
    assert other == []
    mine = _csv(walker, "/api/v1/exports/invitees.csv", "housing", event_id=event["id"])
    assert len(mine) == 15 and mine[0]["责任单位"] == HOUSING


def test_visits_export_counts_photos_and_is_scoped(walker: Walker, clock) -> None:
    event, _ = walker.held_event()
    clock.set(local(2022, 9, 20, 10))
    h = walker.world.headers
    r = walker.client.post(
        f"/api/v1/events/{event['id']}/visits",
        json={"visited_on": "2022-09-19", "people": "区政府办 张三", "findings": "现场整洁"},
        headers=h["supervisor"],
    )
    assert r.status_code == 201, r.text
    visit_id = r.json()["id"]
    for name in ("a.jpg", "b.jpg"):
        p = walker.client.post(
            f"/api/v1/visits/{visit_id}/photos",
            files={"file": (name, tiny_jpeg(), "image/jpeg")},
            headers=h["supervisor"],
        )
        assert p.status_code == 201, p.text
    rows = _xlsx(walker.client, "/api/v1/exports/visits.xlsx", h["supervisor"])
    assert rows[0][:5] == ["走访编号", "活动编号", "责任单位", "活动主题", "走访日期"]
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["走访编号"] == visit_id and row["走访日期"] == datetime(2022, 9, 19)
    assert row["走访人员"] == "区政府办 张三" and row["照片数"] == 2
    assert (row["发现问题"], row["关联抽查"]) == ("否", None)  # an empty cell
    assert _csv(walker, "/api/v1/exports/visits.csv", "shiling") == []
    assert [r["走访发现"] for r in _csv(walker, "/api/v1/exports/visits.csv", "housing")] == [
        "现场整洁"
    ]
    late = _csv(walker, "/api/v1/exports/visits.csv", "supervisor", date_from="2022-09-20")
    assert late == []


def test_audit_export_merges_moves_and_changes_in_time_order(walker: Walker, clock) -> None:
    clock.set(local(2022, 8, 31, 9))
    event = walker.create_event()
    clock.set(local(2022, 9, 1, 9))
    h = walker.world.headers
    r = walker.client.patch(
        f"/api/v1/units/{walker.world.units[SHILING]}",
        json={"contact_name": "王五"},
        headers=h["supervisor"],
    )
    assert r.status_code == 200, r.text
    clock.set(local(2022, 9, 2, 9))
    shiling_event = walker.create_event(who="shiling", unit=SHILING, theme="镇村开放日")
    rows = _xlsx(walker.client, "/api/v1/exports/audit.xlsx", h["supervisor"])
    head = rows[0]
    assert head[:5] == ["时间", "来源", "操作人", "对象", "对象编号"]
    body = [dict(zip(head, r, strict=True)) for r in rows[1:]]
    times = [r["时间"] for r in body]
    assert times == sorted(times) and all(isinstance(t, datetime) for t in times)
    sources = [(r["来源"], r["对象"], r["对象编号"]) for r in body]
    assert ("活动流转", "活动", event["id"]) in sources
    assert ("变更记录", "单位", walker.world.units[SHILING]) in sources
    change = next(r for r in body if r["来源"] == "变更记录")
    assert "王五" in change["变更后"] and change["责任单位"] == SHILING
    # The unit change (09-01) sits between the two events' creation lines.
    order = [s for s in sources if s[0] == "变更记录" or s[2] in (event["id"], shiling_event["id"])]
    assert [s[2] for s in order] == [event["id"], walker.world.units[SHILING], shiling_event["id"]]

    mine = _csv(walker, "/api/v1/exports/audit.csv", "housing")
    assert mine and {r["责任单位"] for r in mine} == {HOUSING}
    theirs = _csv(walker, "/api/v1/exports/audit.csv", "shiling")
    assert {r["来源"] for r in theirs} == {"活动流转", "变更记录"}
    day = _csv(walker, "/api/v1/exports/audit.csv", "supervisor", date_from="2022-09-02",
               date_to="2022-09-02")  # fmt: skip
    assert [r["对象编号"] for r in day] == [str(shiling_event["id"])]
    one = _csv(walker, "/api/v1/exports/audit.csv", "supervisor", event_id=event["id"])
    assert {r["对象编号"] for r in one} == {str(event["id"])}
    assert date.fromisoformat(one[0]["时间"][:10]) <= date(2022, 9, 1)


def test_board_links_download_invitees_visits_and_audit(walker: Walker, world: World) -> None:
    event, _ = walker.held_event()
    _supervisor(walker, world)
    board = walker.client.get("/board").text
    for kind in ("invitees", "visits", "audit"):
        assert f"/board/exports/{kind}.xlsx" in board
        r = walker.client.get(f"/board/exports/{kind}.csv?campaign={world.campaign_id}")
        assert r.status_code == 200 and r.content.startswith(b"\xef\xbb\xbf"), kind
    r = walker.client.get(f"/board/exports/invitees.xlsx?campaign={world.campaign_id}")
    rows = list(openpyxl.load_workbook(io.BytesIO(r.content)).active.iter_rows(values_only=True))
    assert rows[0][0] == "人员编号" and len(rows) == 16 and rows[1][1] == event["id"]


def test_keyset_pages_of_two_rows_give_the_same_lists(walker: Walker, clock, monkeypatch) -> None:
    """Small pages cross page boundaries (the (time, id) keyset of the audit included)."""
    for n in range(3):
        clock.set(local(2022, 8, 30 + n % 2, 9))  # equal times across pages, ids break ties
        walker.create_event(theme=f"活动{n}")
    clock.set(local(2022, 9, 16, 10))
    walker.held_event()
    now = clock.now()

    def lists() -> dict[str, list[tuple]]:
        with Session(walker.world.engine) as session:
            return {
                kind: list(exports.sheet(session, kind, exports.Filters(), now).rows)
                for kind in ("audit", "invitees", "events", "visits")
            }

    whole = lists()
    monkeypatch.setattr(exports.keyset, "__defaults__", (2,))
    monkeypatch.setattr(exports.keyset_by_time, "__defaults__", (2,))
    paged = lists()
    assert paged == whole
    assert len(whole["audit"]) > 6 and len(whole["invitees"]) == 15 and len(whole["events"]) == 4
    with Session(walker.world.engine) as session:
        lines = session.exec(select(func.count()).select_from(TransitionLog)).one()
        lines += session.exec(select(func.count()).select_from(ChangeLog)).one()
    assert len(whole["audit"]) == lines  # every line once, none lost at a page boundary
    assert [r[0] for r in whole["audit"]] == sorted(r[0] for r in whole["audit"])
