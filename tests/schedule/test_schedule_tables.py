"""Tests for workflows.schedule.tables (fixtures are generated in tmp_path, never committed)."""

import csv
import io
from datetime import date, datetime
from pathlib import Path

import docx
import openpyxl
import pytest

from workflows.kernel.errors import DomainError
from workflows.schedule.dates import parse_when
from workflows.schedule.tables import RawTable, TableError, infer_unit_kind, read_table

# A copy of ../shared/reference/yanjiang-2022-open-day-notice.txt, so the suite is self-contained.
REFERENCE = Path(__file__).parent.parent / "fixtures" / "yanjiang-2022-open-day-notice.txt"
TITLE = "雁江区“政府开放月”活动安排一览表"
HEADER = ["序号", "单位名称", "活动主题", "开展时间"]
ROWS = [
    ["1", "区应急局", "科学防汛减灾  走进应急管理", "9月中旬"],
    ["2", "区发展和改革局", "走进雁江粮仓   体验收储之道", "9月16日"],
    ["3", "石岭镇", "面对面、心连心、零距离", "9月7日"],
]


def csv_bytes(rows, encoding="utf-8"):
    """Serialise rows as CSV in the given encoding."""
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode(encoding)


def save_docx(document) -> bytes:
    """Serialise a python-docx Document to bytes."""
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def save_xlsx(workbook) -> bytes:
    """Serialise an openpyxl Workbook to bytes."""
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def cells_of(table: RawTable) -> list[list[str]]:
    """The canonical cells of every row, in header order seq/unit/theme/when."""
    return [[r.cells.get(k, "") for k in ("seq", "unit", "theme", "when")] for r in table.rows]


# --- the reference notice ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def reference() -> RawTable:
    """The founding notice read through the plain-text layout reader."""
    return read_table(REFERENCE.read_bytes(), REFERENCE.name)


def test_reference_notice_has_39_rows_in_order(reference):
    """The notice's attachment table yields exactly rows 序号 1..39 with the four columns."""
    assert reference.source_format == "text"
    assert reference.encoding == "utf-8"
    assert reference.headers == HEADER
    assert reference.columns == dict(zip(["seq", "unit", "theme", "when"], HEADER, strict=True))
    assert reference.unknown_columns == []
    assert [r.cells["seq"] for r in reference.rows] == [str(n) for n in range(1, 40)]
    assert [r.row_number for r in reference.rows] == list(range(2, 41))
    assert all(r.extra == {} for r in reference.rows)


@pytest.mark.parametrize(
    ("seq", "unit", "when"),
    [
        (1, "区应急局", "9月中旬"),
        (2, "区发展和改革局", "9月16日"),
        (3, "雁江生态环境局", "9月17日"),
        (21, "区工管委", "9月中旬"),
        (22, "资溪街道办事处", "9月6日"),
        (36, "东峰镇", "8月中旬"),
        (39, "宝台镇", "9月5日"),
    ],
)
def test_reference_notice_spot_checks(reference, seq, unit, when):
    """Selected rows of the notice carry the expected unit and date text."""
    row = reference.rows[seq - 1]
    assert (row.cells["seq"], row.cells["unit"], row.cells["when"]) == (str(seq), unit, when)


def test_reference_notice_theme_keeps_inner_spacing(reference):
    """Cell text is stripped at the ends only; inner spacing in themes is preserved."""
    assert reference.rows[1].cells["theme"] == "走进雁江粮仓   体验收储之道"


def test_reference_notice_every_when_parses(reference):
    """Every 开展时间 in the notice parses with default_year=2022, without warnings."""
    parsed = [parse_when(r.cells["when"], 2022) for r in reference.rows]
    assert all(p.earliest.year == 2022 and p.warnings == () for p in parsed)
    assert (parsed[1].earliest, parsed[1].precision) == (date(2022, 9, 16), "day")
    assert (parsed[35].earliest, parsed[35].latest) == (date(2022, 8, 11), date(2022, 8, 20))


def test_reference_notice_unit_kinds(reference):
    """The notice's units are all departments, street offices or towns."""
    kinds = [infer_unit_kind(r.cells["unit"]) for r in reference.rows]
    assert kinds.count("department") == 21
    assert kinds.count("street_office") == 4
    assert kinds.count("town") == 14


# --- plain text ------------------------------------------------------------------------------


def text_layout(*rows: list[str], preamble: str = "通知正文。\n附件\n") -> bytes:
    """Render rows in the one-cell-per-tab-line layout, a blank line between rows."""
    body = "\n\n".join("\n".join(f"\t{c}" for c in row) for row in rows)
    return (preamble + "\n" + body + "\n").encode("utf-8")


