"""The event's own pages in a real browser (issue 24), by clicking only: a blank hold through
its check page, a corrected attendance found in the history in Chinese, a summary returned for
rework whose reasons the clerk sees on 我的活动 and the task list, and the spot check's page.
Screenshots at 1280 and 360 px go to docs/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser_support import (
    Watch,
    chromium,
    click,
    require_browser,
    seed,
    serve,
    settle,
    shoot,
    sign_in,
    sign_out,
)
from tests.pages import test_pages_browser as walk

THEME = "参观老旧小区改造现场"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """uvicorn on a free port with the walk's seeded campaign, unit and accounts."""
    require_browser()
    folder = tmp_path_factory.mktemp("event-pages")
    url = f"sqlite:///{folder / 'openday.db'}"
    seed(url, walk._fill)
    with serve(folder, url) as base:
        yield base


@pytest.fixture(scope="module")
def browser(server: str) -> Iterator[Any]:
    """Debian's chromium under Playwright."""
    with chromium() as launched:
        yield launched


def correct_attendance(page: Any) -> None:
    """From the task list: 开展活动 → 更改 → untick 代表1, say why → the history says so."""
    page.locator(".tasks li", has_text="开展活动").get_by_role("link", name="查看").click()
    settle(page)
    click(page.locator("#correct-attendance"))
    page.get_by_label("代表1").uncheck()
    page.get_by_label("更正理由").fill("核对签到表，代表1因公未到场")
    shoot(page, "attendance-correction")
    click(page.get_by_role("button", name="保存更正"))
    assert "已更正出席情况" in page.content()
    click(page.get_by_role("link", name="‹ 返回活动"))
    click(page.get_by_role("link", name="历史记录 ›"))
    text = page.locator("main").inner_text()
    assert "王经办更正了出席情况：代表1（政协委员）改为未出席，现出席 11 人。" in text
    assert "理由：核对签到表，代表1因公未到场。" in text
    assert "edit." not in text and "system" not in text
    shoot(page, "history")


def return_for_rework(page: Any) -> None:
    """The supervisor sends the summary back from the board's 抽查 tab with two reasons."""
    click(page.locator("#spot-checks-link"))
    rework = page.locator("details.rework", has_text=THEME).first
    rework.locator("summary").click()
    rework.get_by_label("退回理由（每行一条）").fill("照片无拍摄日期\n请补充活动现场照片")
    click(rework.get_by_role("button", name="退回整改"))
    assert "已退回整改" in page.content()


def clerk_sees_the_return(page: Any) -> None:
    """我的活动 and the task list show the reasons as sentences and the new due day."""
    card = page.locator(".card", has_text=THEME)
    assert "【退回整改】" in card.inner_text()
    banner = card.locator(".banner")
    assert "退回理由：照片无拍摄日期。请补充活动现场照片。" in banner.inner_text()
    assert "请于" in banner.inner_text() and "前重新报送" in banner.inner_text()
    shoot(page, "home-returned")
    click(card.get_by_role("link", name="继续办理"))
    banner = page.locator(".banner")
    assert "区政府办已退回总结（第 2 轮报送）" in banner.inner_text()
    assert "照片无拍摄日期。请补充活动现场照片。" in banner.inner_text()
    assert "区政府办已退回整改" in page.locator(".tasks").inner_text()
    shoot(page, "event-returned")
    click(banner.get_by_role("link", name="修改总结"))
    assert "照片无拍摄日期" in page.locator(".banner").inner_text()
    shoot(page, "summary-returned")
    click(page.get_by_role("button", name="保存并报送区政府办"))
    assert "总结已报送区政府办" in page.content()


def spot_check_on_its_page(page: Any) -> None:
    """The task list's 区政府办抽查 opens its page; the supervisor records the result there."""
    page.locator(".tasks li", has_text="区政府办抽查").get_by_role("link").first.click()
    settle(page)
    assert page.get_by_role("heading", name="区政府办抽查").is_visible()
    page.get_by_label("合格", exact=True).check()
    page.get_by_label("抽查意见").fill("补充照片后图文资料齐全。")
    click(page.get_by_role("button", name="记录抽查结果"))
    text = page.locator("main").inner_text()
    assert "第 1 轮抽查：合格" in text and "补充照片后图文资料齐全。" in text
    assert "李督查" in text and "退回整改" in text
    shoot(page, "spot-check")


def test_correct_return_and_spot_check(server: str, browser: Any) -> None:
    """Hold with nothing pre-filled, correct its attendance, return the summary, spot-check."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    context.set_default_timeout(10_000)
    page = context.new_page()
    watch = Watch(page, server)
    sign_in(page, server, "wang", "Kaifang-2022!")
    walk.walk_to_invited(page, server)
    walk.walk_to_submitted(page)
    correct_attendance(page)
    sign_out(page)
    sign_in(page, server, "li", "Duban-2022!")
    return_for_rework(page)
    sign_out(page)
    sign_in(page, server, "wang", "Kaifang-2022!")
    clerk_sees_the_return(page)
    sign_out(page)
    sign_in(page, server, "li", "Duban-2022!")
    page.goto(server + "/")
    click(page.locator("#spot-checks-link"))
    page.goto(server + page.locator("form.card h3 a", has_text=THEME).first.get_attribute("href"))
    settle(page)
    spot_check_on_its_page(page)
    watch.assert_clean()
    context.close()
