"""A .docx whose document part is large is refused before python-docx parses it, and a parse
under the cap keeps a bounded high-water mark (VmHWM, measured in a fresh process)."""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import subprocess
import sys
import zipfile

import docx
import pytest

from settings import PROJECT_DIR
from workflows.files.archive_guard import ImportLimits
from workflows.kernel.errors import DomainError
from workflows.schedule import tables

MB = 1024 * 1024


def _docx_with_document_part(size: int) -> bytes:
    """A valid .docx whose word/document.xml is about `size` bytes: one table, its row repeated
    with random text (so it compresses like real text, not like a zip bomb)."""
    small = docx.Document()
    small.add_table(rows=1, cols=4)
    buffer = io.BytesIO()
    small.save(buffer)
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    xml = source.read("word/document.xml").decode()
    row = re.search(r"<w:tr[ >].*?</w:tr>", xml, re.S)
    assert row is not None
    template = row.group(0)
    rows, total = [], len(xml)
    while total < size:
        cell = f"<w:t>{secrets.token_hex(60)}</w:t>"
        one = template.replace("<w:p/>", f"<w:p><w:r>{cell}</w:r></w:p>")
        rows.append(one)
        total += len(one)
    xml = xml.replace(template, "".join(rows))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = xml.encode() if item.filename == "word/document.xml" else source.read(item)
            target.writestr(item.filename, data)
    return out.getvalue()


def test_a_document_part_over_its_cap_is_refused_before_parsing() -> None:
    data = _docx_with_document_part(15 * MB)
    assert len(data) < 16 * MB  # under every other archive cap: the member, total and ratio
    with pytest.raises(DomainError) as refused:
        tables.read_table(data, "大.docx", ImportLimits())
    assert refused.value.code == "archive_document_too_large" and refused.value.status == 413


PARSE = """
import json, sys
from workflows.kernel.errors import DomainError
from workflows.schedule import tables

def hwm():
    with open("/proc/self/status") as status:
        return next(int(l.split()[1]) for l in status if l.startswith("VmHWM"))

data = open(sys.argv[1], "rb").read()
try:  # imports and first-use costs, before the base
    tables.read_table(b"a,b\\n1,2\\n", "warm.csv")
except DomainError:
    pass
import docx  # noqa: F401  (what parsing a .docx imports)
base = hwm()
try:
    tables.read_table(data, "x.docx")
    code = "read"
except DomainError as exc:
    code = exc.code
print(json.dumps({"code": code, "grew_kb": hwm() - base}))
"""


def _parse_in_a_fresh_process(data: bytes, tmp_path) -> dict:
    path = tmp_path / "x.docx"
    path.write_bytes(data)
    done = subprocess.run(
        [sys.executable, "-c", PARSE, str(path)],
        env={**os.environ, "PYTHONPATH": str(PROJECT_DIR)},
        capture_output=True,
        text=True,
        timeout=300,
        cwd=PROJECT_DIR,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc (Linux)")
def test_parsing_stays_under_a_bounded_high_water_mark(tmp_path) -> None:
    """python-docx and lxml hold ~15 bytes per byte of document.xml while parsing: the 4 MB cap
    bounds a parse near 60 MB, so 100 MB is the bound with room for allocator slack. A 15 MB
    part (16 MB cost ~235 MB before) is refused having grown the process by almost nothing."""
    under = _parse_in_a_fresh_process(_docx_with_document_part(4 * MB - 64 * 1024), tmp_path)
    assert under["code"] != "archive_document_too_large"
    assert under["grew_kb"] < 100 * 1024, under
    over = _parse_in_a_fresh_process(_docx_with_document_part(15 * MB), tmp_path)
    assert over["code"] == "archive_document_too_large"
    assert over["grew_kb"] < 40 * 1024, over