def test_text_multi_paragraph_cell_and_unknown_column():
    """An untabbed line after a cell continues it; an unknown header lands in extra."""
    data = text_layout(HEADER + ["备注"], ["1", "区应急局", "科学防汛\n走进应急", "9月中旬", "无"])
    table = read_table(data, "notice.txt")
    assert table.unknown_columns == ["备注"]
    (row,) = table.rows
    assert row.cells["theme"] == "科学防汛\n走进应急"
    assert row.extra == {"备注": "无"}


def test_text_rows_without_blank_separators_are_split_by_header_width():
    """A block holding two rows' cells (missing blank line) becomes two rows."""
    data = text_layout(HEADER, ROWS[0] + ROWS[1], ROWS[2])
    assert cells_of(read_table(data, "notice.txt")) == ROWS


def test_text_text_after_table_ends_it():
    """A paragraph after the table (after a blank line) is not read as a row."""
    data = text_layout(HEADER, ROWS[0]) + "\n联系人：张三\n".encode()
    assert cells_of(read_table(data, "notice.txt")) == ROWS[:1]


def test_text_without_tabs_falls_back_to_one_cell_per_line():
    """A pasted table with no leading tabs is still read, one cell per line."""
    lines = "\n\n".join("\n".join(row) for row in [HEADER, *ROWS])
    table = read_table(f"{TITLE}\n\n{lines}\n".encode(), "paste.txt")
    assert cells_of(table) == ROWS


def test_text_gb18030():
    """A GB18030 text file is decoded and its encoding recorded."""
    data = text_layout(HEADER, ROWS[0]).decode("utf-8").encode("gb18030")
    table = read_table(data, "notice.txt")
    assert table.encoding == "gb18030" and cells_of(table) == ROWS[:1]


# --- docx --------------------------------------------------------------------------------------


def make_notice_docx() -> bytes:
    """A notice with body paragraphs, an unrelated table, then the schedule under a title row."""
    document = docx.Document()
    document.add_paragraph("关于开展“政府开放日”活动的通知")
    document.add_paragraph("各镇人民政府、街道办事处，区级有关部门：……")
    contacts = document.add_table(rows=2, cols=2)
    contacts.cell(0, 0).text, contacts.cell(0, 1).text = "联系人", "联系电话"
    contacts.cell(1, 0).text, contacts.cell(1, 1).text = "张三", "028-1234567"
    document.add_paragraph("附件")
    table = document.add_table(rows=6, cols=4)
    table.cell(0, 0).merge(table.cell(0, 3)).text = TITLE
    for c, text in enumerate(["序 号", "单位\n名称", "活动主题", "开展时间"]):
        table.cell(1, c).text = text
    for r, row in enumerate(ROWS, start=2):
        for c, text in enumerate(row):
            table.cell(r, c).text = text
    # Row 6 shares the unit of row 5 through a vertical merge.
    table.cell(4, 1).merge(table.cell(5, 1))
    for c, text in [(0, "4"), (2, "参观便民服务中心"), (3, "9月8日")]:
        table.cell(5, c).text = text
    return save_docx(document)


def test_docx_finds_schedule_after_body_text_and_title_row():
    """The first table with the required columns is used, its header found below a title row."""
    table = read_table(make_notice_docx(), "通知.docx")
    assert table.source_format == "docx" and table.encoding is None
    assert table.columns["seq"] == "序 号" and table.columns["unit"] == "单位\n名称"
    assert cells_of(table)[:3] == ROWS
    assert [r.row_number for r in table.rows] == [2, 3, 4, 5]


def test_docx_vertical_merge_repeats_the_merged_text():
    """A unit cell merged over two rows gives both rows that unit."""
    table = read_table(make_notice_docx(), "通知.docx")
    assert table.rows[3].cells == {
        "seq": "4",
        "unit": "石岭镇",
        "theme": "参观便民服务中心",
        "when": "9月8日",
    }


def test_docx_horizontal_merge_is_not_duplicated():
    """A cell spanning several columns fills only its first column."""
    document = docx.Document()
    table = document.add_table(rows=3, cols=4)
    for c, text in enumerate(HEADER):
        table.cell(0, c).text = text
    table.cell(1, 0).merge(table.cell(1, 3)).text = "一、区级部门"
    for c, text in enumerate(ROWS[0]):
        table.cell(2, c).text = text
    rows = read_table(save_docx(document), "t.docx").rows
    assert rows[0].cells == {"seq": "一、区级部门", "unit": "", "theme": "", "when": ""}
    assert rows[1].cells["unit"] == "区应急局"


def test_docx_without_schedule_table():
    """A document whose only table lacks the schedule columns is table_not_found."""
    document = docx.Document()
    document.add_paragraph("正文")
    document.add_table(rows=2, cols=2).cell(0, 0).text = "联系人"
    with pytest.raises(TableError) as err:
        read_table(save_docx(document), "x.docx")
    assert err.value.code == "table_not_found"


