"""An answer typed in late in a real browser (issue 25): on 2022-10-20 the clerk records the
answer given on 2022-10-10 (due 2022-10-12). It counts on time, the page marks it 补录 with who
typed it in and when, and the history's line names who entered it and when."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import pytest
from sqlmodel import Session

from models import EventState, FeedbackItem, Role, Unit, UnitKind
from tests.browser_support import (
    NOW,
    Watch,
    chromium,
    click,
    notice_campaign,
    require_browser,
    seed,
    serve,
    settle,
    shoot,
    sign_in,
)
from workflows.accounts.service import create_user
from workflows.campaign.rules import CampaignRules
from workflows.event.service import create_event
from workflows.kernel.visibility import SYSTEM
from workflows.workdays import deadlines

THEME = "参观老旧小区改造现场"
TYPED = datetime.fromisoformat("2022-10-20T10:00:00+08:00")


def _fill(session: Session) -> None:
    """区住建局's event held on 2022-09-16 with its opinions collected: two open opinions, both
    due 2022-10-12, and its clerk."""
    campaign = notice_campaign(session)
    unit = Unit(name="区住建局", kind=UnitKind.department, created_at=NOW)
    session.add(unit)
    session.flush()
    assert unit.id is not None
    event = create_event(
        session, campaign=campaign, unit_id=unit.id, theme=THEME, earliest=date(2022, 9, 16),
        latest=date(2022, 9, 16), actor=SYSTEM, now=NOW, location="雁江区某小区",
    )  # fmt: skip
    event.state, event.held_on = EventState.feedback_collected, date(2022, 9, 16)
    calendar = deadlines.load_calendar(session)
    for text in ("小区路灯不亮，希望尽快修复", "希望公开改造资金明细"):
        item = FeedbackItem(
            event_id=event.id,  # type: ignore[arg-type]
            unit_id=unit.id,
            content=text,
            collected_on=date(2022, 9, 16),
            created_at=NOW,
            updated_at=NOW,
        )
        session.add(item)
        session.flush()
        deadlines.arm_feedback_item(session, item, CampaignRules(), calendar, NOW)
    create_user(session, username="wang", role=Role.unit_staff, unit_name="区住建局",
                password="Kaifang-2022!", now=NOW, display_name="王经办")  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_browser()
    folder = tmp_path_factory.mktemp("answers")
    url = f"sqlite:///{folder / 'openday.db'}"
    seed(url, _fill)
    with serve(folder, url, OPENDAY_CLOCK_START=TYPED.isoformat()) as base:
        yield base


@pytest.fixture(scope="module")
def browser(server: str) -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def test_a_late_typed_answer_given_on_time_counts_on_time(server: str, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    context.set_default_timeout(10_000)
    page = context.new_page()
    watch = Watch(page, server)
    sign_in(page, server, "wang", "Kaifang-2022!")
    click(page.locator(".card", has_text=THEME).get_by_role("link", name="继续办理"))
    event_page = page.url
    click(page.get_by_role("link", name="收集意见建议", exact=True))
    first = page.locator("ol.opinions > li").first
    first.locator("summary", has_text="答复").first.click()
    day = first.get_by_label("答复日期")
    assert day.input_value() == "2022-10-20"  # today by default
    assert day.get_attribute("min") == "2022-09-16" and day.get_attribute("max") == "2022-10-20"
    first.get_by_label("答复内容").fill("已于10月10日修复并电话告知")
    day.fill("2022-10-10")
    shoot(page, "feedback-answer")
    click(first.get_by_role("button", name="提交答复"))
    assert "答复成功" in page.content()
    first = page.locator("ol.opinions > li").first
    meta = first.inner_text()
    assert "答复日期：2022年10月10日（星期一） · 按时答复" in meta
    assert "补录：王经办于2022年10月20日（星期四）10:0" in meta
    assert "更正答复" in meta
    second = page.locator("ol.opinions > li").nth(1)
    second.locator("summary", has_text="答复").first.click()
    second.get_by_label("答复内容").fill("已纳入明年计划")
    second.get_by_label("答复日期").fill("2022-09-15")  # before the opinion was received
    click(second.get_by_role("button", name="提交答复"))
    assert "答复日期（2022年9月15日（星期四））不能早于收到意见的日期" in page.content()
    second = page.locator("ol.opinions > li").nth(1)  # open again, with what was typed
    assert second.get_by_label("答复内容").input_value() == "已纳入明年计划"
    assert second.get_by_label("答复日期").input_value() == "2022-09-15"
    shoot(page, "feedback-answered")
    page.goto(event_page.rstrip("/") + "/history")
    settle(page)
    text = page.locator("main").inner_text()
    assert (
        "王经办于2022年10月20日（星期四）10:0" in text
        and "补录了意见" in text
        and "答复日期为2022年10月10日（星期一）（按时答复）" in text
    ), text
    watch.assert_clean()
    context.close()
