"""Every file link in the page templates is a plain download, never an htmx swap (issue 24)."""

from __future__ import annotations

import re

from pages.assets import TEMPLATES_DIR

LINK = re.compile(r"<a\s[^>]*>", re.S)
FILE = re.compile(r'href="[^"]*(\.xlsx|\.csv|\.docx|/files/)[^"]*"')


def test_file_links_download_without_boosting() -> None:
    """A link to a file carries `download` and `hx-boost="false"` (boosting swaps its bytes in)."""
    wrong = []
    for template in sorted(TEMPLATES_DIR.rglob("*.html")):
        for link in LINK.findall(template.read_text(encoding="utf-8")):
            is_file = FILE.search(link) is not None
            if (is_file or " download" in link) and not (
                " download" in link and 'hx-boost="false"' in link
            ):
                wrong.append(f"{template.name}: {link}")
    assert wrong == []
