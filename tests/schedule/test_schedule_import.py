"""Schedule-table import (issue 4) end to end: the API upload and the `openday import-schedule`
command, on the real app and database.

Every input file except the founding notice's text is generated here, in tmp_path, from rows
kept in this module; nothing binary is committed.
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import docx
import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import func, select

from models import Campaign, ChangeLog, Event, TransitionLog, Unit
from settings import PROJECT_DIR
from tests.conftest import HOUSING, SHILING, World, error_of
from workflows.campaign.rules import CampaignRules
from workflows.kernel.clock import FixedClock

NOTICE = Path(__file__).parent.parent / "fixtures" / "yanjiang-2022-open-day-notice.txt"
SCHEDULE = PROJECT_DIR / "data" / "yanjiang-2022-schedule.csv"
OPENDAY = str(Path(sys.executable).parent / "openday")
HEADER = ["序号", "单位名称", "活动主题", "开展时间"]
TITLE = "雁江区“政府开放月”活动安排一览表"

Cell = str | int | date
Rows = Sequence[Sequence[Cell]]


# ------------------------------------------------------------------------------------------
# Generated files: one writer per format; each returns the row number of the first data row
# ------------------------------------------------------------------------------------------


def _text(value: Cell) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def write_docx(path: Path, header: Sequence[str], rows: Rows) -> int:
    """A Word document: a title paragraph, then the table (row numbers count from its header)."""
    document = docx.Document()
    document.add_paragraph(TITLE)
    table = document.add_table(rows=1, cols=len(header))
    for cell, text in zip(table.rows[0].cells, header, strict=True):
        cell.text = text
    for row in rows:
        for cell, value in zip(table.add_row().cells, row, strict=True):
            cell.text = _text(value)
    document.save(path)
    return 2


def write_xlsx(path: Path, header: Sequence[str], rows: Rows) -> int:
    """A workbook with a title row above the header; 序号 as numbers, date objects as dates."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append([TITLE])
    sheet.append(list(header))
    for row in rows:
        sheet.append([int(v) if isinstance(v, str) and v.isdigit() else v for v in row])
    workbook.save(path)
    return 3


def _csv_writer(encoding: str) -> Callable[[Path, Sequence[str], Rows], int]:
    def write(path: Path, header: Sequence[str], rows: Rows) -> int:
        with path.open("w", encoding=encoding, newline="") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows([_text(v) for v in row] for row in rows)
        return 2

    return write


