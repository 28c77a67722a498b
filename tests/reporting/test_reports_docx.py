"""The district summary draft (总结报告): generated .docx opened again with python-docx —
headings, table cells and the two embedded chart images."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import docx
from sqlmodel import select

from models import Event, Rectification, SiteVisit, SpotCheck
from tests.conftest import HOUSING, SHILING, Walker, World, error_of
from tests.pages.test_reports_pages import _supervisor
from tests.reporting.test_reports_assessment import _campaign_story
from workflows.reporting import summary_docx

PNG = b"\x89PNG\r\n\x1a\n"


def _open(content: bytes) -> docx.document.Document:
    return docx.Document(io.BytesIO(content))


def _cells(table: docx.table.Table) -> list[list[str]]:
    return [[c.text for c in row.cells] for row in table.rows]


def test_summary_docx_has_headings_tables_and_two_charts(walker: Walker, clock) -> None:
    story = _campaign_story(walker, clock)
    cid, h = walker.world.campaign_id, walker.world.headers
    r = walker.client.get(f"/api/v1/campaigns/{cid}/summary.docx", headers=h["supervisor"])
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument")
    assert "attachment" in r.headers["content-disposition"]
    doc = _open(r.content)

    headings = [p.text for p in doc.paragraphs if p.style.name.startswith(("Heading", "Title"))]
    assert headings[0] == "关于开展“政府开放日”活动的通知总结报告（草稿）"
    assert headings[1:] == [
        "一、总体情况", "二、各单位开展情况", "三、逾期情况", "已取消的活动", "补录的答复",
        "四、考核排名", "五、图文资料核验", "六、现场走访与整改", "整改情况", "现场走访发现的问题",
        "七、下一步工作",
    ]  # fmt: skip
    intro = next(p.text for p in doc.paragraphs if p.text.startswith("截至"))
    assert "全区 2 个责任单位" in intro and "活动 2 场" in intro and "逾期未答复 1 条" in intro

    units, late, ranking = (_cells(t) for t in doc.tables[:3])
    assert units[0][:3] == ["责任单位", "活动数", "已开展"]
    by_unit = {row[0]: row for row in units[1:]}
    assert by_unit[HOUSING][1:3] == ["1", "1"] and by_unit[SHILING][1:3] == ["1", "0"]
    assert units[-1][0] == "全区合计" and units[-1][1] == "2"
    assert late[0] == ["责任单位", "事项", "活动编号", "意见编号", "情况"]
    assert [SHILING, "活动未开展"] in [row[:2] for row in late]
    assert [HOUSING, "意见逾期未答复", str(story["event_id"]), str(story["open_item"])] in [
        row[:4] for row in late
    ]
    assert [HOUSING, "意见逾期答复", str(story["event_id"]), str(story["late_item"])] in [
        row[:4] for row in late
    ]
    assert ranking[0][:3] == ["排名", "责任单位", "得分"]
    # Issue 25: the unit that held ranks above the one that never held (not holding is the
    # heaviest deduction); the old expectation had 石岭镇 first for not holding.
    assert ranking[1][:3] == ["1", HOUSING, "90.0"] and ranking[2][:3] == ["2", SHILING, "60.0"]

    assert len(doc.inline_shapes) == 2
    images = [p for p in doc.part.package.parts if p.content_type == "image/png"]
    assert len(images) == 2 and all(p.blob.startswith(PNG) for p in images)
    captions = [p.text for p in doc.paragraphs if p.text.startswith("图")]
    assert [c[:2] for c in captions] == ["图1", "图2"]


def test_summary_docx_lists_rectifications_and_visit_problems(walker: Walker, clock) -> None:
    """Issue 25: every rectification (unit, round, due day, state, overdue) and each on-site
    visit whose findings are marked a problem have their own tables in section 六."""
    story = _campaign_story(walker, clock)
    eid = story["event_id"]
    with walker.world.session() as s:
        check = s.exec(select(SpotCheck).where(SpotCheck.event_id == eid)).one()
        unit = s.exec(select(Event.unit_id).where(Event.id == eid)).one()
        due = datetime(2022, 10, 18, 15, 59, tzinfo=UTC)  # before the story's clock: overdue
        s.add(Rectification(event_id=eid, unit_id=unit, spot_check_id=check.id,  # type: ignore[arg-type]
                            notice="补充公开栏", due_on=due.date(), due_at=due,
                            issued_at=datetime(2022, 10, 12, 2, tzinfo=UTC)))  # fmt: skip
        s.add(SiteVisit(event_id=eid, visited_on=date(2022, 10, 11), people="区政府办",  # type: ignore[arg-type]
                        findings="无公开栏", spot_check_id=check.id, problem=True,
                        created_at=datetime(2022, 10, 11, 2, tzinfo=UTC)))  # fmt: skip
        s.add(SiteVisit(event_id=eid, visited_on=date(2022, 10, 12), people="区政府办",  # type: ignore[arg-type]
                        findings="一切正常", problem=False,
                        created_at=datetime(2022, 10, 12, 2, tzinfo=UTC)))  # fmt: skip
        s.commit()
    cid, h = walker.world.campaign_id, walker.world.headers
    doc = _open(
        walker.client.get(f"/api/v1/campaigns/{cid}/summary.docx", headers=h["supervisor"]).content
    )
    tables = [_cells(t) for t in doc.tables]
    rects = next(t for t in tables if t[0][0] == "责任单位" and "整改期限" in t[0])
    assert rects[0] == [
        "责任单位",
        "整改编号",
        "活动编号",
        "抽查轮次",
        "整改期限",
        "状态",
        "是否逾期",
    ]
    assert [row[:1] + row[2:] for row in rects[1:]] == [
        [HOUSING, str(eid), "第 1 轮", "2022-10-18", "待整改", "逾期"]
    ]
    problems = next(t for t in tables if t[0][-1] == "发现的问题")
    assert problems[1:] == [[HOUSING, str(eid), "2022-10-11", "第 1 轮", "无公开栏"]]


def test_backdated_answers_are_counted_and_listed(walker: Walker, clock) -> None:
    """Issue 25: an answer typed in on 20 October for a reply given on 18 October counts in the
    unit's 补录答复 and is listed in the draft with who typed it and when."""
    story = _campaign_story(walker, clock)
    h = walker.world.headers
    item = walker.client.get(f"/api/v1/feedback/{story['open_item']}", headers=h["housing"]).json()
    r = walker.client.post(
        f"/api/v1/feedback/{story['open_item']}/transitions",
        json={"trigger": "answer", "expected_version": item["version"],
              "data": {"answer": "已电话答复", "answered_on": "2022-10-18"}},
        headers=h["housing"],
    )  # fmt: skip
    assert r.status_code == 200, r.text
    cid = walker.world.campaign_id
    rows = walker.client.get(f"/api/v1/campaigns/{cid}/report", headers=h["supervisor"]).json()
    by_name = {row["unit_name"]: row for row in rows["units"]}
    assert by_name[HOUSING]["answered_backdated"] == 1  # the other answer was typed the same day
    assert by_name[SHILING]["answered_backdated"] == 0
    doc = _open(
        walker.client.get(f"/api/v1/campaigns/{cid}/summary.docx", headers=h["supervisor"]).content
    )
    tables = [_cells(t) for t in doc.tables]
    assert "补录答复" in tables[0][0]
    listed = next(t for t in tables if t[0][-1] == "录入时间")
    assert listed[0] == ["责任单位", "意见编号", "答复日期", "录入人", "录入时间"]
    assert len(listed) == 2 and listed[1][:3] == [
        HOUSING,
        str(story["open_item"]),
        "2022年10月18日（星期二）",
    ]
    assert listed[1][3] and listed[1][4].startswith("2022年10月20日（星期四）10:00")


