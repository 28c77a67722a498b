"""Read a campaign schedule table (序号 / 单位名称 / 活动主题 / 开展时间) from an uploaded file.

:func:`read_table` accepts .docx, .xlsx, .csv and .txt (the plain-text layout of a notice, one
table cell per tab-prefixed line) and returns a :class:`RawTable`: the header it found, each
column mapped to a canonical key, and every data row as stripped text.  Nothing is interpreted
beyond that; dates are parsed separately by :mod:`workflows.schedule.dates`.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from itertools import chain, islice
from pathlib import PurePath

from workflows.files import isolated
from workflows.files.archive_guard import ImportLimits, capped_rows, check_archive
from workflows.kernel.errors import InvalidData

__all__ = [
    "COLUMN_SYNONYMS",
    "REQUIRED_COLUMNS",
    "RawRow",
    "RawTable",
    "TableError",
    "infer_unit_kind",
    "read_table",
]

# Canonical column key -> header texts real notices use (compared with all whitespace removed).
COLUMN_SYNONYMS: dict[str, tuple[str, ...]] = {
    "seq": ("序号", "编号"),
    "unit": ("单位名称", "承办单位", "责任单位", "开放单位", "单位"),
    "theme": ("活动主题", "主题"),
    "when": ("开展时间", "活动时间", "时间", "开放时间"),
    "location": ("地点", "活动地点"),
    "invitees": ("邀请对象", "开放对象"),
    "content": ("活动内容", "内容"),
    "contact": ("联系人",),
    "phone": ("联系电话", "电话"),
}
REQUIRED_COLUMNS: tuple[str, ...] = ("unit", "theme", "when")

_HEADER_LOOKUP = {name: key for key, names in COLUMN_SYNONYMS.items() for name in names}
_HEADER_SCAN_ROWS = 10  # title rows may sit above the header in xlsx/csv
_DOCX_HEADER_SCAN_ROWS = 5
_WHITESPACE_RE = re.compile(r"\s+")  # includes full-width spaces, NBSP and newlines

# Unit kinds, tried in order against the whitespace-free unit name.
_UNIT_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("window", re.compile(r"窗口|大厅")),
    ("street_office", re.compile(r"街道(办事处|办)?$")),
    ("town", re.compile(r"[镇乡](人民政府)?$")),
    ("department", re.compile(r"(局|委|委员会|管委会|办|办公室|部)$")),
    ("window", re.compile(r"政务服务")),  # 政务服务中心 etc.; 政务服务管理局 matched above
    ("institution", re.compile(r"(中心|院|所|学校|医院)$|事业单位")),
)


@dataclass
class RawRow:
    """One data row: canonical cells plus cells under unknown headers."""

    row_number: int
    cells: dict[str, str]
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class RawTable:
    """A schedule table as read from a file, before any interpretation."""

    source_format: str  # "docx" | "xlsx" | "csv" | "text"
    headers: list[str]
    columns: dict[str, str]
    unknown_columns: list[str]
    rows: list[RawRow]
    encoding: str | None = None


class TableError(InvalidData):
    """A file that cannot be read as a schedule table (HTTP 422; also a ValueError)."""


def _normalise(text: str) -> str:
    """Fold full-width forms and drop all whitespace, for header comparison."""
    return _WHITESPACE_RE.sub("", unicodedata.normalize("NFKC", text))


@dataclass
class _Header:
    """A candidate header row and what each of its columns means."""

    cells: list[str]
    # Per column: ("cell", key), ("extra", unknown header name) or None for a blank header.
    slots: list[tuple[str, str] | None]
    columns: dict[str, str]
    unknown: list[str]

    @property
    def missing(self) -> list[str]:
        """Required keys this header lacks."""
        return [key for key in REQUIRED_COLUMNS if key not in self.columns]

    @property
    def signature(self) -> tuple[str, ...]:
        """Normalised non-blank header texts, to spot the header repeated in the body."""
        return tuple(_normalise(c) for c in self.cells if c)


def _match_header(cells: list[str]) -> _Header:
    """Map each header cell to a canonical key; anything else is an unknown column."""
    while cells and not cells[-1]:
        cells = cells[:-1]
    slots: list[tuple[str, str] | None] = []
    columns: dict[str, str] = {}
    unknown: list[str] = []
    for i, text in enumerate(cells):
        key = _HEADER_LOOKUP.get(_normalise(text))
        if key and key not in columns:
            columns[key] = text
            slots.append(("cell", key))
        elif text:
            name = text if text not in unknown else f"{text}（列{i + 1}）"
            unknown.append(name)
            slots.append(("extra", name))
        else:
            slots.append(None)
    return _Header(list(cells), slots, columns, unknown)


class _HeaderSearch:
    """Remembers the best partial header seen, to explain why no table was found."""

    def __init__(self, filename: str, limits: ImportLimits | None = None) -> None:
        self.filename = filename
        self.limits = limits or ImportLimits()
        self.best: _Header | None = None

    def consider(self, header: _Header) -> None:
        """Keep header if it is the most header-like row so far (two or more known columns)."""
        if len(header.columns) >= 2 and (
            self.best is None or len(header.columns) > len(self.best.columns)
        ):
            self.best = header

    def error(self) -> TableError:
        """The error to raise when no complete header was found."""
        if self.best is None:
            return TableError(
                "table_not_found",
                f"在“{self.filename}”中未找到活动安排表（需要包含单位名称、活动主题、开展时间列）",
                f'no schedule table found in "{self.filename}" '
                "(expected columns 单位名称, 活动主题, 开展时间)",
            )
        missing = self.best.missing
        zh = "、".join(f"“{COLUMN_SYNONYMS[k][0]}”" for k in missing)
        en = ", ".join(f'"{k}" ({"/".join(COLUMN_SYNONYMS[k])})' for k in missing)
        return TableError(
            "column_missing",
            f"“{self.filename}”的表格缺少必需的列：{zh}",
            f'the table in "{self.filename}" is missing required column(s): {en}',
        )


def _to_raw_row(header: _Header, cells: list[str], row_number: int) -> RawRow | None:
    """Turn one row of cell texts into a RawRow; None for blank rows and repeated headers."""
    if not any(cells):
        return None
    if tuple(_normalise(c) for c in cells if c) == header.signature:
        return None
    row_cells = dict.fromkeys(header.columns, "")
    extra = dict.fromkeys(header.unknown, "")
    for i, text in enumerate(cells):
        slot = header.slots[i] if i < len(header.slots) else None
        if slot is None:
            if text:
                extra[f"列{i + 1}"] = text  # data under a blank header or past the last column
        elif slot[0] == "cell":
            row_cells[slot[1]] = text
        else:
            extra[slot[1]] = text
    return RawRow(row_number, row_cells, extra)


def _table_from_rows(
    source_format: str,
    rows: Iterable[tuple[int, list[str]]],
    search: _HeaderSearch,
    scan: int,
    encoding: str | None = None,
    number_from_header: bool = False,
) -> RawTable | None:
    """Find the header within the first `scan` rows and read every row after it."""
    it = iter(capped_rows(rows, search.filename, search.limits))
    head = list(islice(it, scan))
    for pos, (_, cells) in enumerate(head):
        header = _match_header(cells)
        if header.missing:
            search.consider(header)
            continue
        body = chain(head[pos + 1 :], it)
        raw_rows = []
        for offset, (number, row_cells) in enumerate(body, start=2):
            row = _to_raw_row(header, row_cells, offset if number_from_header else number)
            if row is not None:
                raw_rows.append(row)
        return RawTable(
            source_format,
            header.cells,
            header.columns,
            header.unknown,
            raw_rows,
            encoding,
        )
    return None


# --- .docx -------------------------------------------------------------------------------------


def _docx_rows(table) -> Iterator[tuple[int, list[str]]]:
    """Yield each table row's cell texts, one per layout-grid column.

    python-docx repeats a horizontally merged cell once per spanned column and returns the top
    cell for each row of a vertical merge; we keep the first copy of a horizontal span (the rest
    become "") and let vertical merges repeat their text into every row they cover.
    """
    for index, row in enumerate(table.rows, start=1):
        texts = [""] * row.grid_cols_before
        previous = None
        for cell in row.cells:
            texts.append("" if cell._tc is previous else cell.text.strip())
            previous = cell._tc
        yield index, texts


def _read_docx(data: bytes, search: _HeaderSearch) -> RawTable | None:
    """Read the first table in a .docx whose header has the required columns."""
    import docx  # python-docx; imported lazily so csv/txt imports stay light

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises assorted zip/XML/package errors
        raise _unreadable(search.filename, "docx") from exc
    for table in document.tables:
        found = _table_from_rows(
            "docx", _docx_rows(table), search, _DOCX_HEADER_SCAN_ROWS, number_from_header=True
        )
        if found is not None:
            return found
    return None


# --- .xlsx -------------------------------------------------------------------------------------


def _xlsx_text(value: object) -> str:
    """Render one spreadsheet value as the text a person would read in the cell."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        if value.time() == time():
            return value.date().isoformat()
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 序号 typed as 1.0
    return str(value).strip()


