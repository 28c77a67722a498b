"""`openday district add/list` and `openday user add/list --district/--city` (issue 28), run
as real processes: the accounts they make act at their level, and each addition is audited."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models import ChangeLog, District, User
from settings import PROJECT_DIR
from tests.conftest import Walker


def _openday(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`openday …` of this checkout (`python -m cli`)."""
    clean = {k: v for k, v in os.environ.items() if k not in ("OPENDAY_PORT", "PORT")}
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env={**clean, **env, "PYTHONPATH": str(PROJECT_DIR)},
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _units_seen(walker: Walker, token: str) -> int:
    r = walker.client.get("/api/v1/units", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return int(r.json()["total"])


def test_a_district_and_its_supervisor_from_the_command_line(
    walker: Walker, engine: Engine
) -> None:
    env = {"OPENDAY_DATABASE_URL": engine.url.render_as_string(hide_password=False)}
    added = _openday("district", "add", "anyue", "安岳县", "--city-name", "资阳市", env=env)
    assert added.returncode == 0, added.stderr
    district_id = int(added.stdout.strip().splitlines()[-1])
    listed = _openday("district", "list", env=env).stdout
    assert f"{district_id}\tanyue\t安岳县\t资阳市\t-" in listed and "\tyanjiang\t" in listed

    again = _openday("district", "add", "anyue", "另一个县", env=env)
    assert again.returncode == 2 and "a district with this code exists" in again.stderr
    bad = _openday("district", "add", "An Yue", "安岳", env=env)
    assert bad.returncode == 2 and "district code 'An Yue' is invalid" in bad.stderr

    sup = _openday("user", "add", "anyue_sup", "--role", "supervisor", "--district", "anyue",
                   env=env)  # fmt: skip
    assert sup.returncode == 0, sup.stderr
    city = _openday("user", "add", "city_sup", "--role", "supervisor", "--city", env=env)
    assert city.returncode == 0, city.stderr
    nowhere = _openday("user", "add", "x", "--role", "viewer", "--district", "nowhere", env=env)
    assert nowhere.returncode == 2 and "no district with code 'nowhere'" in nowhere.stderr
    both = _openday("user", "add", "y", "--role", "viewer", "--district", "anyue", "--city",
                    env=env)  # fmt: skip
    assert both.returncode == 2

    in_anyue = _openday("user", "list", "--district", "anyue", env=env).stdout.splitlines()
    assert in_anyue[0].endswith("\temail\tdistrict") and len(in_anyue) == 2, in_anyue
    assert in_anyue[1].endswith("anyue_sup\tsupervisor\t-\tTrue\t-\tanyue")
    assert "city_sup\tsupervisor\t-\tTrue\t-\tcity" in _openday("user", "list", env=env).stdout

    # Each acts at its level: 安岳县 has no unit yet; the city sees district 1's.
    anyue_token = sup.stdout.strip().splitlines()[-1]
    city_token = city.stdout.strip().splitlines()[-1]
    assert _units_seen(walker, anyue_token) == 0
    assert _units_seen(walker, city_token) >= len(walker.world.units) > 0

    with Session(engine) as session:
        assert session.exec(select(District).where(District.code == "anyue")).one().id == (
            district_id
        )
        users = {u.username: u.district_id for u in session.exec(select(User)).all()}
        assert users["anyue_sup"] == district_id and users["city_sup"] is None
        assert "x" not in users and "y" not in users
        lines = session.exec(select(ChangeLog).where(ChangeLog.action == "create")).all()
        made = {(c.entity, c.entity_id) for c in lines}
        ids = {u.username: u.id for u in session.exec(select(User)).all()}
        assert ("district", district_id) in made
        assert ("account", ids["anyue_sup"]) in made and ("account", ids["city_sup"]) in made