def write_txt(path: Path, header: Sequence[str], rows: Rows) -> int:
    """The notice's plain-text layout: one tab-prefixed line per cell, a blank line per row."""
    lines = [TITLE, ""]
    for row in (header, *rows):
        lines += [f"\t{_text(v)}" for v in row] + [""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return 2


# format id -> (file suffix, writer)
FORMATS: dict[str, tuple[str, Callable[[Path, Sequence[str], Rows], int]]] = {
    "docx": (".docx", write_docx),
    "xlsx": (".xlsx", write_xlsx),
    "csv-utf8": (".csv", _csv_writer("utf-8")),
    "csv-gb18030": (".csv", _csv_writer("gb18030")),
    "txt": (".txt", write_txt),
}


def make_file(
    tmp_path: Path, fmt: str, rows: Rows, header: Sequence[str] = HEADER, name: str = "附件"
) -> tuple[Path, int]:
    """Write rows in the given format; return the file and its first data row's number."""
    suffix, writer = FORMATS[fmt]
    path = tmp_path / f"{name}-{fmt}{suffix}"
    return path, writer(path, header, rows)


# ------------------------------------------------------------------------------------------
# The notice's table and what its dates must become
# ------------------------------------------------------------------------------------------


def notice_rows() -> list[list[str]]:
    """The notice's 39 rows (序号, 单位名称, 活动主题, 开展时间), as transcribed in data/."""
    with SCHEDULE.open(encoding="utf-8", newline="") as f:
        header, *rows = csv.reader(f)
    assert header == HEADER and len(rows) == 39
    return rows


def fold(text: str) -> str:
    """Runs of whitespace (incl. full-width spaces) as one space, as the importer stores themes."""
    return " ".join(text.split())


def expected_window(when: str) -> tuple[date, date]:
    """The notice says only "M月D日" or "M月上旬/中旬"; worked out without the parser."""
    if m := re.fullmatch(r"(\d+)月(\d+)日", when):
        day = date(2022, int(m[1]), int(m[2]))
        return day, day
    m = re.fullmatch(r"(\d+)月([上中])旬", when)
    assert m, when
    first = {"上": 1, "中": 11}[m[2]]
    return date(2022, int(m[1]), first), date(2022, int(m[1]), first + 9)


def expected_notice_events() -> list[tuple[int, str, str, date, date]]:
    """(序号, unit, theme, earliest, latest) of the notice's 39 events."""
    return [(int(s), u, fold(t), *expected_window(w)) for s, u, t, w in notice_rows()]


# ------------------------------------------------------------------------------------------
# API and database helpers
# ------------------------------------------------------------------------------------------


def upload(
    client: TestClient,
    world: World,
    path: Path,
    *,
    who: str = "supervisor",
    campaign_id: int | None = None,
    **flags: bool,
) -> Any:
    """POST the file to the campaign's schedule-imports endpoint.

    The tables here date events around the test clock's 2022-09-16, so many are already past:
    the confirmation that importing sends their escalations at once is given unless a test
    says otherwise (`test_notice_text_is_refused_…` checks the refusal without it).
    """
    flags.setdefault("confirm_past_escalations", True)
    return client.post(
        f"/api/v1/campaigns/{campaign_id or world.campaign_id}/schedule-imports",
        files={"file": (path.name, path.read_bytes(), "application/octet-stream")},
        params={k: str(v).lower() for k, v in flags.items()},
        headers=world.headers[who],
    )


def counts(world: World) -> tuple[int, int, int]:
    """How many units, events and audit lines the database holds."""
    with world.session() as session:
        return tuple(  # type: ignore[return-value]
            session.exec(select(func.count()).select_from(table)).one()
            for table in (Unit, Event, TransitionLog)
        )


def stored_events(world: World) -> list[tuple[int | None, str, str, date, date]]:
    """(序号, unit, theme, earliest, latest) of every event, in import order."""
    with world.session() as session:
        rows = session.exec(
            select(Event, Unit).join(Unit, Event.unit_id == Unit.id).order_by(Event.id)
        ).all()
    return [(e.seq, u.name, e.theme, e.date_earliest, e.date_latest) for e, u in rows]


def events_by_unit(world: World) -> dict[str, Event]:
    """Every event keyed by its unit's name (one event per unit in these tables)."""
    with world.session() as session:
        rows = session.exec(select(Event, Unit).join(Unit, Event.unit_id == Unit.id)).all()
    return {u.name: e for e, u in rows}


def issues(body: dict[str, Any], severity: str) -> list[tuple[int | None, str | None, str]]:
    """(row, column, code) of the report's errors or warnings."""
    return [(i["row"], i["column"], i["code"]) for i in body["issues"] if i["severity"] == severity]


def refused_report(response: Any, code: str) -> dict[str, Any]:
    """Assert a 422 refusal with `code` and return the report it carries."""
    assert response.status_code == 422, response.text
    error = error_of(response)
    assert error["code"] == code, error
    assert error["message"] and error["message_en"]
    return error["report"]  # type: ignore[no-any-return]


OUTSIDE = "outside_campaign_window"
WHEN = "开展时间"


# ------------------------------------------------------------------------------------------
# The founding notice's own table
# ------------------------------------------------------------------------------------------


def test_notice_text_is_refused_for_its_two_warnings_then_imports_39_events(
    client: TestClient, world: World
) -> None:
    """The notice .txt: exactly 老君镇 8月19日 and 东峰镇 8月中旬 warn; accepted, 39 events land."""
    before = counts(world)
    refused = upload(client, world, NOTICE, confirm_past_escalations=False)
    report = refused_report(refused, "import_has_warnings")
    assert issues(report, "error") == []
    # Text rows count the header as row 1, so 序号 32 sits on row 33 and 序号 36 on row 37.
    assert issues(report, "warning") == [(33, WHEN, OUTSIDE), (37, WHEN, OUTSIDE)]
    laojun, dongfeng = (i for i in report["issues"] if i["severity"] == "warning")
    assert "老君镇" in laojun["message"] and "8月19日" in laojun["message"]
    assert "序号 32" in laojun["message"] and "outside the campaign window" in laojun["message_en"]
    assert "东峰镇" in dongfeng["message"] and "8月中旬" in dongfeng["message_en"]
    assert report["committed"] is False and report["created_events"] == 0
    assert counts(world) == before

    # On 2022-09-16 the events dated up to 9月15日 are past their date: importing would send
    # their escalations at once, so it asks for an explicit confirmation first (issue 16).
    past = refused_report(
        upload(client, world, NOTICE, accept_warnings=True, confirm_past_escalations=False),
        "import_arms_past_escalations",
    )
    late = sum(1 for event in expected_notice_events() if event[4] < date(2022, 9, 16))
    assert past["past_events"] == late == 29
    # Level 1 at the end of each past day; level 2 five working days later (2022's 中秋 break
    # 9月10–12日 included), already due for the 13 events dated 9月7日 or earlier.
    assert past["past_escalations"] == 29 + 13
    # The log channel (42), and the inboxes: level 2 reaches the supervisor (13), both levels the
    # staff account of the one unit that has one (2). No e-mail, no robots.
    assert past["past_notifications"] == 42 + 13 + 2
    assert counts(world) == before

    done = upload(client, world, NOTICE, accept_warnings=True, confirm_past_escalations=True)
    assert done.status_code == 201, done.text
    body = done.json()
    assert (body["source_format"], body["rows"], body["warning_count"]) == ("text", 39, 2)
    assert (body["created_events"], body["created_units"], body["existing_events"]) == (39, 37, 0)
    assert body["committed"] is True
    assert stored_events(world) == expected_notice_events()
    units, events, logs = counts(world)
    assert (units, events, logs) == (before[0] + 37, 39, before[2] + 39)

    by_unit = events_by_unit(world)
    spot = {
        "区应急局": ("2022-09-11", "2022-09-20", "9月中旬"),
        "东峰镇": ("2022-08-11", "2022-08-20", "8月中旬"),
        "老君镇": ("2022-08-19", "2022-08-19", "8月19日"),
        "区人社局": ("2022-09-01", "2022-09-10", "9月上旬"),
        "区住建局": ("2022-09-16", "2022-09-16", "9月16日"),
        "小院镇": ("2022-08-22", "2022-08-22", "8月22日"),
    }
    for unit, (earliest, latest, text) in spot.items():
        event = by_unit[unit]
        assert (str(event.date_earliest), str(event.date_latest), event.date_text) == (
            earliest,
            latest,
            text,
        ), unit
        assert (event.state, event.version, event.tentative) == ("planned", 1, False)
    # The existing units were reused, not duplicated.
    assert by_unit[HOUSING].unit_id == world.units[HOUSING]
    assert by_unit[SHILING].unit_id == world.units[SHILING]
    with world.session() as session:
        log = session.exec(
            select(TransitionLog).where(TransitionLog.event_id == by_unit["区应急局"].id)
        ).one()
    assert (log.trigger, log.to_state, log.actor_name) == ("create", "planned", "supervisor")
    assert log.data == {"import_row": 2, "date_text": "9月中旬"}


def test_importing_the_same_table_again_creates_nothing(
    client: TestClient, world: World, tmp_path: Path
) -> None:
    """A second import, even of the same rows as .xlsx, creates nothing and counts the existing."""
    assert upload(client, world, NOTICE, accept_warnings=True).status_code == 201
    after_first = counts(world)
    again = upload(client, world, NOTICE, accept_warnings=True)
    assert again.status_code == 201, again.text
    body = again.json()
    assert (body["created_events"], body["created_units"], body["existing_events"]) == (0, 0, 39)
    assert all(e["exists"] and not e["new_unit"] for e in body["events"])
    path, _ = make_file(tmp_path, "xlsx", notice_rows())
    as_xlsx = upload(client, world, path, accept_warnings=True)
    assert as_xlsx.status_code == 201, as_xlsx.text
    assert (as_xlsx.json()["created_events"], as_xlsx.json()["existing_events"]) == (0, 39)
    assert counts(world) == after_first


@pytest.mark.parametrize("fmt", ["docx", "xlsx", "csv-utf8", "csv-gb18030", "txt"])
def test_every_format_of_the_notice_table_gives_the_same_39_events(
    client: TestClient, world: World, tmp_path: Path, fmt: str
) -> None:
    """The notice's rows written as .docx/.xlsx/.csv (UTF-8, GB18030)/.txt import identically."""
    path, first_row = make_file(tmp_path, fmt, notice_rows())
    if fmt == "csv-gb18030":
        with pytest.raises(UnicodeDecodeError):
            path.read_bytes().decode("utf-8")  # really GB18030, not UTF-8 in disguise
    refused = refused_report(upload(client, world, path), "import_has_warnings")
    assert issues(refused, "warning") == [
        (first_row + 31, WHEN, OUTSIDE),
        (first_row + 35, WHEN, OUTSIDE),
    ]
    done = upload(client, world, path, accept_warnings=True)
    assert done.status_code == 201, done.text
    body = done.json()
    source, encoding = {
        "docx": ("docx", None),
        "xlsx": ("xlsx", None),
        "csv-utf8": ("csv", "utf-8"),
        "csv-gb18030": ("csv", "gb18030"),
        "txt": ("text", "utf-8"),
    }[fmt]
    assert (body["source_format"], body["encoding"]) == (source, encoding)
    assert body["created_events"] == 39
    assert stored_events(world) == expected_notice_events()


# ------------------------------------------------------------------------------------------
# Every date phrasing of the issue
# ------------------------------------------------------------------------------------------

# unit, 开展时间, earliest, latest, tentative, warning code (all in 2022; window 08-22..09-22)
PHRASINGS: list[tuple[str, Cell, str, str, bool, str | None]] = [
    ("区审计局", "9月16日", "09-16", "09-16", False, None),
    ("区水务局", "2022年9月16日", "09-16", "09-16", False, None),
    ("区商务局", "9月上旬", "09-01", "09-10", False, None),
    ("区应急局", "9月中旬", "09-11", "09-20", False, None),
    ("区气象局", "9月下旬", "09-21", "09-30", False, OUTSIDE),
    ("区教育和体育局", "9月15日-16日", "09-15", "09-16", False, None),
    ("区信访局", "9月15日至17日", "09-15", "09-17", False, None),
    ("区工管委", "8月30日至9月2日", "08-30", "09-02", False, None),
    ("区卫健局", "2022年9月", "09-01", "09-30", False, OUTSIDE),
    ("区文广旅局", "2022年8-9月", "08-01", "09-30", False, OUTSIDE),
    ("区人社局", "9月16日（暂定）", "09-16", "09-16", True, None),
    ("区金融工作局", "9月16日上午10:00", "09-16", "09-16", False, None),
    ("区交通运输局", "9月16日14:20—18:00", "09-16", "09-16", False, None),
    ("区医疗保障局", "2022年9月13日（星期二）", "09-13", "09-13", False, None),
    ("区退役军人事务局", "9月16日(周五)", "09-16", "09-16", False, None),
    ("区综合行政执法局", "9月16日（周二）", "09-16", "09-16", False, "weekday_mismatch"),
    ("区农业农村局", "2022年9月16日（星期五）上午10:00（暂定）", "09-16", "09-16", True, None),
    ("区发展和改革局", "９月２０日", "09-20", "09-20", False, None),  # full-width digits
    ("区经科信局", date(2022, 9, 14), "09-14", "09-14", False, None),  # a date cell in .xlsx
]


@pytest.mark.parametrize("fmt", ["docx", "xlsx", "csv-utf8"])
def test_every_date_phrasing_lands_on_its_dates(
    client: TestClient, world: World, tmp_path: Path, fmt: str
) -> None:
    """Each phrasing of the issue becomes the right window and 暂定 flag; 周二 on a Friday warns."""
    rows = [
        [str(n), unit, f"{unit}开放日", when] for n, (unit, when, *_) in enumerate(PHRASINGS, 1)
    ]
    path, first_row = make_file(tmp_path, fmt, rows)
    report = refused_report(upload(client, world, path), "import_has_warnings")
    assert issues(report, "error") == []
    assert issues(report, "warning") == [
        (first_row + i, WHEN, code) for i, (*_, code) in enumerate(PHRASINGS) if code
    ]
    mismatch = next(i for i in report["issues"] if i["code"] == "weekday_mismatch")
    assert "星期五" in mismatch["message"] and "Friday" in mismatch["message_en"]

    assert upload(client, world, path, accept_warnings=True).status_code == 201
    by_unit = events_by_unit(world)
    assert len(by_unit) == len(PHRASINGS)
    for unit, when, earliest, latest, tentative, _ in PHRASINGS:
        event = by_unit[unit]
        got = (str(event.date_earliest), str(event.date_latest), event.tentative)
        assert got == (f"2022-{earliest}", f"2022-{latest}", tentative), (unit, when)


def test_a_campaign_across_the_new_year_gives_year_less_dates_their_year(
    client: TestClient, world: World, tmp_path: Path, clock: FixedClock
) -> None:
    """In a 2022-12-15..2023-01-15 campaign, 1月5日 is 2023-01-05 and 12月28日 is 2022-12-28."""
    with world.session() as session:
        campaign = Campaign(
            doc_number="资雁府办发〔2022〕99号",
            title="元旦开放日",
            issuing_office="资阳市雁江区人民政府办公室",
            starts_on=date(2022, 12, 15),
            ends_on=date(2023, 1, 15),
            rules=CampaignRules().model_dump(),
            created_at=clock.now(),
        )
        session.add(campaign)
        session.commit()
        campaign_id = campaign.id
    rows = [
        ["1", "区审计局", "岁末开放", "12月28日"],
        ["2", "区水务局", "新年开放", "1月5日"],
        ["3", "区商务局", "跨年开放", "12月30日至1月2日"],
    ]
    path, _ = make_file(tmp_path, "csv-utf8", rows)
    done = upload(client, world, path, campaign_id=campaign_id, accept_warnings=True)
    assert done.status_code == 201, done.text
    assert [i["code"] for i in done.json()["issues"]] == [
        "year_rollover"
    ]  # only the range notes it
    assert [(e[3].isoformat(), e[4].isoformat()) for e in stored_events(world)] == [
        ("2022-12-28", "2022-12-28"),
        ("2023-01-05", "2023-01-05"),
        ("2022-12-30", "2023-01-02"),
    ]


# ------------------------------------------------------------------------------------------
# Broken rows, columns, duplicates, units
# ------------------------------------------------------------------------------------------


def test_broken_rows_refuse_the_whole_file_and_nothing_is_written(
    client: TestClient, world: World, tmp_path: Path
) -> None:
    """Blank cells, 9月32日, 2月30日, 下周三 and an over-long theme: 422, every issue located."""
    rows = [
        ["1", "区审计局", "走进审计 开放共享", "9月15日"],  # fine, and a new unit
        ["2", "", "无单位的活动", "9月16日"],
        ["3", "区水务局", "水润万物惠民生", "9月32日"],
        ["4", "区商务局", "以公开保服务", "2月30日"],
        ["5", "区气象局", "", "9月19日"],
        ["6", "区卫健局", "服务先行", ""],
        ["7", "区信访局", "畅通信访渠道", "下周三"],
        ["8", "区金融工作局", "深" * 301, "9月15日"],
        ["9", HOUSING, "参观老旧小区改造现场", "9月16日"],  # fine, an existing unit
        ["10", "老君镇", "政务开放 你我同行", "8月19日"],  # only a warning
    ]
    path, _ = make_file(tmp_path, "csv-utf8", rows)
    before = counts(world)
    # Errors cannot be accepted away.
    report = refused_report(upload(client, world, path, accept_warnings=True), "import_has_errors")
    assert issues(report, "error") == [
        (3, "单位名称", "required_cell_blank"),
        (4, WHEN, "date_invalid"),
        (5, WHEN, "date_invalid"),
        (6, "活动主题", "required_cell_blank"),
        (7, WHEN, "required_cell_blank"),
        (8, WHEN, "date_unparseable"),
        (9, "活动主题", "cell_too_long"),
    ]
    assert issues(report, "warning") == [(11, WHEN, OUTSIDE)]
    assert report["error_count"] == 7 and report["warning_count"] == 1
    for issue in report["issues"]:
        row = issue["row"]
        assert f"第 {row} 行" in issue["message"] and f"row {row}" in issue["message_en"]
    by_row = {i["row"]: i for i in report["issues"]}
    assert "9月32日" in by_row[4]["message"] and "only 30 days" in by_row[4]["message_en"]
    assert "2月30日" in by_row[5]["message"] and "only 28 days" in by_row[5]["message_en"]
    assert counts(world) == before  # no unit (not even 区审计局), no event, no audit line
    with world.session() as session:
        assert session.exec(select(Unit).where(Unit.name == "区审计局")).first() is None


def test_dry_run_answers_the_report_and_writes_nothing(client: TestClient, world: World) -> None:
    """dry_run=true (even with accept_warnings) answers 200 with the full report, writes nothing."""
    before = counts(world)
    response = upload(client, world, NOTICE, dry_run=True, accept_warnings=True)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["dry_run"], body["committed"], body["rows"]) == (True, False, 39)
    assert (body["error_count"], body["warning_count"], body["created_events"]) == (0, 2, 0)
    assert len(body["events"]) == 39
    first = body["events"][0]
    assert (first["row"], first["seq"], first["unit_name"], first["unit_kind"]) == (
        2,
        1,
        "区应急局",
        "department",
    )
    assert (first["earliest"], first["latest"], first["new_unit"], first["exists"]) == (
        "2022-09-11",
        "2022-09-20",
        True,
        False,
    )
    housing = next(e for e in body["events"] if e["unit_name"] == HOUSING)
    assert housing["new_unit"] is False
    assert counts(world) == before


