"""从通知新建活动 in chromium (issue 30): on an empty service a supervisor pastes a text that is no
notice (refused, naming what is missing), then uploads the founding notice as a .docx, sees every
rule beside its sentence, confirms, and imports the attached schedule table through the schedule
import's preview: one campaign with the notice's rules and its 39 events. Screenshots of the
preview at 1280 and 360 px go to docs/screenshots/notice-import-*.png."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, func, select

from models import Campaign, Event, Role
from models.db import make_engine
from tests.browser_support import (
    NOW,
    Watch,
    chromium,
    click,
    require_browser,
    seed,
    serve,
    shoot,
    sign_in,
)
from tests.campaign import notice_variants as v
from tests.campaign.notice_docx import notice_docx
from workflows.accounts.service import create_user
from workflows.campaign.rules import CampaignRules

PASSWORD = "Ducha-2022!"
NOTICE = Path(__file__).resolve().parent.parent / "fixtures" / "yanjiang-2022-open-day-notice.txt"
# Each rule's row on the preview: its label and (part of) the sentence it must stand beside.
CITED = {
    "doc_number": ("文号", "资雁府办发〔2022〕58号"),
    "issuing_office": ("发文机关", "资阳市雁江区人民政府办公室"),
    "title": ("标题", "关于开展“政府开放日”活动的通知"),
    "window": ("活动时间", "活动时间：2022年8月22日至2022年9月22日"),
    "invitees": ("每个开放点邀请人数", "原则上每个开放点15人左右。"),
    "citizen_share": ("市民代表比例", "其中市民代表比例不低于三分之一。"),
    "answer": ("意见建议办结时限", "在15个工作日内办结并及时反馈。"),
    "summary": ("活动总结报送时限", "于活动开展后三日内反馈区政府办1329室。"),
    "summary_recipient": ("总结报送对象", "反馈区政府办1329室"),
    "forms": ("组织形式", "参观机关办公场所、现场参观考察、政民恳谈交流、意见反馈"),
    "schedule": ("附件（活动安排表）", "附件：雁江区“政府开放月”活动安排一览表"),
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    """(base URL, database URL, the notice as .docx) of a server with no campaign yet."""
    require_browser()
    folder = tmp_path_factory.mktemp("notice")
    url = f"sqlite:///{folder / 'openday.db'}"
    seed(url, lambda s: create_user(s, username="li", role=Role.supervisor, password=PASSWORD,
                                    now=NOW, display_name="李督查"))  # fmt: skip
    docx = folder / "资雁府办发〔2022〕58号.docx"
    docx.write_bytes(notice_docx(NOTICE.read_text(encoding="utf-8")))
    with serve(folder, url) as base:
        yield base, url, docx


def _counts(url: str) -> tuple[int, int]:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            campaigns = session.exec(select(func.count()).select_from(Campaign)).one()
            events = session.exec(select(func.count()).select_from(Event)).one()
            return campaigns, events
    finally:
        engine.dispose()


def _rules(url: str) -> tuple[Campaign, CampaignRules]:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            campaign = session.exec(select(Campaign)).one()
            return campaign, CampaignRules.of(campaign.rules)
    finally:
        engine.dispose()


def test_supervisor_imports_the_notice_then_its_schedule(site: tuple[str, str, Path]) -> None:
    base, url, docx = site
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        context.set_default_timeout(15_000)
        page = context.new_page()
        watch = Watch(page, base)
        sign_in(page, base, "li", PASSWORD)
        click(page.get_by_role("link", name="管理", exact=True))
        click(page.get_by_role("link", name="从通知新建活动"))

        # A pasted text that is no notice: refused, naming what it lacks.
        page.get_by_label("或粘贴通知全文").fill(v.NOT_A_NOTICE)
        click(page.get_by_role("button", name="预览"))
        summary = page.locator(".error-summary").inner_text()
        assert "未能识别为“政府开放日”通知：未找到文号、活动时间" in summary, summary
        assert _counts(url) == (0, 0)

        # The founding notice as a .docx: every rule beside its sentence, nothing written.
        page.get_by_label("或粘贴通知全文").fill("")
        page.get_by_label("通知文件（.docx 或 .txt）").set_input_files(str(docx))
        click(page.get_by_role("button", name="预览"))
        assert "尚未写入任何数据" in page.content()
        for key, (label, sentence) in CITED.items():
            row = page.locator(f"#rule-{key}")
            text = row.inner_text()
            assert label in text and sentence in text, (key, text)
            assert "未找到" not in text, (key, text)
        assert page.locator("#in-invitees_min").input_value() == "10"
        assert page.locator("#in-invitees_max").input_value() == "20"
        assert page.locator("#in-citizen_share_min").input_value() == "1/3"
        assert page.locator("#in-starts_on").input_value() == "2022-08-22"
        forms = page.locator("#in-activity_forms")
        assert forms.input_value() == "参观机关办公场所、现场参观考察、政民恳谈交流、意见反馈"
        assert "共 39 行" in page.locator("#rule-schedule").inner_text()
        shoot(page, "notice-import-preview")
        assert _counts(url) == (0, 0)

        # Confirm: the campaign exists, and the attached table opens in the import preview.
        click(page.get_by_role("button", name="确认创建活动"))
        assert "已创建活动“资雁府办发〔2022〕58号”" in page.content()
        assert "预览：共 39 行，39 个活动" in page.content()
        assert _counts(url) == (1, 0)
        campaign, rules = _rules(url)
        assert (campaign.starts_on.isoformat(), campaign.ends_on.isoformat()) == (
            "2022-08-22",
            "2022-09-22",
        )
        assert (rules.invitees_min, rules.invitees_max, rules.citizen_share_min) == (10, 20, "1/3")
        assert (rules.feedback_answer_workdays, rules.summary_due_days) == (15, 3)
        assert rules.summary_recipient == "区政府办1329室"
        assert rules.activity_forms == [
            "参观机关办公场所",
            "现场参观考察",
            "政民恳谈交流",
            "意见反馈",
        ]
        shoot(page, "notice-import-schedule")
        page.get_by_label("我已查看以上提醒，仍然导入").check()
        page.get_by_label(re.compile("我知道导入后将立即发出 \\d+ 条催办通知")).check()
        click(page.get_by_role("button", name="确认导入"))
        assert "已导入 39 个活动" in page.content()
        assert _counts(url) == (1, 39)
        watch.assert_clean()
        context.close()
