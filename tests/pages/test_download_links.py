"""Links htmx must not boost (issue 24): `hx-boost` swaps only the body, so a file's bytes would
show as the page, and a page with its own layout (the public pages, the printable receipts)
would lose its stylesheets. Such links opt out with `hx-boost="false"`."""

from __future__ import annotations

import re

from pages.assets import TEMPLATES_DIR

LINK = re.compile(r"<a\s[^>]*>", re.S)
FILE = re.compile(r'href="[^"]*(\.xlsx|\.csv|\.docx|/files/)[^"]*"')
OWN_LAYOUT = re.compile(r'href="(/public[/"?]|[^"]*/receipts["/?])')


def _links() -> list[tuple[str, str]]:
    """(template, link) for every link of the staff pages (the public pages are not boosted)."""
    return [
        (template.name, link)
        for template in sorted(TEMPLATES_DIR.glob("*.html"))
        for link in LINK.findall(template.read_text(encoding="utf-8"))
    ]


def test_file_links_download_without_boosting() -> None:
    """A link to a file carries `download` and `hx-boost="false"` (boosting swaps its bytes in)."""
    wrong = [
        f"{name}: {link}"
        for name, link in _links()
        if (FILE.search(link) or " download" in link)
        and not (" download" in link and 'hx-boost="false"' in link)
    ]
    assert wrong == []


def test_links_to_pages_with_their_own_layout_are_not_boosted() -> None:
    """The public pages and the printable receipts load as whole pages, with their own styles."""
    wrong = [
        f"{name}: {link}"
        for name, link in _links()
        if OWN_LAYOUT.search(link) and 'hx-boost="false"' not in link
    ]
    assert wrong == []