def test_shuffled_renamed_columns_are_found_and_unknown_columns_are_reported(
    client: TestClient, world: World, tmp_path: Path
) -> None:
    """活动时间/备注/承办单位/主题 map by name; 备注 and a headerless 5th column warn."""
    header = ["活动时间", "备注", "承办单位", "主题"]
    rows = [
        ["9月15日", "需提前报名", "区审计局", "走进审计 开放共享"],
        ["9月中旬", "", "丰裕镇", "倾听群众意见 做好民生实事", "请带身份证"],
    ]
    path, first_row = make_file(tmp_path, "xlsx", rows, header=header)
    report = refused_report(upload(client, world, path), "import_has_warnings")
    assert report["unknown_columns"] == ["备注", "列5"]
    assert issues(report, "warning") == [
        (None, "备注", "unknown_column"),
        (first_row + 1, "列5", "unlabelled_column"),
    ]
    remark, stray = report["issues"]
    assert "备注" in remark["message"] and "unknown column" in remark["message_en"]
    assert f"第 {first_row + 1} 行" in stray["message"] and "no header" in stray["message_en"]
    assert upload(client, world, path, accept_warnings=True).status_code == 201
    assert stored_events(world) == [
        (None, "区审计局", "走进审计 开放共享", date(2022, 9, 15), date(2022, 9, 15)),
        (None, "丰裕镇", "倾听群众意见 做好民生实事", date(2022, 9, 11), date(2022, 9, 20)),
    ]


