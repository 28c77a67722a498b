"""Every download link on the pages is a real download in a real browser (issue 24).

`hx-boost` on <body> once turned each `download` link into an htmx request that swapped the
file's bytes in as the page (`PK…[Content_Types].xml`). Here a supervisor and a clerk sign in
in chromium, click every link that carries `download` on the pages they use, and the test opens
each file it gets: workbooks with openpyxl, the draft with python-docx, CSV with the csv module.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from docx import Document
from openpyxl import load_workbook

from tests.browser_support import chromium, settle, sign_in
from tests.pages.browser_world import PASSWORD, World, world_server

# What the first sheet's first row (or the CSV's header, or the document's heading) starts with.
EXPECTED = {
    "overdue.xlsx": "责任单位",
    "overdue.csv": "责任单位",
    "events.xlsx": "活动编号",
    "opinions.xlsx": "意见编号",
    "spot-checks.xlsx": "抽查编号",
    "invitees.xlsx": "人员编号",
    "visits.xlsx": "走访编号",
    "visits.csv": "走访编号",
    "audit.xlsx": "时间",
    "notifications.xlsx": "通知编号",
    "report.xlsx": "责任单位",
    "assessment.xlsx": "排名",
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The demo campaign served, 区住建局's event walked to spot-checked."""
    with world_server(tmp_path_factory.mktemp("downloads")) as served:
        yield served


@pytest.fixture(scope="module")
def browser(world: World) -> Iterator[Any]:
    """Debian's chromium under Playwright."""
    with chromium() as launched:
        yield launched


def opened(name: str, body: bytes) -> list[str]:
    """The file's first row (sheet, CSV) or its paragraphs' text (docx); fails if unreadable."""
    if name.endswith(".xlsx"):
        book = load_workbook(io.BytesIO(body), read_only=True)
        assert book.sheetnames, name
        first = next(book.worksheets[0].iter_rows(max_row=1, values_only=True), ())
        return [str(v) for v in first if v is not None]
    if name.endswith(".csv"):
        text = body.decode("utf-8-sig")
        return next(csv.reader(io.StringIO(text)))
    if name.endswith(".docx"):
        return [p.text for p in Document(io.BytesIO(body)).paragraphs if p.text.strip()]
    assert body[:8] == b"\x89PNG\r\n\x1a\n", name  # the summary's photo
    return ["png"]


def click_every_download(page: Any, base: str, path: str) -> dict[str, list[str]]:
    """Click each `download` link on the page at `path` (the page loaded afresh for each, as
    chromium holds back a burst of downloads from one page); the files' first rows by link."""
    page.goto(base + path)
    hrefs = [a.get_attribute("href") or "" for a in page.locator("a[download]").all()]
    assert hrefs, f"no download link on {path}"
    got: dict[str, list[str]] = {}
    for i, href in enumerate(hrefs):
        page.goto(base + path)
        settle(page)
        with page.expect_download() as info:
            page.locator("a[download]").nth(i).click()
        download = info.value
        body = Path(download.path()).read_bytes()
        assert download.suggested_filename, href
        got[href] = opened(download.suggested_filename, body)
        assert got[href], href
        assert page.url == base + path, (href, page.url)  # still on the page
        assert "PK" not in page.inner_text("body")[:200], href  # no bytes shown as the page
    return got


def _key(href: str) -> str:
    return href.split("?")[0].rsplit("/", 1)[-1]


def test_supervisor_downloads_every_board_and_report_file(browser: Any, world: World) -> None:
    """The board's exports, the report, the assessment and the Word draft all download."""
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    sign_in(page, world.base, "li", PASSWORD)
    got = click_every_download(page, world.base, "/board")
    got |= click_every_download(page, world.base, "/board/visits")
    got |= click_every_download(page, world.base, "/board/report")
    got |= click_every_download(page, world.base, f"/events/{world.event_id}/summary")
    names = {_key(h) for h in got}
    assert names >= {*EXPECTED, "summary.docx"}, sorted(names)
    for href, first in got.items():
        if _key(href) in EXPECTED:
            assert first[0] == EXPECTED[_key(href)], (href, first)
    docx = next(lines for href, lines in got.items() if _key(href) == "summary.docx")
    assert any("总结" in line for line in docx[:3]), docx[:3]
    context.close()


def test_staff_downloads_the_summary_photo(browser: Any, world: World) -> None:
    """A clerk's download links (the summary's photos and files) download too."""
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    sign_in(page, world.base, "wang", PASSWORD)
    got = click_every_download(page, world.base, f"/events/{world.event_id}/summary")
    assert list(got.values()) == [["png"]]
    context.close()
