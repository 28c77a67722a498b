"""`openday user …` and the startup checks, run as real processes."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from tests.conftest import Walker
from tests.ports import free_port

OPENDAY = str(Path(sys.executable).parent / "openday")


def _openday(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("OPENDAY_PORT", "PORT")}
    return subprocess.run(
        [OPENDAY, *args], env={**clean, **env}, capture_output=True, text=True, timeout=60
    )


def _login(walker: Walker, username: str, password: str) -> int:
    body = {"username": username, "password": password}
    return walker.client.post("/api/v1/auth/login", json=body).status_code


def test_cli_creates_disables_resets_and_reenables_a_staffer(
    walker: Walker, engine: Engine
) -> None:
    """The issue's walk through the CLI; each step checked against the API."""
    env = {"OPENDAY_DATABASE_URL": engine.url.render_as_string(hide_password=False)}
    done = _openday("user", "add", "zhao", "--role", "unit_staff", "--unit", "区住建局", env=env)
    assert done.returncode == 0, done.stderr
    otp = done.stderr.split("one-time password (shown once, change it after signing in):")[1]
    otp = otp.split()[0]
    token = done.stdout.strip().splitlines()[-1]
    assert _login(walker, "zhao", otp) == 200
    listed = _openday("user", "list", "--role", "unit_staff", env=env)
    assert "zhao\tunit_staff\t区住建局\tTrue" in listed.stdout
    assert _openday("user", "disable", "zhao", env=env).returncode == 0
    assert _login(walker, "zhao", otp) == 401
    me = walker.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401
    assert (
        "zhao\tunit_staff\t区住建局\tFalse"
        in _openday("user", "list", "--disabled", env=env).stdout
    )
    reset = _openday("user", "reset-password", "zhao", env=env)
    assert reset.returncode == 0, reset.stderr
    fresh = reset.stdout.strip().splitlines()[-1]
    assert _openday("user", "enable", "zhao", env=env).returncode == 0
    assert _login(walker, "zhao", otp) == 401 and _login(walker, "zhao", fresh) == 200
    moved = _openday("user", "set-role", "zhao", "unit_staff", "--unit", "石岭镇", env=env)
    assert moved.returncode == 0, moved.stderr
    assert "zhao\tunit_staff\t石岭镇" in _openday("user", "list", env=env).stdout
    revoked = _openday("user", "revoke-tokens", "zhao", env=env)
    assert revoked.returncode == 0 and "revoked 1 tokens" in revoked.stderr  # the sign-in
    missing = _openday("user", "disable", "nobody", env=env)
    assert missing.returncode == 2 and "no account 'nobody'" in missing.stderr
    weak = _openday("user", "set-role", "zhao", "viewer", "--unit", "石岭镇", env=env)
    assert weak.returncode == 2 and "drop --unit" in weak.stderr


def _broken_start(command: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    base = {
        "OPENDAY_VAR_DIR": str(tmp_path / "var"),
        "OPENDAY_DATABASE_URL": f"sqlite:///{tmp_path}/openday.db",
        "OPENDAY_REDIS_URL": "",
        "OPENDAY_BROKER_URL": "",
    }
    return _openday(command, "--port", env.pop("port", str(free_port())), env={**base, **env})


def _one_line(done: subprocess.CompletedProcess, *fragments: str) -> None:
    assert done.returncode == 1, (done.stdout, done.stderr)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith("错误：") and "/ error:" in lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.mark.parametrize("command", ["run", "api"])
def test_a_file_shaped_var_is_one_line(command: str, tmp_path: Path) -> None:
    """./var as a file: one line naming the path and OPENDAY_VAR_DIR, exit 1."""
    (tmp_path / "var").write_text("not a folder")
    _one_line(_broken_start(command, tmp_path), f"{tmp_path}/var", "OPENDAY_VAR_DIR")


def test_a_var_under_a_file_is_one_line(tmp_path: Path) -> None:
    """A var folder that cannot be made (its parent is a file) names the path."""
    (tmp_path / "blocker").write_text("x")
    done = _broken_start("run", tmp_path, OPENDAY_VAR_DIR=str(tmp_path / "blocker" / "var"))
    _one_line(done, str(tmp_path / "blocker" / "var"))


@pytest.mark.parametrize("command", ["run", "api"])
def test_a_busy_port_is_one_line_before_anything_runs(command: str, tmp_path: Path) -> None:
    """The port is checked before migrating: no database file is made."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        done = _broken_start(command, tmp_path, port=port)
    _one_line(done, f"127.0.0.1:{port}", "--port")
    assert not (tmp_path / "openday.db").exists()


def test_a_corrupt_database_is_one_line(tmp_path: Path) -> None:
    """A damaged SQLite file: one line naming it; --debug adds the traceback."""
    (tmp_path / "openday.db").write_bytes(b"\x13\x37" * 4096)
    _one_line(_broken_start("run", tmp_path), f"{tmp_path}/openday.db", "file is not a database")
    debug = _openday(
        "--debug",
        "run",
        "--port",
        str(free_port()),
        env={
            "OPENDAY_VAR_DIR": str(tmp_path / "var"),
            "OPENDAY_DATABASE_URL": f"sqlite:///{tmp_path}/openday.db",
        },
    )
    assert debug.returncode == 1 and "Traceback" in debug.stderr


def test_a_foreign_or_unmigrated_database_is_one_line(tmp_path: Path) -> None:
    """Another program's database is refused by run and api; an empty one by api only."""
    with sqlite3.connect(tmp_path / "openday.db") as conn:
        conn.execute("CREATE TABLE orders (id INTEGER)")
    for command in ("run", "api"):
        _one_line(_broken_start(command, tmp_path), "alembic_version")
    empty = tmp_path / "empty"
    empty.mkdir()
    done = _broken_start("api", empty)
    _one_line(done, "openday migrate")
    assert not (empty / "openday.db").exists()


def test_an_unreachable_postgresql_is_one_line(tmp_path: Path) -> None:
    """A PostgreSQL that refuses connections: one line naming host and port."""
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/openday"
    _one_line(_broken_start("api", tmp_path, OPENDAY_DATABASE_URL=url), "127.0.0.1:")
