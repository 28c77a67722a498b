"""A notice's text as a .docx: body lines as paragraphs, the tab-prefixed cells of its attached
table (the reference text's layout: one cell per line, a blank line between rows) as a table."""

from __future__ import annotations

import io


def notice_docx(text: str) -> bytes:
    """The .docx a district office would send for `text`."""
    import docx

    document = docx.Document()
    rows: list[list[str]] = []
    row: list[str] = []
    for line in text.split("\n"):
        if line.startswith("\t"):
            row.append(line.strip())
            continue
        if row:
            rows.append(row)
            row = []
        if rows and line.strip():  # body text after the table: flush the table first
            _table(document, rows)
            rows = []
        if not rows and line.strip():
            document.add_paragraph(line.strip())
    if row:
        rows.append(row)
    if rows:
        _table(document, rows)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _table(document: object, rows: list[list[str]]) -> None:
    width = max(len(r) for r in rows)
    table = document.add_table(rows=len(rows), cols=width)  # type: ignore[attr-defined]
    for r, cells in enumerate(rows):
        for c, value in enumerate(cells):
            table.cell(r, c).text = value
