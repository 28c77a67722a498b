"""The supervisor's report, the board and the clerk's home in chromium at 1280 and 360 px, ten
days after the demo's 区住建局 event (so lateness shows): the report's unit names stay in view
while its table scrolls sideways, and a header click sorts it (issue 24)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from tests.browser_support import NOW, chromium, click, require_browser, seed, serve, shoot
from tests.browser_support import sign_in as browser_sign_in
from tests.pages.browser_world import PASSWORD, World, _fill, walk


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The demo campaign, 区住建局's event walked, served on 2022-09-26."""
    require_browser()
    folder = tmp_path_factory.mktemp("report")
    served = World()
    url = f"sqlite:///{folder / 'openday.db'}"
    seed(url, _fill(served))
    later = (NOW + timedelta(days=10)).isoformat()
    with serve(folder, url, OPENDAY_CLOCK_START=later) as base:
        served.base = base
        walk(base, served)
        yield served


@pytest.fixture(scope="module")
def browser(world: World) -> Iterator[Any]:
    """Debian's chromium under Playwright."""
    with chromium() as launched:
        yield launched


def test_report_board_and_home_at_desk_and_phone_width(world: World, browser: Any) -> None:
    """Figures and chart first; the table scrolls inside its box with the unit name pinned."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    browser_sign_in(page, world.base, "li", PASSWORD)
    click(page.get_by_role("link", name="报表与考核"))
    assert page.locator(".numbers").is_visible() and page.locator(".chart li").count() >= 39
    shoot(page, "report")
    header = page.locator("table.report thead th", has_text="得分").first
    click(header.get_by_role("link"))
    assert "sort=score" in page.url
    assert page.locator('th[aria-sort="descending"]', has_text="得分").count() == 1

    page.set_viewport_size({"width": 360, "height": 760})
    box = page.locator(".table-wrap.wide")
    assert box.evaluate("b => b.scrollWidth > b.clientWidth")  # scrolls inside its box
    unit = page.locator("table.report tbody th.unit").first
    before = unit.bounding_box()
    box.evaluate("b => { b.scrollLeft = 600; }")
    after = unit.bounding_box()
    assert before and after and abs(after["x"] - before["x"]) < 2  # the unit name stays put
    assert page.evaluate("document.documentElement.scrollWidth") <= 362  # the page itself fits

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(world.base + "/board")
    shoot(page, "board-overdue")
    # Each tab is its own page: the 抽查 tab's label counts what waits, the tab lists it.
    tab = page.locator("#spot-checks-link")
    label = tab.inner_text()
    click(tab)
    assert page.locator("#spot-checks-link").get_attribute("aria-current") == "page"
    cards = page.locator("form.card h3").count()
    assert label == f"抽查（{cards}）" and f"待抽查 {cards} 个" in page.inner_text("main")
    shoot(page, "board-spot-checks")
    context.close()

    clerk = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    home = clerk.new_page()
    browser_sign_in(home, world.base, "wang", PASSWORD)
    shoot(home, "home-overdue")
    clerk.close()
