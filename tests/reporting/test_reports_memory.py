"""The API process does not load the heavy document libraries until an export, a docx or an
evidence check needs them (issue 16: a 100,000-event export under 150 MB RSS)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("openpyxl", "docx", "matplotlib", "PIL", "numpy", "lxml")


def test_building_the_app_loads_no_document_or_imaging_library() -> None:
    code = (
        "import sys, api\n"
        "api.create_app()\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"loaded at start-up: {out.stdout.strip()}"


def test_column_letters_match_excel() -> None:
    from workflows.reporting.xlsx_stream import column_letter

    assert [column_letter(n) for n in (1, 26, 27, 52, 53, 702, 703, 16384)] == [
        "A", "Z", "AA", "AZ", "BA", "ZZ", "AAA", "XFD"
    ]  # fmt: skip