def test_summary_docx_is_for_district_accounts_and_known_campaigns(walker: Walker) -> None:
    h = walker.world.headers
    cid = walker.world.campaign_id
    r = walker.client.get(f"/api/v1/campaigns/{cid}/summary.docx", headers=h["housing"])
    assert r.status_code == 403 and error_of(r)["code"] == "supervisor_required"
    r = walker.client.get("/api/v1/campaigns/999/summary.docx", headers=h["supervisor"])
    assert r.status_code == 404 and error_of(r)["code"] == "campaign_not_found"
    r = walker.client.get(f"/api/v1/campaigns/{cid}/summary.docx", headers=h["viewer"])
    assert r.status_code == 200 and len(_open(r.content).inline_shapes) == 2


def test_report_page_links_the_draft(walker: Walker, world: World) -> None:
    walker.create_event()
    _supervisor(walker, world)
    page = walker.client.get(f"/board/report?campaign={world.campaign_id}").text
    link = f"/board/report/summary.docx?campaign={world.campaign_id}"
    assert link in page
    r = walker.client.get(link)
    assert r.status_code == 200
    assert _cells(_open(r.content).tables[0])[1][0] == HOUSING


def test_charts_use_a_cjk_font_when_installed_and_fall_back_without(walker: Walker) -> None:
    font = summary_docx.cjk_font()
    installed = {
        f.name for f in __import__("matplotlib.font_manager").font_manager.fontManager.ttflist
    }
    if "Noto Sans CJK SC" in installed:
        assert font == "Noto Sans CJK SC"
    data = {"units": [
        {"unit_id": 1, "unit_name": "区住建局", "events": 3, "held": 2, "held_on_time": 1,
         "held_late": 1, "not_held_overdue": 1, "answered_late": 2, "open_overdue": 1},
    ]}  # fmt: skip
    for chosen in (font, None):
        pictures = summary_docx.charts(data, chosen)
        assert len(pictures) == 2 and all(png.startswith(PNG) for _, png in pictures)
