"""docs/operations.md "Running as processes" (linked from the README): its recipe, run as written
(ports, database name and Redis database made private), delivers the escalation e-mails to the
local SMTP sink, each once."""

from __future__ import annotations

import email
import os
import re
import signal
import subprocess
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from settings import PROJECT_DIR
from tests.conftest import DATABASE_URL, REDIS_URL, unavailable
from tests.ports import free_port

RECIPE = re.compile(
    r"<!-- process-recipe:start -->\n```sh\n(.*?)```\n<!-- process-recipe:end -->", re.S
)


def recipe() -> str:
    """The recipe block of docs/operations.md."""
    found = RECIPE.search((PROJECT_DIR / "docs" / "operations.md").read_text(encoding="utf-8"))
    assert found, "docs/operations.md lost its process recipe block"
    return found.group(1)


def _private(script: str, database: str) -> str:
    """The same commands on private ports, database and Redis database (nothing else changes)."""
    for old in ("8000", "1025", "9191", "9192", "9193"):
        assert old in script, old
        script = re.sub(rf"(?<=[:= ]){old}\b", str(free_port()), script)
    assert script.count("openday") > 5 and "5432/openday\n" in script
    script = script.replace("5432/openday\n", f"5432/{database}\n")
    script = script.replace("datname = 'openday'", f"datname = '{database}'")
    script = script.replace("CREATE DATABASE openday'", f"CREATE DATABASE {database}'")
    return script.replace("6379/0", "6379/14")


def _mails(folder: Path) -> list[tuple[str, str]]:
    out = []
    for path in sorted((folder / "var" / "mail" / "new").glob("*")):
        message = email.message_from_bytes(path.read_bytes())
        subject = str(email.header.make_header(email.header.decode_header(message["Subject"])))
        out.append((message["To"], subject))
    return out


def test_readme_recipe_delivers_escalations_once(tmp_path: Path) -> None:
    """Run the block with bash; wait for the mails; every (recipient, subject) arrives once."""
    if not (DATABASE_URL.startswith("postgresql") and REDIS_URL.startswith("redis")):
        unavailable("PostgreSQL and Redis", "OPENDAY_DATABASE_URL / OPENDAY_REDIS_URL not set")
    database = f"openday_recipe_{uuid.uuid4().hex[:8]}"
    (tmp_path / "run.sh").write_text(_private(recipe(), database), encoding="utf-8")
    (tmp_path / ".venv").symlink_to(PROJECT_DIR / ".venv")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENDAY_", "PORT"))}
    log = (tmp_path / "recipe.log").open("wb")
    proc = subprocess.Popen(
        ["bash", "-e", "run.sh"],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        code = proc.wait(timeout=180)
        logs = [tmp_path / "recipe.log", *sorted((tmp_path / "var" / "log").glob("*.log"))]
        assert code == 0, "\n".join(f"{p.name}: {p.read_text()[-1500:]}" for p in logs)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            mails = _mails(tmp_path)
            if {to for to, _ in mails} >= {"zhujianju@example.org", "duban@example.org"}:
                break
            time.sleep(1)
        time.sleep(3)  # a duplicate, were there one, would arrive right behind
        mails = _mails(tmp_path)
        assert {to for to, _ in mails} >= {"zhujianju@example.org", "duban@example.org"}, mails
        twice = [m for m, n in Counter(mails).items() if n > 1]
        assert twice == [], twice
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        time.sleep(3)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        admin = sa.create_engine(DATABASE_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.dispose()


@pytest.mark.parametrize("needle", ["openday migrate", "openday api", "openday worker"])
def test_recipe_runs_migrate_before_the_processes(needle: str) -> None:
    """migrate comes before every long-running process in the block."""
    block = recipe()
    assert block.index("openday migrate") <= block.index(needle)
