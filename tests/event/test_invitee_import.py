"""Reading a pasted or uploaded invitee list (issue 24): separators tolerated, each row's error
names the row and the field in Chinese, limits hold, the xlsx/csv path reads the same rows."""

from __future__ import annotations

import io

import openpyxl
import pytest

from schemas.invitees import InviteeIn
from workflows.event import invitee_import as bulk
from workflows.kernel.errors import DomainError

LIST = """姓名,人员类别,邀请方式,工作单位,电话
张三 市民代表 公开邀请 幸福社区 13800000000
李四\t人大代表\t\t区人大
王五，政协委员，，
孙八, 市民代表, 定向邀请, 某某单位, 139-0000-1111
周九 人大代表 区人大 zhou@example.org
"""


def test_separators_are_tolerated_and_a_header_is_skipped() -> None:
    rows = bulk.parse(LIST)
    assert [r.line for r in rows] == [2, 3, 4, 5, 6] and not any(r.errors for r in rows)
    people = [r.person for r in rows]
    assert people[0] == {"name": "张三", "category": "citizen", "invitation": "public",
                         "targeted_kind": None, "organization": "幸福社区",
                         "phone": "13800000000", "email": None}  # fmt: skip
    assert people[1]["category"] == "npc_deputy" and people[1]["organization"] == "区人大"
    assert people[2]["category"] == "cppcc_member" and people[2]["invitation"] is None
    assert people[3]["invitation"] == "targeted" and people[3]["phone"] == "139-0000-1111"
    assert people[4]["email"] == "zhou@example.org" and people[4]["organization"] == "区人大"


def test_each_error_names_its_row_and_field_in_chinese() -> None:
    rows = bulk.parse(
        "赵六 市民代表\n钱七 群众 公开\n李四 人大代表 公开邀请\n" + "长" * 60 + " 人大代表"
    )
    assert rows[0].errors == ["第 1 行：邀请方式：市民代表须注明定向邀请或公开邀请"]
    assert rows[1].errors == ["第 2 行：人员类别：“群众”应为人大代表、政协委员、市民代表之一"]
    assert rows[2].errors[0].startswith("第 3 行：邀请方式：")
    assert rows[3].errors == ["第 4 行：姓名：不能超过 50 个字"]
    for r in rows:
        assert not any(code in e for e in r.errors for code in ("citizen", "npc", "name"))


def test_at_most_200_people_at_a_time() -> None:
    assert len(bulk.parse("\n".join(f"人{n} 人大代表" for n in range(200)))) == 200
    with pytest.raises(DomainError) as refused:
        bulk.parse("\n".join(f"人{n} 人大代表" for n in range(201)))
    assert refused.value.code == "invitee_import_too_many" and refused.value.status == 413


def test_xlsx_and_csv_read_as_the_pasted_text() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["姓名", "人员类别", "邀请方式", "工作单位", "电话"])
    sheet.append(["张三", "市民代表", "公开邀请", "幸福社区", 13800000000])
    sheet.append(["李四", "人大代表", None, "区人大", None])
    out = io.BytesIO()
    book.save(out)
    rows = bulk.parse(bulk.read_upload(out.getvalue(), "名单.xlsx"))
    assert [r.person["phone"] for r in rows if r.person] == ["13800000000", None]
    assert not any(r.errors for r in rows)
    csv = "姓名,人员类别,邀请方式\n张三,市民代表,公开邀请\n".encode("gb18030")
    assert [r.person["name"] for r in bulk.parse(bulk.read_upload(csv, "a.csv")) if r.person] == [
        "张三"
    ]
    with pytest.raises(DomainError):
        bulk.read_upload(b"x", "a.docx")


def test_length_limits_are_the_api_models() -> None:
    for key, limit in bulk.LENGTHS.items():
        meta = InviteeIn.model_fields[key].metadata
        assert any(getattr(m, "max_length", None) == limit for m in meta), key