def test_duplicate_rows_warn_and_import_once(
    client: TestClient, world: World, tmp_path: Path
) -> None:
    """A row repeating an earlier one's unit and theme warns, and is imported (and counted) once."""
    rows = [
        ["1", "区审计局", "走进审计  开放共享", "9月15日"],
        ["2", "区水务局", "水润万物惠民生", "9月14日"],
        ["3", "区审计局", "走进审计 开放共享", "9月16日"],  # same unit and theme, spaces folded
    ]
    path, _ = make_file(tmp_path, "csv-utf8", rows)
    report = refused_report(upload(client, world, path), "import_has_warnings")
    assert issues(report, "warning") == [(4, None, "duplicate_row")]
    assert "第 4 行与第 2 行" in report["issues"][0]["message"]
    done = upload(client, world, path, accept_warnings=True).json()
    assert (done["created_events"], done["created_units"]) == (2, 2)
    assert [(e[1], e[3]) for e in stored_events(world)] == [
        ("区审计局", date(2022, 9, 15)),  # the first row wins
        ("区水务局", date(2022, 9, 14)),
    ]
    again = upload(client, world, path, accept_warnings=True).json()
    assert (again["created_events"], again["existing_events"]) == (0, 2)


def test_a_large_table_is_written_in_batches_each_audit_line_on_its_own_event(
    client: TestClient, world: World, tmp_path: Path
) -> None:
    """2,500 rows (three insert batches): every event, and its create line names its own row."""
    whens = ["9月16日", "9月中旬", "9月15日至17日", "2022年9月16日（星期五）"]
    rows = [
        [str(n), f"测试{n % 50:02d}镇", f"开放日第{n}场", whens[n % len(whens)]]
        for n in range(1, 2501)
    ]
    path, _ = make_file(tmp_path, "csv-utf8", rows)
    done = upload(client, world, path)
    assert done.status_code == 201, done.text
    assert (done.json()["created_events"], done.json()["created_units"]) == (2500, 50)
    with world.session() as session:
        pairs = session.exec(
            select(Event.seq, Event.theme, TransitionLog.data).join(
                TransitionLog, TransitionLog.event_id == Event.id
            )
        ).all()
    assert len(pairs) == 2500
    # CSV row numbers count the header as row 1, so 序号 n sits on row n + 1.
    assert all(
        data["import_row"] == seq + 1 and theme == f"开放日第{seq}场" for seq, theme, data in pairs
    )