def _read_xlsx(data: bytes, search: _HeaderSearch) -> RawTable | None:
    """Read the first worksheet that has a header row near the top."""
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises assorted zip/XML errors
        raise _unreadable(search.filename, "xlsx") from exc
    try:
        for sheet in workbook.worksheets:
            sheet.reset_dimensions()  # some writers store a wrong <dimension>; read what is there
            rows = (
                (number, [_xlsx_text(v) for v in values])
                for number, values in enumerate(
                    sheet.iter_rows(min_row=1, values_only=True), start=1
                )
            )
            found = _table_from_rows("xlsx", rows, search, _HEADER_SCAN_ROWS)
            if found is not None:
                return found
    finally:
        workbook.close()
    return None


# --- .csv and .txt -----------------------------------------------------------------------------


def _decode(data: bytes, filename: str) -> tuple[str, str]:
    """Decode text as UTF-8 (with or without BOM), UTF-16 with BOM, or GB18030."""
    candidates = [("utf-8", "utf-8"), ("gb18030", "gb18030")]
    if data.startswith(codecs.BOM_UTF8):
        candidates = [("utf-8-sig", "utf-8-sig")]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = [("utf-16", "utf-16")]
    for codec, label in candidates:
        try:
            return data.decode(codec), label
        except UnicodeDecodeError:
            continue
    raise TableError(
        "encoding_unknown",
        f"无法识别“{filename}”的文字编码（支持 UTF-8 和 GB18030）",
        f'cannot decode "{filename}" (UTF-8 and GB18030 are supported)',
    )