# --- xlsx --------------------------------------------------------------------------------------


def make_xlsx() -> bytes:
    """A workbook: an instructions sheet, then the schedule under a title row, with a real date."""
    workbook = openpyxl.Workbook()
    notes = workbook.active
    notes.title = "填表说明"
    notes.append(["请按模板填写"])
    sheet = workbook.create_sheet("安排表")
    sheet.append([TITLE])
    sheet.append([])
    sheet.append(HEADER + ["备注"])
    sheet.append([1.0, "区应急局", "科学防汛减灾", "9月中旬", None])
    sheet.append([])
    sheet.append([2, "区发展和改革局", "走进雁江粮仓", datetime(2022, 9, 16), "需预约"])
    sheet.append([3, "石岭镇", "零距离", date(2022, 9, 7), None])
    return save_xlsx(workbook)


def test_xlsx_title_row_numbers_dates_and_blank_rows():
    """Header below a title row; 1.0 -> '1'; Excel dates -> ISO; blank rows skipped."""
    table = read_table(make_xlsx(), "安排表.xlsx")
    assert table.source_format == "xlsx" and table.headers == HEADER + ["备注"]
    assert cells_of(table) == [
        ["1", "区应急局", "科学防汛减灾", "9月中旬"],
        ["2", "区发展和改革局", "走进雁江粮仓", "2022-09-16"],
        ["3", "石岭镇", "零距离", "2022-09-07"],
    ]
    assert [r.row_number for r in table.rows] == [4, 6, 7]
    assert table.unknown_columns == ["备注"]
    assert [r.extra for r in table.rows] == [{"备注": ""}, {"备注": "需预约"}, {"备注": ""}]


def test_xlsx_iso_dates_parse():
    """ISO strings produced from Excel dates are accepted by parse_when."""
    table = read_table(make_xlsx(), "安排表.xlsx")
    assert parse_when(table.rows[1].cells["when"], 2000).earliest == date(2022, 9, 16)


def test_xlsx_data_beyond_the_header_is_kept():
    """A value in a column with no header is kept in extra under its column number."""
    workbook = openpyxl.Workbook()
    workbook.active.append(HEADER)
    workbook.active.append(ROWS[0] + ["", "多出的内容"])
    (row,) = read_table(save_xlsx(workbook), "t.xlsx").rows
    assert row.extra == {"列6": "多出的内容"}


# --- csv ---------------------------------------------------------------------------------------


def test_csv_utf8_bom():
    """A UTF-8 CSV with BOM (Excel's 'CSV UTF-8') is read and its encoding recorded."""
    table = read_table(csv_bytes([HEADER, *ROWS], "utf-8-sig"), "t.csv")
    assert table.source_format == "csv" and table.encoding == "utf-8-sig"
    assert table.headers == HEADER and cells_of(table) == ROWS


def test_csv_utf8_without_bom():
    """A plain UTF-8 CSV is read as utf-8."""
    table = read_table(csv_bytes([HEADER, *ROWS]), "t.csv")
    assert table.encoding == "utf-8" and cells_of(table) == ROWS


def test_csv_gb18030_with_title_row():
    """A GB18030 CSV (Chinese Excel's default) with a title row above the header is read."""
    table = read_table(csv_bytes([[TITLE], HEADER, *ROWS], "gb18030"), "t.csv")
    assert table.encoding == "gb18030" and cells_of(table) == ROWS
    assert [r.row_number for r in table.rows] == [3, 4, 5]


def test_shuffled_renamed_columns_and_unknown_column():
    """承办单位/主题/活动时间 in any order map to unit/theme/when; 备注 is reported, not dropped."""
    rows = [
        ["活动时间", "备注", "主题", "承办单位", "联系 电话"],
        ["9月16日", "需预约", "走进雁江粮仓", "区发展和改革局", "028-1"],
    ]
    table = read_table(csv_bytes(rows), "t.csv")
    assert table.columns == {
        "when": "活动时间",
        "theme": "主题",
        "unit": "承办单位",
        "phone": "联系 电话",
    }
    assert table.unknown_columns == ["备注"]
    (row,) = table.rows
    assert row.cells == {
        "when": "9月16日",
        "theme": "走进雁江粮仓",
        "unit": "区发展和改革局",
        "phone": "028-1",
    }
    assert row.extra == {"备注": "需预约"}


def test_header_with_full_width_spaces_matches():
    """Header text is compared with spaces, full-width spaces and newlines removed."""
    table = read_table(
        csv_bytes([["单位\u3000名称", "活 动 主 题", "开展\n时间"], ROWS[0][1:]]), "t.csv"
    )
    assert set(table.columns) == {"unit", "theme", "when"}