def test_units_are_matched_by_name_and_new_ones_get_a_kind_from_their_name(
    client: TestClient, world: World, tmp_path: Path
) -> None:
    """区住建局/石岭镇 are reused; new units are created once each, kind inferred from the name."""
    rows = [
        ["1", HOUSING, "参观老旧小区改造现场", "9月16日"],
        ["2", f"\u3000{SHILING} ", "面对面、心连心、零距离", "9月7日"],
        ["3", HOUSING, "物业管理政策宣讲", "9月20日"],
        ["4", "雁江街道办事处", "共建阳光政务", "9月6日"],
        ["5", "临江镇", "诗意临江 健康乡村", "9月8日"],
        ["6", "临江镇", "低保审批流程", "9月9日"],
        ["7", "区审计局", "走进审计 开放共享", "9月15日"],
        ["8", "区工管委", "展现园区工业高质量发展", "9月中旬"],
        ["9", "区政务服务中心", "政务服务“一网通办”", "9月15日"],
        ["10", "区疾病预防控制中心", "走进疾控", "9月9日"],
    ]
    path, _ = make_file(tmp_path, "docx", rows)
    before_units = counts(world)[0]
    done = upload(client, world, path)
    assert done.status_code == 201, done.text
    assert (done.json()["created_units"], done.json()["created_events"]) == (6, 10)
    with world.session() as session:
        kinds = {u.name: (u.id, u.kind) for u in session.exec(select(Unit)).all()}
        per_unit = dict(
            session.exec(select(Event.unit_id, func.count()).group_by(Event.unit_id)).all()
        )
    assert len(kinds) == before_units + 6
    assert kinds[HOUSING] == (world.units[HOUSING], "department")
    assert kinds[SHILING] == (world.units[SHILING], "town")
    assert per_unit[world.units[HOUSING]] == 2 and per_unit[world.units[SHILING]] == 1
    assert {name: kind for name, (_, kind) in kinds.items() if name not in world.units} == {
        "雁江街道办事处": "street_office",
        "临江镇": "town",
        "区审计局": "department",
        "区工管委": "department",
        "区政务服务中心": "window",
        "区疾病预防控制中心": "institution",
    }
    assert per_unit[kinds["临江镇"][0]] == 2


