"""Imports parse a .docx/.xlsx in a child process within time and memory limits (issue 29): a
file that needs more is refused with a clear error (422, a code, Chinese and English), the
API worker does not grow, and nothing is written."""

from __future__ import annotations

import io
import os
from pathlib import Path

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlmodel import func, select

from models import Event
from settings import Settings
from tests.conftest import World
from tests.files.test_archive_memory import MB, _docx_with_document_part
from workflows.campaign import notice_campaign
from workflows.event import invitee_import
from workflows.files import isolated
from workflows.files.archive_guard import ImportLimits
from workflows.kernel.errors import InvalidData
from workflows.schedule import tables

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc")


def _hwm_kb() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))


HEAVY = _docx_with_document_part(4 * MB - 64 * 1024)  # under the archive caps; ~60 MB to parse


def test_a_parse_runs_in_a_child_and_its_refusals_come_back_as_they_were() -> None:
    assert isolated.run(ImportLimits(), "probe", os.getpid) != os.getpid()
    with pytest.raises(tables.TableError) as refused:
        tables.read_table(HEAVY, "无表.docx", ImportLimits())
    assert refused.value.code == "table_not_found" and "无表.docx" in refused.value.message_zh


def test_a_file_needing_more_memory_than_the_limit_is_refused(tmp_path: Path) -> None:
    limits = ImportLimits(parse_memory_bytes=16 * MB)  # the 4 MB part needs ~40 MB
    small = tables.read_table(_schedule_xlsx(), "小.xlsx", limits)  # a real table still reads
    assert small.rows
    before = _hwm_kb()
    with pytest.raises(InvalidData) as refused:
        tables.read_table(HEAVY, "大.docx", limits)
    error = refused.value
    assert (error.code, error.status) == ("parse_memory_exceeded", 422)
    assert "大.docx" in error.message_zh and "内存" in error.message_zh
    assert "memory limit" in error.message_en
    assert _hwm_kb() - before < 20 * 1024  # the parse's memory was the child's, not ours
    with pytest.raises(InvalidData) as notice:
        notice_campaign.read_notice(HEAVY, "通知.docx", limits)
    assert notice.value.code == "parse_memory_exceeded"


def test_a_file_taking_longer_than_the_limit_is_refused() -> None:
    with pytest.raises(InvalidData) as refused:
        tables.read_table(HEAVY, "慢.docx", ImportLimits(parse_seconds=0.05))
    error = refused.value
    assert (error.code, error.status) == ("parse_time_exceeded", 422)
    assert "慢.docx" in error.message_zh and "秒" in error.message_zh
    assert "0.05 s limit" in error.message_en


def test_an_invitee_list_over_the_limit_is_refused() -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["姓名", "类别"])
    for n in range(150):  # under the list's 200-row cap, so only the time limit can refuse it
        sheet.append([f"市民{n}" + "某" * 200, "市民代表"])
    out = io.BytesIO()
    workbook.save(out)
    with pytest.raises(InvalidData) as refused:  # 1 ms: no .xlsx parses that fast
        invitee_import.read_upload(out.getvalue(), "名单.xlsx", ImportLimits(parse_seconds=0.001))
    assert refused.value.code == "parse_time_exceeded"


def _schedule_xlsx() -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["序号", "单位名称", "活动主题", "开展时间"])
    sheet.append([1, "区住建局", "参观老旧小区改造现场", "2022年9月16日"])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """A tiny parse limit: 50 ms, which the 4 MB document part needs several times over."""
    return Settings(
        var_dir=tmp_path / "var",
        database_url="sqlite://",
        totp_required_roles="",
        import_parse_seconds=0.05,
    )


def test_the_schedule_import_answers_422_and_writes_nothing(
    client: TestClient, world: World
) -> None:
    def events() -> int:
        with world.session() as session:
            return int(session.exec(select(func.count()).select_from(Event)).one())

    before = events()
    response = client.post(
        f"/api/v1/campaigns/{world.campaign_id}/schedule-imports",
        files={"file": ("大.docx", HEAVY, "application/octet-stream")},
        params={"confirm_past_escalations": "true"},
        headers=world.headers["supervisor"],
    )
    assert response.status_code == 422, response.text
    body = response.json()["error"]
    assert body["code"] == "parse_time_exceeded"
    assert "大.docx" in body["message"] and "limit" in body["message_en"]
    assert events() == before