def test_repeated_header_rows_are_skipped():
    """A header repeated inside the body (page-break copies) is not a data row."""
    table = read_table(csv_bytes([HEADER, ROWS[0], HEADER, ROWS[1]]), "t.csv")
    assert cells_of(table) == ROWS[:2]


def test_duplicate_canonical_column_is_kept_as_unknown():
    """A second header mapping to an already-used key is kept as an unknown column."""
    table = read_table(csv_bytes([HEADER + ["单位"], ROWS[0] + ["协办方"]]), "t.csv")
    assert table.unknown_columns == ["单位"]
    assert table.rows[0].extra == {"单位": "协办方"}


def test_missing_required_column_is_named():
    """A header without 活动主题 raises column_missing naming that column."""
    with pytest.raises(TableError) as err:
        read_table(
            csv_bytes([["序号", "单位名称", "开展时间"], ["1", "区应急局", "9月中旬"]]), "t.csv"
        )
    assert err.value.code == "column_missing"
    assert "活动主题" in err.value.message_zh and "theme" in err.value.message_en
    assert "t.csv" in err.value.message_zh


def test_no_table_found():
    """A file with no header-like row raises table_not_found."""
    with pytest.raises(TableError) as err:
        read_table("一些文字\n另一行\n".encode(), "t.csv")
    assert err.value.code == "table_not_found"


def test_undecodable_bytes():
    """Bytes that are neither UTF-8 nor GB18030 raise encoding_unknown."""
    for name in ("t.csv", "t.txt"):
        with pytest.raises(TableError) as err:
            read_table("序号,单位名称".encode() + b"\xff\x81\x20", name)
        assert err.value.code == "encoding_unknown"


# --- failures common to all formats -----------------------------------------------------------


@pytest.mark.parametrize("name", ["t.csv", "t.txt", "t.docx", "t.xlsx"])
@pytest.mark.parametrize("data", [b"", b"  \r\n\n"])
def test_empty_file(name, data):
    """An empty (or whitespace-only) upload raises file_empty."""
    with pytest.raises(TableError) as err:
        read_table(data, name)
    assert err.value.code == "file_empty"


@pytest.mark.parametrize("name", ["安排表.pdf", "安排表.xls", "安排表.doc", "安排表"])
def test_unsupported_format(name):
    """Other suffixes (or none) raise format_unsupported with a bilingual message."""
    with pytest.raises(TableError) as err:
        read_table(b"%PDF-1.7 ...", name)
    assert err.value.code == "format_unsupported"
    assert ".docx" in err.value.message_zh and ".xlsx" in err.value.message_en


@pytest.mark.parametrize("name", ["t.docx", "t.xlsx"])
def test_corrupt_container(name):
    """A .docx/.xlsx that is not a valid zip package raises file_unreadable."""
    with pytest.raises(TableError) as err:
        read_table(b"this is not a zip file", name)
    assert err.value.code == "file_unreadable"


def test_suffix_is_case_insensitive(tmp_path):
    """'.CSV' is treated like '.csv'; read_table works from bytes of a file on disk."""
    path = tmp_path / "安排表.CSV"
    path.write_bytes(csv_bytes([HEADER, *ROWS], "gb18030"))
    assert cells_of(read_table(path.read_bytes(), path.name)) == ROWS


def test_table_error_is_a_value_error():
    """TableError carries a code and both messages and is a ValueError."""
    error = TableError("x", "中文", "english")
    assert isinstance(error, ValueError) and str(error) == "中文 / english"


def test_table_error_is_a_422_domain_error():
    """TableError is a DomainError the API answers with 422 and its stable code."""
    with pytest.raises(TableError) as caught:
        read_table(b"a,b\n", "plan.pdf")
    error = caught.value
    assert isinstance(error, DomainError) and error.status == 422
    assert error.as_dict() == {
        "code": "format_unsupported",
        "message": error.message_zh,
        "message_en": error.message_en,
        "details": {},
    }


# --- unit kinds --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("石岭镇", "town"),
        ("某某乡", "town"),
        ("中和镇人民政府", "town"),
        ("资溪街道办事处", "street_office"),
        ("三贤街道", "street_office"),
        ("区发展和改革局", "department"),
        ("雁江生态环境局", "department"),
        ("区工管委", "department"),
        ("区政府办", "department"),
        ("区卫生健康委员会", "department"),
        ("区政务服务管理局", "department"),
        ("区疾病预防控制中心", "institution"),
        ("雁江区人民医院", "institution"),
        ("区第一中学学校", "institution"),
        ("区农业科学研究所", "institution"),
        ("某事业单位", "institution"),
        ("区政务服务中心", "window"),
        ("不动产登记窗口", "window"),
        ("便民服务大厅", "window"),
        ("某某公司", "other"),
        ("", "other"),
    ],
)
def test_infer_unit_kind(name, kind):
    """Unit names are classified by their characteristic suffixes."""
    assert infer_unit_kind(name) == kind
