"""Importing a notice through the API (issue 30): a dry run shows the campaign it would create and
writes nothing; confirming creates it with the notice's rules and an audit line citing every
sentence; the attached schedule then imports as before. Bad input is refused with a stable code
and nothing written: no notice, a reversed window, a share above one, a year already taken,
too much text, a broken .docx; clerks may not import."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import docx
import pytest
from sqlmodel import Session, col, func, select

from models import Campaign, ChangeLog, Event
from tests.campaign import notice_variants as v
from tests.campaign.notice_docx import notice_docx
from tests.conftest import Walker, error_of
from workflows.campaign.notice_campaign import NOTICE_MAX_CHARS
from workflows.campaign.rules import NOTICE_FORMS

URL = "/api/v1/campaigns/notice-imports"
FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "yanjiang-2022-open-day-notice.txt"
NOTICE_2022 = FIXTURE.read_text(encoding="utf-8")
# The founding notice as next year's: a new 文号, window and signing day, the same rules.
NOTICE_2023 = (
    NOTICE_2022.replace("〔2022〕58号", "〔2023〕61号")
    .replace("2022年8月22日至2022年9月22日", "2023年8月21日至2023年9月22日")
    .replace("2022年8月22日", "2023年8月21日")
)


def _campaigns(walker: Walker) -> int:
    with Session(walker.world.engine) as session:
        return session.exec(select(func.count()).select_from(Campaign)).one()


def _post(
    walker: Walker,
    *,
    text: str | None = None,
    docx: bytes | None = None,
    values: dict[str, Any] | None = None,
    dry_run: bool = False,
    who: str = "supervisor",
) -> Any:
    data: dict[str, str] = {}
    if text is not None:
        data["text"] = text
    if values is not None:
        data["values"] = json.dumps(values, ensure_ascii=False)
    mime = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    files = {"file": ("通知.docx", docx, mime)} if docx is not None else None
    return walker.client.post(
        URL + ("?dry_run=true" if dry_run else ""),
        data=data,
        files=files,
        headers=walker.world.headers[who],
    )


def test_a_dry_run_shows_every_rule_with_its_sentence_and_writes_nothing(walker: Walker) -> None:
    """The founding notice previews with its values, sentences, forms and 39 schedule rows;
    its 文号 and year are taken by the seeded campaign, which the preview says."""
    r = _post(walker, docx=notice_docx(NOTICE_2022), dry_run=True)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["values"]["doc_number"] == "资雁府办发〔2022〕58号"
    assert body["values"]["starts_on"] == "2022-08-22" and body["values"]["ends_on"] == "2022-09-22"
    rules = {rule["field"]: rule for rule in body["rules"]}
    assert rules["invitees_min"]["value"] == "10" and rules["invitees_max"]["value"] == "20"
    assert "原则上每个开放点15人左右" in rules["invitees_min"]["sentence"]
    assert rules["citizen_share_min"]["value"] == "1/3"
    assert rules["feedback_answer_workdays"]["where"] == "五、组织形式（四）"
    assert "三日内反馈区政府办1329室" in rules["summary_due_days"]["sentence"]
    assert rules["summary_recipient"]["value"] == "区政府办1329室"
    assert [f["form"] for f in body["forms"]] == [
        "office_visit",
        "site_visit",
        "dialogue",
        "feedback",
    ]
    assert body["schedule"]["rows"] == 39
    assert body["missing"] == [] and body["not_in_notice"] == []
    assert body["conflicts"] == ["campaign_exists", "campaign_year_taken"]
    assert _campaigns(walker) == 1


def test_confirming_creates_the_campaign_with_the_notices_rules(walker: Walker) -> None:
    """2023's notice (as a .docx) creates its campaign; the audit line cites the sentences; the
    same file then imports its 39 events through the schedule import."""
    data = notice_docx(NOTICE_2023)
    r = _post(walker, docx=data)
    assert r.status_code == 201, r.text
    campaign = r.json()["campaign"]
    assert campaign["doc_number"] == "资雁府办发〔2023〕61号"
    assert campaign["starts_on"] == "2023-08-21"
    rules = campaign["rules"]
    assert (rules["invitees_min"], rules["invitees_max"]) == (10, 20)
    assert rules["citizen_share_min"] == "1/3" and rules["feedback_answer_workdays"] == 15
    assert rules["summary_due_days"] == 3 and rules["summary_recipient"] == "区政府办1329室"
    assert rules["activity_forms"] == list(NOTICE_FORMS)  # 五、组织形式, as the notice names them
    with Session(walker.world.engine) as session:
        line = session.exec(select(ChangeLog).where(ChangeLog.action == "import_notice")).one()
        cited = line.after["notice"]  # type: ignore[index]
        assert "原则上每个开放点15人左右" in cited["invitees"]["sentence"]
        assert cited["citizen_share"]["value"] == "1/3"
        assert line.entity_id == campaign["id"]
    mime = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    imported = walker.client.post(
        f"/api/v1/campaigns/{campaign['id']}/schedule-imports?accept_warnings=true",
        files={"file": ("通知.docx", data, mime)},
        headers=walker.world.headers["supervisor"],
    )
    assert imported.status_code == 201, imported.text
    assert imported.json()["created_events"] == 39
    with Session(walker.world.engine) as session:
        events = session.exec(select(Event).where(col(Event.campaign_id) == campaign["id"])).all()
        assert len(events) == 39


def test_what_the_notice_does_not_say_is_filled_by_the_supervisor(walker: Walker) -> None:
    """A notice without a 文号 is refused until one is given; defaults fill the silent rules."""
    text = v.SUINING_2022_SPARSE.replace("遂府办函〔2022〕15号\n", "").replace("2022年", "2024年")
    preview = _post(walker, text=text, dry_run=True).json()
    assert preview["missing"] == ["doc_number"]
    assert "invitees_min" in preview["not_in_notice"]
    assert preview["values"]["invitees_min"] == "10"  # the founding notice's default
    refused = _post(walker, text=text)
    assert refused.status_code == 422
    err = error_of(refused)
    assert err["code"] == "notice_fields_missing" and "文号" in err["message"]
    assert err["details"]["fields"] == ["doc_number"]
    assert _campaigns(walker) == 1
    r = _post(walker, text=text, values={"doc_number": "遂府办函〔2024〕15号", "invitees_max": 18})
    assert r.status_code == 201, r.text
    assert r.json()["campaign"]["rules"]["invitees_max"] == 18
    assert r.json()["campaign"]["rules"]["feedback_answer_workdays"] == 10


@pytest.mark.parametrize(
    "text,values,status,code,words",
    [
        (v.NOT_A_NOTICE, None, 422, "notice_not_recognised", ["文号", "活动时间"]),
        (v.REVERSED, None, 422, "notice_window_reversed", ["早于"]),
        (v.SHARE_ABOVE_ONE, None, 422, "notice_share_above_one", ["4/3"]),
        (v.NO_SUCH_DAY, None, 422, "notice_window_invalid", ["9月31日"]),
        (NOTICE_2022, None, 409, "campaign_exists", ["资雁府办发〔2022〕58号"]),
        (
            NOTICE_2022,
            {"doc_number": "资雁府办发〔2022〕99号"},
            409,
            "campaign_year_taken",
            ["2022年"],
        ),
        (NOTICE_2023, {"citizen_share_min": "二分之三"}, 422, "notice_share_above_one", ["3/2"]),
        (NOTICE_2023, {"ends_on": "2023-08-01"}, 422, "notice_window_reversed", ["2023-08-01"]),
        (NOTICE_2023, {"invitees_min": "30"}, 422, "notice_invitees_reversed", ["30"]),
        (NOTICE_2023, {"summary_due_days": "三"}, 422, "notice_value_invalid", ["整数"]),
        (NOTICE_2023, {"nonsense": "1"}, 422, "notice_values_invalid", ["JSON"]),
        ("", None, 422, "notice_missing", ["粘贴"]),
        ("通" * (NOTICE_MAX_CHARS + 1), None, 413, "notice_too_long", ["上限"]),
    ],
)
def test_bad_notices_are_refused_and_nothing_is_written(
    walker: Walker, text: str, values: Any, status: int, code: str, words: list[str]
) -> None:
    r = _post(walker, text=text, values=values)
    assert r.status_code == status, r.text
    err = error_of(r)
    assert err["code"] == code
    assert all(w in err["message"] for w in words), err["message"]
    assert err["message_en"]
    assert _campaigns(walker) == 1


def test_a_broken_or_foreign_file_is_refused(walker: Walker) -> None:
    """A .docx that is no zip goes through the archive guard; a .pdf is not read at all."""
    r = _post(walker, docx=b"not a zip at all")
    assert r.status_code == 422 and error_of(r)["code"] == "file_unreadable"
    r = walker.client.post(
        URL,
        files={"file": ("通知.pdf", b"%PDF-1.4", "application/pdf")},
        headers=walker.world.headers["supervisor"],
    )
    assert r.status_code == 422 and error_of(r)["code"] == "format_unsupported"
    document = docx.Document()
    document.add_paragraph("关于召开季度安全生产会议的通知")
    out = io.BytesIO()
    document.save(out)
    r = _post(walker, docx=out.getvalue())
    assert r.status_code == 422
    assert error_of(r)["code"] == "notice_not_recognised"
    assert "活动时间" in error_of(r)["message"]
    assert _campaigns(walker) == 1


def test_an_oversized_upload_or_a_docx_bomb_is_refused(walker: Walker) -> None:
    """Past OPENDAY_UPLOAD_MAX_BYTES: 413 while streaming; a .docx whose document part would
    unpack past the archive guard's caps: refused before python-docx opens it."""
    limit = walker.client.app.state.settings.upload_max_bytes  # type: ignore[attr-defined]
    r = _post(walker, docx=b"PK" + b"0" * (limit + 100 * 1024))
    assert r.status_code == 413 and error_of(r)["code"] == "body_too_large"
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:t>" + "通" * 3_000_000 + "</w:t>")
    r = _post(walker, docx=bomb.getvalue())
    assert r.status_code in (413, 422), r.text
    assert error_of(r)["code"] in ("archive_ratio_too_high", "archive_document_too_large")
    assert _campaigns(walker) == 1


def test_clerks_may_not_import_a_notice(walker: Walker) -> None:
    r = _post(walker, text=NOTICE_2023, who="housing")
    assert r.status_code == 403
    assert _campaigns(walker) == 1
