"""Hostile imports, generated here: zip bombs, huge shared strings, too many parts, rows and cells
are refused before (or while) parsing, fast and in little memory (issue 14)."""

from __future__ import annotations

import io
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from tests.conftest import Walker, World, error_of
from workflows.files.archive_guard import ImportLimits
from workflows.kernel.errors import InvalidData
from workflows.schedule.tables import read_table

HEADER = ["序号", "单位名称", "活动主题", "开展时间"]


def _zip(members: dict[str, bytes | tuple[bytes, int]]) -> bytes:
    """A deflated zip; a (chunk, repeat) value is streamed so huge members stay cheap."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            if isinstance(content, tuple):
                chunk, repeat = content
                with archive.open(name, "w", force_zip64=True) as member:
                    for _ in range(repeat):
                        member.write(chunk)
            else:
                archive.writestr(name, content)
    return out.getvalue()


def _bomb_docx(unpacked_mb: int) -> bytes:
    """A .docx whose document.xml unpacks to `unpacked_mb` MB of one repeated paragraph."""
    para = b"<w:p><w:r><w:t>" + b"A" * 1000 + b"</w:t></w:r></w:p>"
    return _zip(
        {
            "[Content_Types].xml": b"<Types/>",
            "word/document.xml": (para * 1000, unpacked_mb),
        }
    )


def _shared_strings_xlsx(unpacked_mb: int) -> bytes:
    """An .xlsx whose sharedStrings.xml unpacks to `unpacked_mb` MB."""
    si = b"<si><t>" + b"x" * 1000 + b"</t></si>"
    return _zip(
        {
            "[Content_Types].xml": b"<Types/>",
            "xl/workbook.xml": b"<workbook/>",
            "xl/sharedStrings.xml": (si * 1000, unpacked_mb),
        }
    )


def _xlsx_rows(rows: int, cols: int = 4) -> bytes:
    import openpyxl

    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("安排")
    sheet.append(HEADER + [f"备注{i}" for i in range(cols - 4)])
    for i in range(rows):
        sheet.append([i + 1, "区住建局", f"主题{i}", "2022-09-16"] + ["x"] * (cols - 4))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _refusal(data: bytes, name: str, limits: ImportLimits | None = None) -> InvalidData:
    with pytest.raises(InvalidData) as caught:
        read_table(data, name, limits)
    return caught.value


def test_zip_bomb_docx_is_refused_before_parsing_in_little_memory() -> None:
    data = _bomb_docx(500)  # 500 MB unpacked, about 0.5 MB on the wire
    assert len(data) < 2 * 1024 * 1024
    tracemalloc.start()
    started = time.process_time()  # CPU, not the wall clock: other tests run beside this one
    error = _refusal(data, "炸弹.docx")
    elapsed = time.process_time() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert (error.code, error.status) == ("archive_member_too_large", 413)
    assert error.details["member"] == "word/document.xml"
    assert elapsed < 0.5, elapsed
    assert peak < 5 * len(data) + 1024 * 1024, peak


def test_compression_ratio_is_refused_under_the_size_caps() -> None:
    data = _bomb_docx(10)  # 10 MB unpacked: under the member cap, ratio far above 100
    error = _refusal(data, "压缩.docx")
    assert (error.code, error.status) == ("archive_ratio_too_high", 422)
    assert error.details["ratio"] > 100


def test_huge_shared_strings_xlsx_is_refused() -> None:
    data = _shared_strings_xlsx(340)
    started = time.process_time()
    error = _refusal(data, "字符串.xlsx")
    assert time.process_time() - started < 0.5
    assert (error.code, error.status) == ("archive_member_too_large", 413)
    assert error.details["member"] == "xl/sharedStrings.xml"


def test_total_unpacked_size_and_member_count() -> None:
    members = {f"word/part{i}.xml": b"<p>" + bytes(range(256)) * 40 for i in range(30)}
    data = _zip(members)
    small = ImportLimits(max_unpacked_bytes=100_000)
    error = _refusal(data, "多.docx", small)
    assert (error.code, error.status) == ("archive_too_large", 413)
    error = _refusal(data, "多.docx", ImportLimits(max_members=10))
    assert (error.code, error.status) == ("archive_too_many_members", 422)
    many = _zip({f"x/{i}.xml": b"" for i in range(2500)})
    assert _refusal(many, "多.xlsx").code == "archive_too_many_members"


def test_not_a_zip_is_unreadable() -> None:
    error = _refusal(b"PK\x03\x04 not really a zip", "坏.xlsx")
    assert (error.code, error.status) == ("file_unreadable", 422)


def test_row_and_cell_caps() -> None:
    error = _refusal(_xlsx_rows(60), "多行.xlsx", ImportLimits(max_rows=50))
    assert (error.code, error.status) == ("import_too_many_rows", 413)
    error = _refusal(_xlsx_rows(20, cols=40), "多列.xlsx", ImportLimits(max_cells=500))
    assert (error.code, error.status) == ("import_too_many_cells", 413)
    text = "\n".join([",".join(HEADER)] + [f"{i},区住建局,主题,2022-09-16" for i in range(80)])
    error = _refusal(text.encode(), "多行.csv", ImportLimits(max_rows=50))
    assert error.code == "import_too_many_rows"
    # under the caps the same table reads
    assert len(read_table(_xlsx_rows(40), "多行.xlsx", ImportLimits(max_rows=50)).rows) == 40


def test_default_row_cap_stops_a_huge_sheet() -> None:
    error = _refusal(_xlsx_rows(5100), "大表.xlsx")
    assert error.code == "import_too_many_rows"


def test_api_import_of_a_bomb_answers_fast(walker: Walker, world: World, tmp_path: Path) -> None:
    url = f"/api/v1/campaigns/{world.campaign_id}/schedule-imports"
    cases = [
        ("炸弹.docx", _bomb_docx(500), 413, "archive_member_too_large"),
        ("字符串.xlsx", _shared_strings_xlsx(340), 413, "archive_member_too_large"),
        ("压缩.docx", _bomb_docx(10), 422, "archive_ratio_too_high"),
    ]
    for name, data, status, code in cases:
        started = time.process_time()  # the app runs in this process (TestClient)
        response = walker.client.post(
            url, files={"file": (name, data)}, headers=world.headers["supervisor"]
        )
        assert time.process_time() - started < 2.0
        assert response.status_code == status, response.text
        error = error_of(response)
        assert error["code"] == code
        assert error["message"] and error["message_en"]