# ------------------------------------------------------------------------------------------
# Who may import, and what is refused outright
# ------------------------------------------------------------------------------------------


def test_only_supervisors_and_the_system_administrator_may_import(
    client: TestClient, world: World
) -> None:
    """Unit staff and viewers get 403 supervisor_required, the security and audit
    administrators 403 separation_of_duties (三员分立), and nothing is written; the system
    administrator may, and its import is an audit line."""
    before = counts(world)
    office, duty = "supervisor_required", "separation_of_duties"
    for who, code in (("housing", office), ("viewer", office), ("secadmin", duty),
                      ("auditor", duty)):  # fmt: skip
        refused = upload(client, world, NOTICE, who=who, accept_warnings=True)
        assert refused.status_code == 403, (who, refused.text)
        assert error_of(refused)["code"] == code
        dry = upload(client, world, NOTICE, who=who, dry_run=True)
        assert dry.status_code == 403, (who, dry.text)
    anonymous = client.post(
        f"/api/v1/campaigns/{world.campaign_id}/schedule-imports",
        files={"file": (NOTICE.name, NOTICE.read_bytes(), "text/plain")},
    )
    assert anonymous.status_code == 401
    assert counts(world) == before
    assert upload(client, world, NOTICE, who="sysadmin", accept_warnings=True).status_code == 201
    with world.session() as session:
        done = session.exec(select(ChangeLog.action).where(ChangeLog.actor_name == "sysadmin"))
        assert "duty_imports" in done.all()


def test_unreadable_files_are_refused_with_stable_codes(
    client: TestClient, world: World, tmp_path: Path
) -> None:
    """.pdf, an empty .csv, a broken .xlsx, a table without 开展时间, an unknown campaign: 4xx."""
    pdf = tmp_path / "附件.pdf"
    pdf.write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a workbook")
    missing, _ = make_file(tmp_path, "csv-utf8", [["1", "区审计局", "走进审计"]], HEADER[:3])
    before = counts(world)
    for path, code in (
        (pdf, "format_unsupported"),
        (empty, "file_empty"),
        (broken, "file_unreadable"),
        (missing, "column_missing"),
    ):
        response = upload(client, world, path, accept_warnings=True)
        assert response.status_code == 422, (path.name, response.text)
        error = error_of(response)
        assert error["code"] == code and error["message"] and error["message_en"], error
    assert "开展时间" in error_of(upload(client, world, missing))["message"]
    nowhere = upload(client, world, NOTICE, campaign_id=world.campaign_id + 1000)
    assert (nowhere.status_code, error_of(nowhere)["code"]) == (404, "campaign_not_found")
    assert counts(world) == before


# ------------------------------------------------------------------------------------------
# The command line, as a real process
# ------------------------------------------------------------------------------------------


