"""`openday` and `python -m cli` are one command tree: the same commands either way."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from settings import PROJECT_DIR

OPENDAY = str(Path(sys.executable).parent / "openday")


def _command_names(argv: list[str]) -> list[str]:
    """The names in the Commands panel of `argv --help`, run as a real process on this checkout."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT_DIR), "COLUMNS": "100", "NO_COLOR": "1"}
    done = subprocess.run(
        [*argv, "--help"], env=env, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    panel = done.stdout.split("─ Commands ─", 1)[1].split("╰", 1)[0]
    return re.findall(r"^│ (\S+)\s", panel, flags=re.MULTILINE)


def test_openday_and_python_m_cli_list_the_same_commands() -> None:
    script = _command_names([OPENDAY])
    module = _command_names([sys.executable, "-m", "cli"])
    assert {"run", "import-schedule", "user", "privacy"} <= set(script)
    assert module == script