def _read_csv(text: str, encoding: str, search: _HeaderSearch) -> RawTable | None:
    """Read a comma-separated table; title rows may precede the header."""
    reader = csv.reader(io.StringIO(text, newline=""))
    rows = ((number, [c.strip() for c in cells]) for number, cells in enumerate(reader, start=1))
    try:
        return _table_from_rows("csv", rows, search, _HEADER_SCAN_ROWS, encoding)
    except csv.Error as exc:
        raise _unreadable(search.filename, "csv") from exc


def _text_tables(lines: list[str], tab_cells: bool) -> list[list[list[str]]]:
    """Group plain-text lines into tables of rows (blocks of cell lines between blank lines).

    With tab_cells, a cell is a line starting with a tab, an untabbed line straight after a cell
    continues that cell (a multi-paragraph cell), and any other text line ends the table.
    Without tab_cells every non-blank line is a cell.
    """
    tables: list[list[list[str]]] = []
    blocks: list[list[str]] = []
    current: list[str] = []
    for line in lines:
        stripped = line.strip()
        if line.startswith("\t") if tab_cells else stripped:
            current.append(stripped)
        elif not stripped:
            if current:
                blocks.append(current)
                current = []
        elif current:
            current[-1] = f"{current[-1]}\n{stripped}"
        elif blocks:
            tables.append(blocks)
            blocks = []
    if current:
        blocks.append(current)
    if blocks:
        tables.append(blocks)
    return tables


