"""从通知新建活动 without a browser (issue 30): the preview shows every rule beside its sentence
and writes nothing; what the notice does not say is marked and must be filled before the
campaign is created; confirming leads to the schedule import's own preview of the attached
table; a text that is no notice is refused naming what is missing; clerks may not come in."""

from __future__ import annotations

import re

from sqlmodel import Session, func, select

from models import Campaign
from tests.campaign import notice_variants as v
from tests.campaign.test_notice_import import NOTICE_2023
from tests.conftest import Walker
from tests.pages.test_pages import csrf_of, sign_in
from tests.pages.test_pages_admin import _as

PAGE = "/admin/notice-import"


def _campaigns(walker: Walker) -> int:
    with Session(walker.world.engine) as session:
        return session.exec(select(func.count()).select_from(Campaign)).one()


def _preview(walker: Walker, text: str) -> str:
    form = walker.client.get(PAGE)
    assert form.status_code == 200
    r = walker.client.post(PAGE, data={"csrf": csrf_of(form.text), "text": text})
    return r.text


def _confirm(walker: Walker, preview: str, **edits: str) -> object:
    """Post the preview's form as shown (its inputs' values), with `edits` over them."""
    values = dict(re.findall(r'<input id="in-[^"]+" name="([^"]+)"[^>]*value="([^"]*)"', preview))
    hidden = dict(
        re.findall(r'<input type="hidden" name="(key|filename)" value="([^"]*)"', preview)
    )
    data = {"csrf": csrf_of(preview), "action": "confirm", **values, **hidden, **edits}
    return walker.client.post(PAGE, data=data, follow_redirects=False)


def test_preview_cites_every_rule_then_confirm_leads_to_the_schedule_preview(
    walker: Walker,
) -> None:
    _as(walker.client, walker.world, "supervisor")
    preview = _preview(walker, NOTICE_2023)
    assert "尚未写入任何数据" in preview
    for sentence in (
        "资雁府办发〔2023〕61号",
        "（二）活动时间：2023年8月21日至2023年9月22日",
        "原则上每个开放点15人左右。",
        "其中市民代表比例不低于三分之一。",
        "在15个工作日内办结并及时反馈。",
        "于活动开展后三日内反馈区政府办1329室。",
        "参观机关办公场所、现场参观考察、政民恳谈交流、意见反馈",
        "附件：雁江区“政府开放月”活动安排一览表",
    ):
        assert sentence in preview, sentence
    assert "共 39 行" in preview and "未找到" not in preview
    assert _campaigns(walker) == 1
    done = _confirm(walker, preview)
    assert done.status_code == 303, done.text  # type: ignore[attr-defined]
    where = done.headers["location"]  # type: ignore[attr-defined]
    assert "/notice-schedule?key=" in where and "filename=notice.txt" in where
    assert _campaigns(walker) == 2
    schedule = walker.client.get(where)
    assert "预览：共 39 行，39 个活动" in schedule.text and "确认导入" in schedule.text
    assert "已创建活动“资雁府办发〔2023〕61号”" in schedule.text


def test_what_the_notice_does_not_say_must_be_filled(walker: Walker) -> None:
    _as(walker.client, walker.world, "supervisor")
    text = v.SUINING_2022_SPARSE.replace("遂府办函〔2022〕15号\n", "").replace("2022年", "2024年")
    preview = _preview(walker, text)
    assert "未找到，请填写" in preview and "未找到，已填默认值" in preview
    refused = _confirm(walker, preview)
    assert refused.status_code == 422  # type: ignore[attr-defined]
    body = refused.text  # type: ignore[attr-defined]
    assert '<a href="#doc_number">请填写文号（通知中未找到）</a>' in body
    assert _campaigns(walker) == 1
    done = _confirm(walker, body, doc_number="遂府办函〔2024〕15号")
    assert done.status_code == 303  # type: ignore[attr-defined]
    assert "/admin/campaigns/" in done.headers["location"]  # type: ignore[attr-defined]
    assert _campaigns(walker) == 2


def test_contradictions_and_clashes_show_on_the_preview(walker: Walker) -> None:
    """A window edited to end before it starts, and the seeded 2022 campaign's 文号 and year."""
    _as(walker.client, walker.world, "supervisor")
    preview = _preview(walker, NOTICE_2023)
    refused = _confirm(walker, preview, ends_on="2023-08-01")
    assert refused.status_code == 422  # type: ignore[attr-defined]
    assert '<a href="#starts_on">活动时间结束日期 2023-08-01 早于开始日期 2023-08-21</a>' in (
        refused.text  # type: ignore[attr-defined]
    )
    clash = _preview(walker, NOTICE_2023.replace("〔2023〕61号", "〔2022〕58号"))
    assert "文号“资雁府办发〔2022〕58号”的活动已存在" in clash
    assert _campaigns(walker) == 1


def test_a_text_that_is_no_notice_is_refused_naming_what_is_missing(walker: Walker) -> None:
    _as(walker.client, walker.world, "supervisor")
    form = walker.client.get(PAGE)
    r = walker.client.post(PAGE, data={"csrf": csrf_of(form.text), "text": v.NOT_A_NOTICE})
    assert r.status_code == 422
    assert "未能识别为“政府开放日”通知：未找到文号、活动时间" in r.text
    stale = walker.client.post(
        PAGE,
        data={"csrf": csrf_of(form.text), "action": "confirm", "key": "../x", "filename": "a.txt"},
    )
    assert "预览已失效，请重新上传通知" in stale.text
    assert _campaigns(walker) == 1


def test_clerks_may_not_import_a_notice(walker: Walker) -> None:
    sign_in(walker.client)
    assert walker.client.get(PAGE).status_code == 403
