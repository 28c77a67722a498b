"""A crawl of the pages as each role sees them (issue 24): sign in in chromium, visit every link
reachable from the home page two levels deep (same origin, GET links; sign-out is a form and
`download` links are clicked by tests/pages/test_downloads_browser.py), and find no JSON body
shown as a page, no 404, no 5xx and no raw bytes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urldefrag, urlsplit

import pytest

from tests.browser_support import chromium, sign_in
from tests.pages.browser_world import ACCOUNTS, PASSWORD, World, world_server

DEPTH = 2
# Every same-origin link's address; `download` links are the downloads test's.
LINKS = "Array.from(document.querySelectorAll('a[href]:not([download])')).map(a => a.href)"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The demo campaign served, 区住建局's event walked to spot-checked."""
    with world_server(tmp_path_factory.mktemp("crawl")) as served:
        yield served


@pytest.fixture(scope="module")
def browser(world: World) -> Iterator[Any]:
    """Debian's chromium under Playwright."""
    with chromium() as launched:
        yield launched


def problem(response: Any, page: Any) -> str:
    """What is wrong with a page as shown, or ''."""
    if response is None:
        return "no response"
    if response.status >= 400:
        return f"status {response.status}"
    kind = response.headers.get("content-type", "")
    if "json" in kind:
        return f"JSON shown as a page ({kind})"
    if not kind.startswith("text/html"):
        return f"not a page: {kind}"
    text = page.evaluate("document.body ? document.body.innerText : ''")
    if text.lstrip().startswith(("{", "[", "PK")) or "\x00" in text:
        return "raw bytes or JSON as the page: " + text[:60]
    return ""


def links_of(page: Any, base: str) -> list[str]:
    """The page's same-origin GET links, without fragments, sign-out or downloads."""
    found = []
    for href in page.evaluate(LINKS):
        url = urldefrag(href)[0]
        if url.startswith(base + "/") and urlsplit(url).path != "/logout":
            found.append(url)
    return found


def crawl(page: Any, base: str) -> tuple[dict[str, str], set[str]]:
    """Visit the home page and every link DEPTH levels down; the problems found, by address."""
    seen: set[str] = set()
    level = [base + "/"]
    problems: dict[str, str] = {}
    for depth in range(DEPTH + 1):
        following: list[str] = []
        for url in level:
            if url in seen:
                continue
            seen.add(url)
            response = page.goto(url)
            wrong = problem(response, page)
            if wrong:
                problems[url] = wrong
            elif depth < DEPTH:
                following += links_of(page, base)
        level = following
    return problems, seen


@pytest.mark.parametrize("username", sorted(ACCOUNTS))
def test_every_link_two_levels_deep_is_a_page(browser: Any, world: World, username: str) -> None:
    """Each role's home, what it links to and what those link to are all real pages."""
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, world.base, username, PASSWORD)
    problems, visited = crawl(page, world.base)
    context.close()
    assert problems == {}, problems
    event = f"{world.base}/events/{world.event_id}"
    assert event in visited
    if username == "wang":  # the clerk's home is one level above the event's stage pages
        stages = ("/invitees", "/hold", "/feedback", "/summary", "/spot-check", "/history")
        assert {event + s for s in stages} <= visited, sorted(visited)
    else:  # supervisors, administrators and viewers reach every unit's events
        assert len(visited) > 100, len(visited)