def _read_text(text: str, encoding: str, search: _HeaderSearch) -> RawTable | None:
    """Read the one-cell-per-line table layout of a notice converted to plain text."""
    lines = text.splitlines()
    for tab_cells in (True, False):
        for blocks in _text_tables(lines, tab_cells):
            for pos, block in enumerate(blocks):
                header = _match_header(block)
                if header.missing:
                    search.consider(header)
                    continue
                width = len(header.cells)
                rows = [block]
                for row in blocks[pos + 1 :]:
                    # A block holding several rows' worth of cells lost its blank separators.
                    if len(row) > width and len(row) % width == 0:
                        rows.extend(row[i : i + width] for i in range(0, len(row), width))
                    else:
                        rows.append(row)
                return _table_from_rows(
                    "text", enumerate(rows, start=1), search, 1, encoding, number_from_header=True
                )
    return None


# --- entry points ------------------------------------------------------------------------------


def _unreadable(filename: str, kind: str) -> TableError:
    """Error for a file whose container format is broken."""
    return TableError(
        "file_unreadable",
        f"无法读取文件“{filename}”：不是有效的 .{kind} 文件",
        f'cannot read "{filename}": not a valid .{kind} file',
    )


def read_table(data: bytes, filename: str, limits: ImportLimits | None = None) -> RawTable:
    """Read the schedule table from a .docx, .xlsx, .csv or .txt file's bytes.

    A .docx/.xlsx is checked against the archive limits before it is opened; rows and cells of
    every format are capped while they are read (workflows/files/archive_guard.py).
    """
    suffix = PurePath(filename).suffix.lower()
    if suffix not in (".docx", ".xlsx", ".csv", ".txt"):
        raise TableError(
            "format_unsupported",
            f"不支持的文件格式“{suffix or filename}”，请上传 .docx、.xlsx、.csv 或 .txt 文件",
            f'unsupported file format "{suffix or filename}"; '
            "upload a .docx, .xlsx, .csv or .txt file",
        )
    if not data.strip():
        raise TableError("file_empty", f"文件“{filename}”是空的", f'file "{filename}" is empty')
    search = _HeaderSearch(filename, limits)
    try:
        if suffix in (".docx", ".xlsx"):
            # The archive's directory is checked here (cheap, at once); the parse runs in a
            # child within time and memory limits (workflows/files/isolated.py).
            check_archive(data, filename, search.limits)
            return isolated.run(
                search.limits, filename, _read_checked, data, filename, suffix, search
            )
        return _read_checked(data, filename, suffix, search)
    except TableError:
        raise
    except InvalidData as exc:  # the archive guard's refusals, as this module's error type
        raise TableError(
            exc.code, exc.message_zh, exc.message_en, status=exc.status, details=exc.details
        ) from None


def _read_checked(data: bytes, filename: str, suffix: str, search: _HeaderSearch) -> RawTable:
    if suffix in (".docx", ".xlsx"):
        check_archive(data, filename, search.limits)
    if suffix == ".docx":
        table = _read_docx(data, search)
    elif suffix == ".xlsx":
        table = _read_xlsx(data, search)
    else:
        text, encoding = _decode(data, filename)
        if not text.strip():
            raise TableError("file_empty", f"文件“{filename}”是空的", f'file "{filename}" is empty')
        reader = _read_csv if suffix == ".csv" else _read_text
        table = reader(text, encoding, search)
    if table is None:
        raise search.error()
    return table


def infer_unit_kind(name: str) -> str:
    """Guess what sort of body a unit is: town, street_office, department, institution, window."""
    compact = _WHITESPACE_RE.sub("", name or "")
    for kind, pattern in _UNIT_KINDS:
        if pattern.search(compact):
            return kind
    return "other"
