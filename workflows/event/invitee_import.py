"""Bulk invitees (批量添加): a pasted list or an uploaded .xlsx/.csv, one person a line, read
into rows the invitee workflow adds in one go (workflows/event/invitees.py `add`, so limits,
versions and the audit line are those of adding one by one).

A line holds: name, kind (人大代表 / 政协委员 / 市民代表), for citizens the invitation mode
(定向邀请 / 公开邀请), then optionally the organisation, the phone and the e-mail address (for
the invitation, issue 27). Tabs, commas (, ，、),
semicolons and spaces separate the fields. Nothing here writes: `parse` says what each line
would add and what is wrong with it, `quota_with` what the list would then count."""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import PurePath
from typing import Any

from models import Event, InviteeCategory
from workflows.event import invitees
from workflows.files import isolated
from workflows.files.archive_guard import ImportLimits, capped_rows, check_archive
from workflows.kernel.errors import DomainError, InvalidData

MAX_ROWS = 200  # people in one paste or file
MAX_TEXT = 40_000  # characters of a pasted list
KINDS = {"人大代表": "npc_deputy", "政协委员": "cppcc_member", "市民代表": "citizen"}
MODES = {"定向邀请": "targeted", "定向": "targeted", "公开邀请": "public", "公开": "public"}
HEADER_NAMES = {"姓名", "名字"}
FIELD_LABELS = {
    "name": "姓名",
    "category": "人员类别",
    "invitation": "邀请方式",
    "organization": "工作单位或社区",
    "phone": "联系电话",
    "email": "电子邮箱",
}
_DELIMITED = re.compile(r"[\t,，、;；]")
_SEPARATORS = re.compile(r"\s*[\t,，、;；]\s*")
_PHONE = re.compile(r"^\+?[\d\-— ]{7,20}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


@dataclass
class Row:
    """One line as read: its number, its text, the person it adds, or what is wrong with it."""

    line: int
    text: str
    person: dict[str, Any] | None = None
    errors: list[str] = field(default_factory=list)


def _too_many() -> InvalidData:
    return InvalidData(
        "invitee_import_too_many",
        f"一次最多添加 {MAX_ROWS} 人，请分批添加",
        f"at most {MAX_ROWS} people at a time",
        status=413,
        details={"limit": MAX_ROWS},
    )


def _fields(text: str) -> list[str]:
    """A line's fields: split on tabs/commas when it has them, else on spaces."""
    if _DELIMITED.search(text):
        return [f.strip() for f in _SEPARATORS.split(text.strip())]
    return text.split()


def _person(cells: list[str]) -> tuple[dict[str, Any], list[str]]:
    """The fields of one line, and the problems a person can fix (without the line number)."""
    cells = [c for c in cells if c != ""] if len(cells) > 3 else cells
    name = cells[0] if cells else ""
    kind_text = cells[1] if len(cells) > 1 else ""
    rest = cells[2:]
    problems = []
    category = KINDS.get(kind_text.replace(" ", ""))
    if category is None:
        allowed = "、".join(KINDS)
        wrong = f"人员类别：“{kind_text}”应为{allowed}之一"
        problems.append(wrong if kind_text else "人员类别：未填写")
    mode = MODES.get(rest[0]) if rest else None
    if mode is not None or (rest and rest[0] in ("", "-", "—")):
        rest = rest[1:]
    phone = next((c for c in rest if _PHONE.match(c)), None)
    email = next((c for c in rest if _EMAIL.match(c)), None)  # for the invitation (issue 27)
    organization = " ".join(c for c in rest if c and c not in (phone, email)) or None
    person = {
        "name": name,
        "category": category,
        "invitation": mode,
        "targeted_kind": None,
        "organization": organization,
        "phone": phone.replace(" ", "") if phone else None,
        "email": email,
    }
    if category == InviteeCategory.citizen and mode is None:
        problems.append("邀请方式：市民代表须注明定向邀请或公开邀请")
    elif category is not None and category != InviteeCategory.citizen and mode is not None:
        problems.append("邀请方式：仅市民代表填写，人大代表和政协委员不填")
    return person, problems


LENGTHS = {"name": 50, "organization": 200, "phone": 32, "email": 200}  # as InviteeIn allows


def _validated(person: dict[str, Any]) -> list[str]:
    """Fields longer than the invitee record takes, in Chinese with the field's label."""
    return [
        f"{FIELD_LABELS[key]}：不能超过 {limit} 个字"
        for key, limit in LENGTHS.items()
        if len(person.get(key) or "") > limit
    ]


def parse(text: str) -> list[Row]:
    """Every non-empty line of `text` as a row (a header line starting 姓名 is skipped)."""
    if len(text) > MAX_TEXT:
        raise _too_many()
    rows: list[Row] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        cells = _fields(line)
        if not rows and cells and cells[0] in HEADER_NAMES:
            continue
        if len(rows) >= MAX_ROWS:
            raise _too_many()
        person, problems = _person(cells)
        if not person["name"]:
            problems.insert(0, "姓名：未填写")
        elif person["category"] is not None:
            problems += _validated(person)
        row = Row(number, line.strip(), person)
        row.errors = [f"第 {number} 行：{p}" for p in problems]
        rows.append(row)
    return rows


def quota_with(session: Any, event: Event, rules: Any, rows: list[Row]) -> dict[str, int]:
    """The invite rule's meter (invitees.meter) as it would read with `rows` added."""
    m = invitees.meter(session, event, rules)
    people = [r.person for r in rows if r.person and not r.errors]
    total = m["invited"] + len(people)
    citizens = m["citizens"] + sum(1 for p in people if p["category"] == InviteeCategory.citizen)
    return {
        **m,
        "invited": total,
        "citizens": citizens,
        "citizens_needed": rules.citizens_needed(total),
    }


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip()


def _decode(data: bytes, filename: str) -> str:
    if data.startswith(codecs.BOM_UTF8):
        return data.decode("utf-8-sig")
    for codec in ("utf-8", "gb18030"):
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    raise InvalidData(
        "encoding_unknown",
        f"无法识别“{filename}”的文字编码（支持 UTF-8 和 GB18030）",
        f'cannot decode "{filename}" (UTF-8 and GB18030 are supported)',
    )


def read_upload(data: bytes, filename: str, limits: ImportLimits | None = None) -> str:
    """An uploaded .xlsx or .csv as the text a person would paste (a tab between cells), read
    within the archive guard's limits (`limits`: the settings'; its row and cell caps are this
    list's) and at most MAX_ROWS (+ a header) rows; an .xlsx is parsed in a child process
    within the limits' time and memory (workflows/files/isolated.py)."""
    suffix = PurePath(filename).suffix.lower()
    limits = replace(limits or ImportLimits(), max_rows=MAX_ROWS + 1, max_cells=(MAX_ROWS + 1) * 20)
    if suffix == ".csv":
        text = _decode(data, filename)
        rows = enumerate(csv.reader(io.StringIO(text, newline="")), start=1)
    elif suffix == ".xlsx":
        check_archive(data, filename, limits)
        return isolated.run(limits, filename, _read_xlsx, data, filename, limits)
    else:
        raise DomainError(
            "format_unsupported",
            f"不支持的文件格式“{suffix or filename}”，请上传 .xlsx 或 .csv 文件",
            f'unsupported file format "{suffix or filename}"; upload an .xlsx or .csv file',
            status=422,
        )
    kept = ((n, cells) for n, cells in rows if any(c.strip() for c in cells))
    return "\n".join(
        "\t".join(c.strip() for c in cells) for _, cells in capped_rows(kept, filename, limits)
    )


def _read_xlsx(data: bytes, filename: str, limits: ImportLimits) -> str:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises assorted zip/XML errors
        raise InvalidData(
            "file_unreadable", f"无法读取“{filename}”", f'cannot read "{filename}"'
        ) from exc
    try:
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()
        rows = (
            (n, [_cell(v) for v in values])
            for n, values in enumerate(sheet.iter_rows(values_only=True), start=1)
            if any(v not in (None, "") for v in values)
        )
        return "\n".join("\t".join(cells) for _, cells in capped_rows(rows, filename, limits))
    finally:
        workbook.close()
