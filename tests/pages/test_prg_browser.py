"""Post/redirect/get in a real browser (issue 24): a refused form, then reload, shows the page
again (never the 405 JSON of the form's POST address); an unknown page path answers the HTML
error page in Chinese, while the API's unknown paths keep answering JSON."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.browser_support import chromium, click, settle, sign_in
from tests.pages.browser_world import PASSWORD, World, world_server


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The demo campaign served, 区住建局's event walked to spot-checked."""
    with world_server(tmp_path_factory.mktemp("prg")) as served:
        yield served


@pytest.fixture(scope="module")
def browser(world: World) -> Iterator[Any]:
    """Debian's chromium under Playwright."""
    with chromium() as launched:
        yield launched


def test_a_refused_form_then_reload_shows_the_page(browser: Any, world: World) -> None:
    """The board's visit form sent empty is refused on its tab; a reload shows the tab."""
    page = browser.new_page()
    sign_in(page, world.base, "li", PASSWORD)
    page.goto(world.base + "/board")
    click(page.locator("#visits-link"))
    click(page.get_by_role("button", name="登记走访"))
    assert page.locator(".error-summary").count() == 1
    assert page.url.startswith(world.base + "/board/visits"), page.url
    page.reload()
    settle(page)
    body = page.inner_text("body")
    assert "督查看板" in body and "method_not_allowed" not in body, body[:300]
    page.close()


def test_a_refused_sign_in_then_reload_shows_the_sign_in_page(browser: Any, world: World) -> None:
    """A wrong password is refused on the sign-in page; a reload shows the sign-in form."""
    page = browser.new_page()
    page.goto(world.base + "/login")
    page.get_by_label("用户名").fill("li")
    page.get_by_label("密码").fill("wrong-password")
    click(page.get_by_role("button", name="登录"))
    assert page.locator(".error-summary").count() == 1
    page.reload()
    settle(page)
    assert page.get_by_role("button", name="登录").count() == 1
    assert "method_not_allowed" not in page.content()
    page.close()


def test_unknown_page_paths_answer_the_html_error_page(browser: Any, world: World) -> None:
    """An unknown path under the pages is the Chinese error page (with the signed-in header);
    under /api/v1 it is JSON."""
    page = browser.new_page()
    sign_in(page, world.base, "wang", PASSWORD)
    for path in ("/no-such-page", f"/events/{world.event_id}/no-such-stage", "/board/nowhere"):
        response = page.goto(world.base + path)
        assert response is not None and response.status == 404, path
        assert "text/html" in response.headers["content-type"], path
        assert "找不到您要打开的页面" in page.inner_text("main"), path
        assert page.get_by_role("link", name="返回首页").count() == 1
        assert page.get_by_role("button", name="退出").count() == 1  # the signed-in header
    api = httpx.get(world.base + "/api/v1/no-such-thing")
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"
    page.close()