def _openday(engine: Engine, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "OPENDAY_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "COLUMNS": "160",  # rich's table width when not on a terminal
        "OPENDAY_CLOCK_START": "2022-09-16T10:00:00+08:00",  # the test clock's day
    }
    return subprocess.run(
        [OPENDAY, "import-schedule", *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_cli_dry_run_prints_the_table_and_the_import_needs_accept_warnings(
    engine: Engine, world: World
) -> None:
    """`openday import-schedule` --dry-run prints the plan; without --accept-warnings exit 1."""
    campaign = str(world.campaign_id)
    before = counts(world)
    dry = _openday(engine, str(NOTICE), "--campaign", campaign, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "39 行 / rows (text)" in dry.stderr
    for text in ("区应急局 (新 new)", "2022-09-11 … 2022-09-20", "老君镇", "东峰镇", "新建 new"):
        assert text in dry.stderr, text
    assert "outside the campaign window" in dry.stderr
    assert "would create 39 events and 37 units; 0 errors, 2 warnings" in dry.stderr
    assert "importing sends 42 escalations (57 notifications) at once" in dry.stderr  # inboxes
    assert counts(world) == before

    refused = _openday(engine, str(NOTICE), "--campaign", campaign)
    assert refused.returncode == 1, refused.stderr
    assert "--accept-warnings" in refused.stderr and "nothing was imported" in refused.stderr
    assert counts(world) == before

    past = _openday(engine, str(NOTICE), "--campaign", campaign, "--accept-warnings")
    assert past.returncode == 1, past.stderr
    assert "将立即发出 42 次催办" in past.stderr and "--confirm-past-escalations" in past.stderr
    assert counts(world) == before

    done = _openday(
        engine,
        str(NOTICE),
        "--campaign",
        campaign,
        "--accept-warnings",
        "--confirm-past-escalations",
    )
    assert done.returncode == 0, done.stderr
    assert "39 个活动 events, 37 个新单位 new units, 0 个已存在" in done.stderr
    assert stored_events(world) == expected_notice_events()


def test_cli_refuses_broken_rows_and_unsupported_files(
    engine: Engine, world: World, tmp_path: Path
) -> None:
    """A GB18030 .csv with bad rows exits 1 listing each (Chinese and English); a .pdf exits 2."""
    rows = [
        ["1", "区审计局", "走进审计 开放共享", "9月15日"],
        ["2", "", "无单位的活动", "9月16日"],
        ["3", "区水务局", "水润万物惠民生", "9月32日"],
    ]
    path, _ = make_file(tmp_path, "csv-gb18030", rows)
    before = counts(world)
    broken = _openday(engine, str(path), "--campaign", str(world.campaign_id), "--accept-warnings")
    assert broken.returncode == 1, broken.stderr
    assert (
        "第 3 行“单位名称”为空" in broken.stderr and "row 3: '单位名称' is blank" in broken.stderr
    )
    assert "第 4 行“开展时间”" in broken.stderr and "row 4, '开展时间'" in broken.stderr
    assert "2 处错误" in broken.stderr and "nothing was imported" in broken.stderr
    pdf = tmp_path / "附件.pdf"
    pdf.write_bytes(b"%PDF-1.4\n")
    unsupported = _openday(engine, str(pdf), "--campaign", str(world.campaign_id))
    assert unsupported.returncode == 2
    assert (
        "不支持的文件格式" in unsupported.stderr and "unsupported file format" in unsupported.stderr
    )
    assert counts(world) == before


def test_cli_dry_run_of_a_file_with_errors_exits_1(
    engine: Engine, world: World, tmp_path: Path
) -> None:
    """--dry-run lists the errors and exits 1 (what the import would refuse); an unknown
    campaign exits 2 naming it. Nothing is written either way."""
    rows = [["1", "区审计局", "走进审计 开放共享", "9月15日"], ["2", "", "无单位的活动", "9月16日"]]
    path, _ = make_file(tmp_path, "csv-gb18030", rows)
    before = counts(world)
    dry = _openday(engine, str(path), "--campaign", str(world.campaign_id), "--dry-run")
    assert dry.returncode == 1, dry.stderr
    assert "row 3: '单位名称' is blank" in dry.stderr and "1 errors, 0 warnings" in dry.stderr
    nowhere = _openday(engine, str(path), "--campaign", str(world.campaign_id + 1000))
    assert nowhere.returncode == 2
    assert f"campaign {world.campaign_id + 1000} not found" in nowhere.stderr
    assert counts(world) == before


def test_imported_times_of_day_are_kept(client: TestClient, world: World, tmp_path: Path) -> None:
    """开展时间 with a clock time keeps it as the event's start (and end) time."""
    path = tmp_path / "times.csv"
    _csv_writer("utf-8")(
        path,
        HEADER,
        [
            (1, "区住建局", "参观老旧小区改造现场", "9月16日（星期五）15:00-17:00"),
            (2, "石岭镇", "面对面", "9月20日上午10:00"),
        ],
    )
    r = upload(client, world, path, accept_warnings=True)
    assert r.status_code == 201, r.text
    stored = events_by_unit(world)
    housing, shiling = stored["区住建局"], stored["石岭镇"]
    assert (str(housing.start_time), str(housing.end_time)) == ("15:00:00", "17:00:00")
    assert (str(shiling.start_time), shiling.end_time) == ("10:00:00", None)


def test_a_reimported_row_with_a_new_date_is_a_reschedule(
    client: TestClient, world: World, tmp_path: Path
) -> None:
    """The same table with one date changed: the preview warns, the import (warnings accepted)
    reschedules that event with the import as the reason; nothing is kept silently."""
    write = _csv_writer("utf-8")
    first, second = tmp_path / "v1.csv", tmp_path / "v2.csv"
    write(first, HEADER, [(1, "区住建局", "参观老旧小区改造现场", "9月20日")])
    write(second, HEADER, [(1, "区住建局", "参观老旧小区改造现场", "9月21日")])
    assert upload(client, world, first).status_code == 201
    preview = upload(client, world, second, dry_run=True).json()
    assert [(i["code"], i["row"]) for i in preview["issues"]] == [("date_changed", 2)]
    assert (
        "9-20" in preview["issues"][0]["message"]
        and "2022-09-21" in preview["issues"][0]["message"]
    )
    assert upload(client, world, second).status_code == 422  # warnings not accepted
    r = upload(client, world, second, accept_warnings=True)
    assert r.status_code == 201, r.text
    assert r.json()["rescheduled_events"] == 1
    event = events_by_unit(world)["区住建局"]
    assert (event.date_earliest, event.date_latest) == (date(2022, 9, 21), date(2022, 9, 21))
    with world.session() as session:
        move = session.exec(
            select(TransitionLog).where(TransitionLog.trigger == "reschedule")
        ).one()
    assert move.reason is not None and move.reason.startswith("重新导入日程表")


def test_the_preview_counts_digests_apart_from_what_goes_out_at_once(
    world: World, clock: FixedClock, tmp_path: Path
) -> None:
    """Digest mode: a past event's escalations to a digest recipient wait for the digest hour.
    区住建局 takes the campaign's digest, 石岭镇 chose notices one by one; both dated 9月1日,
    so levels 1 and 2 are due at once. At once: 石岭镇's two e-mails and the log's four lines;
    区住建局's two notices wait in one digest for 09:00."""
    from workflows.escalation.batch import NotifyConfig
    from workflows.kernel.visibility import SYSTEM
    from workflows.schedule.importer import ImportRefused
    from workflows.schedule.service import import_schedule

    with world.session() as s:
        campaign = s.get(Campaign, world.campaign_id)
        assert campaign is not None
        rules = CampaignRules.of(campaign.rules).model_copy(
            update={"escalation_delivery": "digest"}
        )
        campaign.rules = rules.model_dump()
        for name, delivery in ((HOUSING, None), (SHILING, "individual")):
            unit = s.get(Unit, world.units[name])
            assert unit is not None
            unit.contact_email = f"{world.units[name]}@unit.example"
            unit.escalation_delivery = delivery
            s.add(unit)
        s.add(campaign)
        s.commit()
    path, _ = make_file(
        tmp_path,
        "csv-utf8",
        [["1", HOUSING, "走进住建", "9月1日"], ["2", SHILING, "走进石岭", "9月1日"]],
    )
    with world.session() as s:
        report = import_schedule(
            s, world.campaign_id, path.read_bytes(), path.name, actor=SYSTEM,
            now=clock.now(), notify=NotifyConfig(email_enabled=True), dry_run=True,
        )  # fmt: skip
    assert (report.past_events, report.past_escalations) == (2, 4)
    # At once: 石岭镇's two e-mails, the log's four lines, its staff's two inbox items. In
    # digests: 区住建局's contact (2) and staff inbox (2), the supervisor's inbox (level 2 of each).
    assert report.past_notifications == 8
    assert (report.past_digested, report.past_digests, report.past_digest_hour) == (6, 3, 9)
    refused = ImportRefused(report, "past_escalations")
    assert "立即发出 4 次催办、共 8 条通知，另有 6 条通知并入 3 份催办汇总" in refused.message_zh
    assert "09:00" in refused.message_zh
    assert refused.details["past_digests"] == 3


def test_the_phrasings_offices_use_preview_and_import(
    client: TestClient, world: World, tmp_path: Path
) -> None:
    """9月16日、17日 and 9月16、17日 become an event over both days (planned first and last day);
    9月初 / 9月底 / 9月末 a 上旬 / 下旬 window marked 暂定; 9/16 a day in the campaign's year.
    A quarter is refused with a message naming its row while the other rows still preview."""
    rows = [
        ["1", "区审计局", "两天的活动", "9月16日、17日"],
        ["2", "区水务局", "两天的活动", "9月16、17日"],
        ["3", "区财政局", "月初的活动", "9月初"],
        ["4", "区税务局", "月底的活动", "9月底"],
        ["5", "区统计局", "月末的活动", "9月末"],
        ["6", "区商务局", "斜线日期", "9/16"],
        ["7", "区民政局", "一个季度", "第三季度"],
    ]
    path, first = make_file(tmp_path, "csv-utf8", rows)
    before = counts(world)
    report = upload(client, world, path, dry_run=True).json()
    quarter_row = first + 6
    assert [(i["row"], i["code"]) for i in report["issues"] if i["severity"] == "error"] == [
        (quarter_row, "date_quarter")
    ]
    error = next(i for i in report["issues"] if i["code"] == "date_quarter")
    assert error["message"].startswith(f"第 {quarter_row} 行“开展时间”：“第三季度”是季度")
    planned = {e["unit_name"]: e for e in report["events"]}
    assert len(planned) == 6  # every other row previews
    assert (planned["区审计局"]["earliest"], planned["区审计局"]["latest"]) == (
        "2022-09-16", "2022-09-17",
    )  # fmt: skip
    assert planned["区审计局"]["planned_until"] == "2022-09-17"
    assert planned["区水务局"]["planned_until"] == "2022-09-17"
    assert (planned["区财政局"]["earliest"], planned["区财政局"]["latest"]) == (
        "2022-09-01", "2022-09-10",
    )  # fmt: skip
    assert planned["区财政局"]["tentative"] and planned["区财政局"]["planned_until"] is None
    for unit in ("区税务局", "区统计局"):
        assert (planned[unit]["earliest"], planned[unit]["latest"]) == ("2022-09-21", "2022-09-30")
        assert planned[unit]["tentative"]
    assert planned["区商务局"]["earliest"] == planned["区商务局"]["latest"] == "2022-09-16"
    assert counts(world) == before

    path, _ = make_file(tmp_path, "csv-utf8", rows[:6], name="无季度")
    done = upload(client, world, path, accept_warnings=True)
    assert done.status_code == 201, done.text
    stored = events_by_unit(world)
    audit = stored["区审计局"]
    assert (audit.date_earliest, audit.date_latest) == (date(2022, 9, 16), date(2022, 9, 17))
    assert audit.planned_until == date(2022, 9, 17)
    assert stored["区税务局"].tentative and stored["区税务局"].planned_until is None
    shown = client.get(f"/api/v1/events/{audit.id}", headers=world.headers["supervisor"]).json()
    assert shown["planned_until"] == "2022-09-17"
