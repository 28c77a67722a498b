"""The `openday` command and the embedded demo, run as real processes where users run them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from models import Event, Unit
from settings import PROJECT_DIR
from tests.conftest import tiny_jpeg
from tests.ports import free_port
from workflows.kernel.visibility import SYSTEM
from workflows.schedule.demo import load_demo_campaign
from workflows.schedule.importer import plan_import
from workflows.schedule.tables import read_table

OPENDAY = str(Path(sys.executable).parent / "openday")
NOTICE = Path(__file__).parent.parent / "fixtures" / "yanjiang-2022-open-day-notice.txt"
SCHEDULE = PROJECT_DIR / "data" / "yanjiang-2022-schedule.csv"


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _openday(
    *args: str, env: dict[str, str], input: str | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [OPENDAY, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        input=input,
        timeout=60,
    )


def test_user_add_prints_a_working_token_alone_on_the_last_line(walker, engine: Engine) -> None:
    """`openday user add NAME --role unit_staff --unit 区住建局` → token on the last line."""
    env = {"OPENDAY_DATABASE_URL": _url(engine)}
    done = _openday("user", "add", "wang", "--role", "unit_staff", "--unit", "区住建局", env=env)
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip().splitlines()[-1]
    assert token.startswith("od_") and " " not in token
    me = walker.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert (me["username"], me["role"], me["unit_id"]) == (
        "wang",
        "unit_staff",
        walker.world.units["区住建局"],
    )


def test_user_add_refuses_bad_combinations(engine: Engine, world) -> None:
    """Staff without a unit, an unknown unit and an unknown role exit non-zero, bilingual."""
    env = {"OPENDAY_DATABASE_URL": _url(engine)}
    for args, fragment in (
        (["user", "add", "a", "--role", "unit_staff"], "needs its unit"),
        (["user", "add", "b", "--role", "unit_staff", "--unit", "不存在局"], "no unit named"),
        (["user", "add", "c", "--role", "boss"], "unknown role"),
        (["user", "add", "supervisor", "--role", "supervisor"], "exists"),
    ):
        done = _openday(*args, env=env)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert fragment in done.stderr


def test_schedule_transcription_matches_the_notice() -> None:
    """data/yanjiang-2022-schedule.csv holds exactly the notice's attachment table."""
    fold = lambda s: "".join(s.split())  # noqa: E731
    ours = read_table(SCHEDULE.read_bytes(), SCHEDULE.name).rows
    theirs = read_table(NOTICE.read_bytes(), NOTICE.name).rows
    assert len(ours) == len(theirs) == 39
    keys = ("seq", "unit", "theme", "when")
    assert [tuple(fold(r.cells[k]) for k in keys) for r in ours] == [
        tuple(fold(r.cells[k]) for k in keys) for r in theirs
    ]


def test_demo_campaign_has_39_events_and_two_known_warnings(engine: Engine, clock) -> None:
    """The demo loads through the importer: 39 events, 老君镇 and 东峰镇 before the window."""
    with Session(engine, expire_on_commit=False) as session:
        campaign = load_demo_campaign(session, clock.now())
        session.commit()
        assert session.exec(select(func.count()).select_from(Event)).one() == 39
        assert session.exec(select(func.count()).select_from(Unit)).one() == 39
        report = plan_import(session, campaign, read_table(SCHEDULE.read_bytes(), SCHEDULE.name))
        # CSV rows count the header as line 1, so 序号 32 sits on line 33.
        warned = [(i.row, i.code) for i in report.warnings]
        assert warned == [(33, "outside_campaign_window"), (37, "outside_campaign_window")]
        assert "老君镇" in report.warnings[0].message and "序号 32" in report.warnings[0].message
        assert "东峰镇" in report.warnings[1].message_en
        assert all(e.exists for e in report.events)  # importing again would add nothing
        # Loading again is a no-op.
        load_demo_campaign(session, clock.now())
        session.commit()
        assert session.exec(select(func.count()).select_from(Event)).one() == 39
        dongfeng = session.exec(select(Event).where(Event.seq == 36)).one()
        assert (str(dongfeng.date_earliest), str(dongfeng.date_latest)) == (
            "2022-08-11",
            "2022-08-20",
        )
        assert SYSTEM.name == "system"


def _banner_comes_after_the_burst(log: Path, logins: dict[str, dict], base: str) -> None:
    """The demo's accounts (the three administrators too, and no all-duty admin), with
    passwords, are printed after the start-up log lines, where a newcomer still sees them
    (issue 24); the file keeps passwords and tokens."""
    assert list(logins) == ["demo-supervisor", "demo-staff", "demo-system", "demo-security",
                            "demo-audit", "demo-city", "demo-anyue"]  # fmt: skip
    # Each names its district: the city supervisor the city, the second district's its own.
    assert logins["demo-city"]["district"] == "全市"
    assert logins["demo-anyue"]["district"] == "安岳县"
    assert logins["demo-supervisor"]["district"] == logins["demo-staff"]["district"] != "安岳县"
    assert all(x["password"] and x["token"].startswith("od_") for x in logins.values())
    deadline = time.monotonic() + 45
    while "demo-audit · " not in log.read_text(errors="replace"):
        assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
        time.sleep(0.2)
    lines = log.read_text(errors="replace").splitlines()
    first = next(i for i, line in enumerate(lines) if "演示账号" in line)
    started = next(i for i, line in enumerate(lines) if "Application startup complete" in line)
    assert started < first  # it used to come before the scheduler's and uvicorn's lines
    shown = "\n".join(lines[first:])
    for name, login in logins.items():
        assert f"{name} · {login['password']} · " in shown
    assert f"{base}/login" in shown


def test_openday_run_serves_the_demo_and_a_staffer_walks_event_14(tmp_path: Path) -> None:
    """`openday run` (what `make run` starts) on a fresh var dir: 39 events, a full walk."""
    port = free_port()
    env = {
        **os.environ,
        "OPENDAY_VAR_DIR": str(tmp_path / "var"),
        "OPENDAY_DATABASE_URL": f"sqlite:///{tmp_path}/var/openday.db",
        "PORT": str(port),
        "OPENDAY_LOG_FORMAT": "json",
    }
    for name in ("OPENDAY_PORT", "OPENDAY_REDIS_URL"):  # embedded defaults, as `make run`
        env.pop(name, None)
    log = (tmp_path / "run.log").open("wb")  # a file, not a pipe nobody drains
    proc = subprocess.Popen([OPENDAY, "run"], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, (tmp_path / "run.log").read_text(errors="replace")
            assert time.monotonic() < deadline, "openday run did not come up"
            time.sleep(0.2)
        logins = {
            x["username"]: x
            for x in json.loads((tmp_path / "var" / "demo-credentials.json").read_text())
        }
        _banner_comes_after_the_burst(tmp_path / "run.log", logins, base)
        staff = httpx.Client(base_url=base, timeout=10)
        token = staff.post(
            "/api/v1/auth/login",
            json={"username": "demo-staff", "password": logins["demo-staff"]["password"]},
        ).json()["token"]
        staff.headers["Authorization"] = f"Bearer {token}"
        sup = httpx.Client(
            base_url=base,
            timeout=10,
            headers={"Authorization": f"Bearer {logins['demo-supervisor']['token']}"},
        )
        assert sup.get("/api/v1/events").json()["total"] == 39
        # The second district's supervisor sees its own campaign's 5 events, the city all 44.
        for who, total in (("demo-anyue", 5), ("demo-city", 44)):
            auth = {"Authorization": f"Bearer {logins[who]['token']}"}
            assert httpx.get(f"{base}/api/v1/events", headers=auth).json()["total"] == total
        mine = staff.get("/api/v1/events").json()["items"]
        assert [(e["seq"], e["unit_name"]) for e in mine] == [(14, "区住建局")]
        eid = mine[0]["id"]

        def move(client: httpx.Client, trigger: str, data: dict | None = None) -> dict:
            version = client.get(f"/api/v1/events/{eid}").json()["version"]
            r = client.post(
                f"/api/v1/events/{eid}/transitions",
                json={"trigger": trigger, "expected_version": version, "data": data or {}},
            )
            assert r.status_code == 200, r.text
            return r.json()["event"]

        people = [{"name": f"代表{i}", "category": "npc_deputy"} for i in range(10)] + [
            {"name": f"市民{i}", "category": "citizen", "invitation": "public"} for i in range(5)
        ]
        invitees = staff.post(
            f"/api/v1/events/{eid}/invitees", json=people, params={"expected_version": 1}
        ).json()
        refused = staff.post(
            f"/api/v1/events/{eid}/transitions", json={"trigger": "hold", "expected_version": 2}
        )
        assert (
            refused.status_code == 409
            and refused.json()["error"]["allowed_triggers"][0] == "invite"
        )
        move(staff, "invite")
        move(
            staff,
            "hold",
            {
                "attendance": {str(i["id"]): True for i in invitees},
                "forms_held": ["site_visit", "dialogue"],
                "met_by": [{"name": "李局长", "post": "principal"}],
            },
        )
        move(staff, "collect_feedback", {"items": [{"content": "加快老旧小区加装电梯审批"}]})
        staff.post(
            f"/api/v1/events/{eid}/summary/attachments",
            files={"file": ("现场.jpg", tiny_jpeg(), "image/jpeg")},
            params={"expected_version": staff.get(f"/api/v1/events/{eid}").json()["version"]},
        )
        assert (
            move(staff, "submit_summary", {"text": "活动顺利开展"})["state"] == "summary_submitted"
        )
        assert move(sup, "spot_check", {"result": "satisfactory"})["state"] == "spot_checked"
        history = sup.get(f"/api/v1/events/{eid}/history").json()
        moves = [h["trigger"] for h in history if not h["trigger"].startswith("edit.")]
        assert moves == [
            "create",
            "invite",
            "hold",
            "collect_feedback",
            "submit_summary",
            "spot_check",
        ]
        assert [h["trigger"] for h in history if h["trigger"].startswith("edit.")] == [
            "edit.invitees",
            "edit.attachment",
        ]
    finally:
        proc.terminate()
        proc.wait(15)
