"""Row-level security on PostgreSQL (issue 28), tested as the service connects: a runtime role
without SUPERUSER or BYPASSRLS. The shared fixtures connect as the postgres superuser, which
bypasses every policy, so these tests make their own role and engine.

`openday verify tenants` passes on the migrated database and fails when a policy is dropped,
FORCE is switched off, or the role is a superuser; a query with no application filter sees
only the bound district's rows, and nothing with no district bound."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models import District, Event, Unit, UnitKind
from models.db import make_engine
from tests.conftest import DATABASE_URL, runtime_role
from workflows.kernel import tenancy
from workflows.kernel.tenant_check import verify

NOW = datetime(2022, 9, 16, 2, tzinfo=UTC)


@pytest.fixture
def owner(postgres_url: str) -> Iterator[Engine]:
    """The tables' owner (here the superuser the fixtures migrate with)."""
    engine = make_engine(postgres_url, pool_size=1, max_overflow=2)
    yield engine
    engine.dispose()


@pytest.fixture
def runtime_url(owner: Engine, postgres_url: str) -> Iterator[str]:
    """A login role like the service's: DML on every table, no ownership, no bypass."""
    with runtime_role(owner, postgres_url) as url:
        yield url


@pytest.fixture
def runtime(runtime_url: str) -> Iterator[Engine]:
    engine = make_engine(runtime_url, pool_size=1, max_overflow=2)
    yield engine
    engine.dispose()


def _failed(report: object) -> list[str]:
    return [text for ok, text in report.lines if not ok]  # type: ignore[attr-defined]


def test_verify_passes_as_the_runtime_role(runtime: Engine) -> None:
    report = verify(runtime)
    assert report.ok, _failed(report)
    texts = " ".join(t for _, t in report.lines)
    assert "table event" in texts and "table unit" in texts
    assert "district B does not see A's canary" in texts
    for table in ("notification", "timer", "change_log", "inbox_message", "outbox"):
        assert f"table {table}: RLS enabled=True forced=True" in texts
    for table in ("notification", "timer", "change_log"):
        assert f"district B does not see A's {table}" in texts


def test_verify_fails_as_a_superuser(owner: Engine) -> None:
    failed = _failed(verify(owner))
    assert any("SUPERUSER" in t for t in failed)
    assert any("B does not see" in t for t in failed)  # the superuser sees everything


@pytest.mark.parametrize(
    ("undo", "redo", "table"),
    [
        (
            "DROP POLICY tenant_read ON invitee",
            "CREATE POLICY tenant_read ON invitee FOR SELECT USING "
            "(EXISTS (SELECT 1 FROM event p WHERE p.id = invitee.event_id))",
            "table invitee",
        ),
        (
            "ALTER TABLE unit NO FORCE ROW LEVEL SECURITY",
            "ALTER TABLE unit FORCE ROW LEVEL SECURITY",
            "table unit",
        ),
        (
            "ALTER TABLE change_log NO FORCE ROW LEVEL SECURITY",
            "ALTER TABLE change_log FORCE ROW LEVEL SECURITY",
            "table change_log",
        ),
        (  # a read policy that lets every row through: the canary shows it
            "DROP POLICY tenant_read ON timer; "
            "CREATE POLICY tenant_read ON timer FOR SELECT USING (true)",
            "DROP POLICY tenant_read ON timer; CREATE POLICY tenant_read ON timer FOR SELECT "
            "USING (openday_sees_district(district_id, false))",
            "B does not see A's timer",
        ),
    ],
    ids=["policy dropped", "force off", "change_log force off", "timer read policy open"],
)
def test_verify_fails_when_a_policy_is_dropped_or_force_is_off(
    owner: Engine, runtime: Engine, undo: str, redo: str, table: str
) -> None:
    with owner.begin() as conn:
        conn.exec_driver_sql(undo)
    try:
        failed = _failed(verify(runtime))
    finally:
        with owner.begin() as conn:
            conn.exec_driver_sql(redo)
    assert any(t.split(":")[0].endswith(table) or t.endswith(table) for t in failed), failed
    assert verify(runtime).ok


def test_the_command_exits_non_zero_on_failure(owner: Engine, postgres_url: str) -> None:
    """`openday verify tenants` as a superuser: the clear line and exit 1."""
    env = {"OPENDAY_DATABASE_URL": postgres_url, "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "cli", "verify", "tenants"],
        capture_output=True,
        text=True,
        env={**env, "PYTHONPATH": str(_root())},
        timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout + done.stderr
    assert "SUPERUSER" in out and "FAILED" in out


@pytest.mark.parametrize("command", [["api", "--port", "0"], ["worker"], ["scheduler"]])
def test_start_up_refuses_a_privileged_role(postgres_url: str, command: list[str]) -> None:
    """As the superuser, without OPENDAY_ALLOW_PRIVILEGED_DB_ROLE: one line, exit 1, before
    anything runs (the worker before it looks for its broker)."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENDAY_", "PORT"))}
    env.update(OPENDAY_DATABASE_URL=postgres_url, OPENDAY_BROKER_URL="redis://127.0.0.1:1/0",
               PYTHONPATH=str(_root()))  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "cli", *command], capture_output=True,
                          text=True, env=env, timeout=120)  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    lines = [x for x in done.stderr.splitlines() if "error:" in x]
    assert len(lines) == 1 and "has SUPERUSER" in lines[0], done.stderr
    assert "OPENDAY_ALLOW_PRIVILEGED_DB_ROLE=true" in lines[0]


def test_the_role_check_lets_the_runtime_role_and_an_allowed_superuser_start(
    runtime_url: str, postgres_url: str, tmp_path: object
) -> None:
    from cli.checks import StartupError, check_runtime_role
    from settings import Settings

    def settings(url: str, allow: bool) -> Settings:
        return Settings(database_url=url, allow_privileged_db_role=allow, var_dir=tmp_path)  # type: ignore[arg-type]

    check_runtime_role(settings(runtime_url, False))
    check_runtime_role(settings(postgres_url, True))
    with pytest.raises(StartupError, match="has SUPERUSER"):
        check_runtime_role(settings(postgres_url, False))


def _root() -> object:
    from pathlib import Path

    return Path(__file__).resolve().parents[2]


def test_a_query_without_its_application_filter_sees_only_the_bound_district(
    owner: Engine, runtime: Engine
) -> None:
    """The second wall: `select(Unit)` with no visibility filter at all, as the runtime role,
    returns the bound district's rows only, and none with no district bound."""
    with Session(owner) as session:
        tenancy.bind(session, tenancy.Tenant(scope=tenancy.CLI))
        b = District(code=f"b{uuid.uuid4().hex[:6]}", name=f"乙区{uuid.uuid4().hex[:6]}",
                     created_at=NOW)  # fmt: skip
        session.add(b)
        session.flush()
        session.add(Unit(district_id=1, name="甲区单位", kind=UnitKind.town, created_at=NOW))
        session.add(Unit(district_id=b.id, name="乙区单位", kind=UnitKind.town, created_at=NOW))
        session.commit()
        b_id = b.id
    with Session(runtime) as session:
        tenancy.bind(session, tenancy.Tenant(b_id))
        assert {u.name for u in session.exec(select(Unit)).all()} == {"乙区单位"}
        session.commit()  # a new transaction still works for district B (set per transaction)
        assert {u.name for u in session.exec(select(Unit)).all()} == {"乙区单位"}
        assert session.exec(select(Event)).all() == []
    with Session(runtime) as session:
        assert session.exec(select(Unit)).all() == []  # no district: nothing
        with pytest.raises(sa.exc.DBAPIError):  # and nothing can be written
            session.add(Unit(district_id=1, name="无主", kind=UnitKind.town, created_at=NOW))
            session.flush()
    with Session(runtime) as session:
        tenancy.bind(session, tenancy.Tenant(scope=tenancy.CITY_READ))
        names = {u.name for u in session.exec(select(Unit)).all()}
        assert {"甲区单位", "乙区单位"} <= names  # a city reader reads every district
        with pytest.raises(sa.exc.DBAPIError):  # and writes none
            session.add(Unit(district_id=1, name="只读", kind=UnitKind.town, created_at=NOW))
            session.flush()


if not DATABASE_URL.startswith("postgresql"):
    pytestmark = pytest.mark.skip(reason="row-level security is PostgreSQL's")


def test_the_service_runs_as_the_runtime_role(
    owner: Engine, runtime: Engine, tmp_path: object
) -> None:
    """The API on the runtime role's engine: staff plan an event, their district's supervisor
    lists and exports it, the public calendar answers; every transaction found its tenant."""
    from datetime import date

    from fastapi.testclient import TestClient

    from api import create_app
    from models import Campaign, Role
    from settings import Settings
    from tests.conftest import local
    from workflows.accounts.service import create_user, issue_token
    from workflows.campaign.rules import CampaignRules
    from workflows.kernel.clock import FixedClock

    clock = FixedClock(local(2022, 9, 16))
    now = clock.now()
    tag = uuid.uuid4().hex[:6]
    with Session(owner) as s:
        c = Campaign(doc_number=f"rt-{tag}", title="t", issuing_office="o",
                     starts_on=date(2022, 8, 22), ends_on=date(2022, 9, 22),
                     rules=CampaignRules().model_dump(), created_at=now)  # fmt: skip
        u = Unit(name=f"区住建局{tag}", kind=UnitKind.department, created_at=now)
        s.add_all([c, u])
        s.flush()
        heads = {}
        for name, role, unit in (("sup", Role.supervisor, None), ("staff", Role.unit_staff, u.id)):
            user = create_user(s, username=f"{name}{tag}", role=role, unit_id=unit, now=now)
            heads[name] = {"Authorization": "Bearer " + issue_token(s, user, kind="api", now=now)}
        s.commit()
        campaign_id, unit_id = c.id, u.id
    settings = Settings(
        var_dir=tmp_path,  # type: ignore[arg-type]
        database_url="sqlite://",  # type: ignore[arg-type]
        totp_required_roles="",
    )
    with TestClient(create_app(settings=settings, engine=runtime, clock=clock)) as client:
        body = {
            "campaign_id": campaign_id,
            "unit_id": unit_id,
            "theme": "参观",
            "date": "2022-09-16",
        }
        r = client.post("/api/v1/events", json=body, headers=heads["staff"])
        assert r.status_code == 201, r.text
        r = client.get(f"/api/v1/events?campaign_id={campaign_id}", headers=heads["sup"])
        assert r.status_code == 200 and r.json()["total"] == 1
        r = client.get("/api/v1/exports/events.csv", headers=heads["sup"])
        assert r.status_code == 200 and "参观" in r.text
        assert client.get("/public").status_code == 200
        assert client.get("/readyz").json()["tenants"] == {"state": "ok"}


def test_lines_of_a_district_are_invisible_to_another_and_the_chain_holds(
    owner: Engine, runtime: Engine
) -> None:
    """Notifications, timers and change-log lines of district A, with no application filter, as
    the runtime role: invisible under B and under no district, visible under A and to a city
    reader. A district's transaction appends to the city's one change-log chain without seeing
    the other districts' lines, and `openday audit verify` (a city scope) finds it intact."""
    from datetime import date

    from models import ChangeLog, Notification, Timer
    from workflows.kernel import audit
    from workflows.kernel.visibility import SYSTEM

    tag = uuid.uuid4().hex[:6]
    with Session(owner) as session:
        tenancy.bind(session, tenancy.Tenant(scope=tenancy.CLI))
        a = District(code=f"a{tag}", name=f"甲区{tag}", created_at=NOW)
        b = District(code=f"b{tag}", name=f"乙区{tag}", created_at=NOW)
        session.add_all([a, b])
        session.flush()
        unit_a = Unit(district_id=a.id, name=f"甲单位{tag}", kind=UnitKind.town, created_at=NOW)
        unit_b = Unit(district_id=b.id, name=f"乙单位{tag}", kind=UnitKind.town, created_at=NOW)
        session.add_all([unit_a, unit_b])
        session.flush()
        ids = {"a": a.id, "b": b.id, "unit_a": unit_a.id, "unit_b": unit_b.id}
        session.commit()
    # Written by district A's own transaction, no district named on the rows: the insert
    # trigger gives them A's (from the unit, else the transaction's district).
    with Session(runtime) as session:
        tenancy.bind(session, tenancy.Tenant(ids["a"]))
        note = Notification(key=f"k-{tag}", subject_type="unit", subject_id=ids["unit_a"],
                            unit_id=ids["unit_a"], rule="r", kind="reminder", channel="log",
                            recipient="x", title="t", body="b", created_at=NOW)  # fmt: skip
        timer = Timer(rule="r", kind="reminder", subject_type=f"u{tag}", subject_id=1,
                      deadline_on=date(2022, 9, 16), due_at=NOW, created_at=NOW)  # fmt: skip
        session.add_all([note, timer])
        line = audit.record(session, SYSTEM, entity="unit", entity_id=ids["unit_a"],
                            action="update", now=NOW, unit_id=ids["unit_a"],
                            before={"name": "x"}, after={"name": "y"})  # fmt: skip
        session.commit()
        rows = {"notification": (Notification, note.id), "timer": (Timer, timer.id),
                "change_log": (ChangeLog, line.id)}  # fmt: skip
        assert note.district_id == timer.district_id == line.district_id == ids["a"]

    def seen(tenant: tenancy.Tenant | None) -> set[str]:
        with Session(runtime) as session:
            if tenant is not None:
                tenancy.bind(session, tenant)
            return {
                name for name, (model, row_id) in rows.items()
                if session.exec(select(model).where(model.id == row_id)).first() is not None
            }  # fmt: skip

    assert seen(tenancy.Tenant(ids["a"])) == set(rows)
    assert seen(tenancy.Tenant(ids["b"])) == set()
    assert seen(None) == set()
    assert seen(tenancy.Tenant(scope=tenancy.CITY_READ)) == set(rows)
    # District B appends to the same chain right after A's line, which it cannot see.
    with Session(runtime) as session:
        tenancy.bind(session, tenancy.Tenant(ids["b"]))
        assert session.exec(select(ChangeLog).where(ChangeLog.id == line.id)).first() is None
        after = audit.record(session, SYSTEM, entity="unit", entity_id=ids["unit_b"],
                             action="update", now=NOW, unit_id=ids["unit_b"],
                             before={"name": "x"}, after={"name": "z"})  # fmt: skip
        session.commit()
        assert after.seq == (line.seq or 0) + 1 and after.prev_hash == line.row_hash
        assert after.district_id == ids["b"]
        # Under one district the chain is partial, so verify runs under a city scope.
    with Session(runtime) as session:
        tenancy.bind(session, tenancy.OPERATOR)
        reports = audit.verify(session, [ChangeLog])
        assert reports[0].broken is None, reports[0]


def test_a_districts_job_writes_a_digest_only_under_the_jobs_scope(runtime: Engine) -> None:
    """A digest is city-level: a district's timer job cannot write one under its district
    (fails closed: NULL district, not the writer's), and writes it inside `as_jobs`, after
    which the transaction is the district's again."""
    from models import Notification

    def digest(key: str) -> Notification:
        return Notification(key=key, subject_type="digest", subject_id=0, rule="digest",
                            kind="digest", channel="log", recipient="x", title="t", body="",
                            state="held", created_at=NOW)  # fmt: skip

    tag = uuid.uuid4().hex[:6]
    with Session(runtime) as session:
        tenancy.bind(session, tenancy.Tenant(1))
        with pytest.raises(sa.exc.DBAPIError, match="row-level security"):
            session.add(digest(f"d1-{tag}"))
            session.flush()
    with Session(runtime) as session:
        tenancy.bind(session, tenancy.Tenant(1))
        with tenancy.as_jobs(session):
            row = digest(f"d2-{tag}")
            session.add(row)
            session.flush()
            assert row.district_id is None
        # The district's own view again: the city-level digest is out of sight.
        seen = session.exec(select(Notification).where(Notification.id == row.id)).first()
        assert seen is None
        session.commit()


def test_a_granted_city_supervisor_writes_its_granted_district_only(
    owner: Engine, runtime: Engine, tmp_path: object
) -> None:
    """As the runtime role: a city supervisor holding district B's grant cancels B's event (the
    write's transaction works for B: `tenancy.act_in`), and is refused A's (403
    `district_grant_required`, nothing written); the database itself refuses a write in A
    under B's tenant."""
    from datetime import date

    from fastapi.testclient import TestClient

    from api import create_app
    from models import Campaign, Role
    from settings import Settings
    from tests.conftest import local
    from workflows.accounts import grants
    from workflows.accounts.service import create_user, issue_token
    from workflows.campaign.rules import CampaignRules
    from workflows.kernel.clock import FixedClock
    from workflows.kernel.visibility import SYSTEM

    clock = FixedClock(local(2022, 9, 16))
    now = clock.now()
    tag = uuid.uuid4().hex[:6]
    with Session(owner) as s:
        tenancy.bind(s, tenancy.OPERATOR)
        b = District(code=f"g{tag}", name=f"丙区{tag}", created_at=now)
        s.add(b)
        s.flush()
        heads, places = {}, {}
        for key, district in (("a", 1), ("b", b.id)):
            c = Campaign(district_id=district, doc_number=f"g-{tag}", title="t",
                         issuing_office="o", starts_on=date(2022, 8, 22),
                         ends_on=date(2022, 9, 22), rules=CampaignRules().model_dump(),
                         created_at=now)  # fmt: skip
            u = Unit(district_id=district, name=f"单位{tag}", kind=UnitKind.department,
                     created_at=now)  # fmt: skip
            s.add_all([c, u])
            s.flush()
            staff = create_user(s, username=f"st{key}{tag}", role=Role.unit_staff,
                                unit_id=u.id, now=now)  # fmt: skip
            heads[key] = {"Authorization": "Bearer " + issue_token(s, staff, kind="api", now=now)}
            places[key] = (c.id, u.id)
        city = create_user(s, username=f"city{tag}", role=Role.supervisor, now=now,
                           district_id=None)  # fmt: skip
        heads["city"] = {"Authorization": "Bearer " + issue_token(s, city, kind="api", now=now)}
        grants.grant(s, SYSTEM, b.id, city.id, "督查", now)  # type: ignore[arg-type]
        s.commit()
        b_id = b.id
    settings = Settings(
        var_dir=tmp_path,  # type: ignore[arg-type]
        database_url="sqlite://",  # type: ignore[arg-type]
        totp_required_roles="",
    )
    with TestClient(create_app(settings=settings, engine=runtime, clock=clock)) as client:
        events = {}
        for key in ("a", "b"):
            campaign_id, unit_id = places[key]
            body = {"campaign_id": campaign_id, "unit_id": unit_id, "theme": "参观",
                    "date": "2022-09-16"}  # fmt: skip
            r = client.post("/api/v1/events", json=body, headers=heads[key])
            assert r.status_code == 201, r.text
            events[key] = r.json()["id"]
        move = {"trigger": "cancel", "expected_version": 1, "reason": "督查发现不具备条件"}
        r = client.post(f"/api/v1/events/{events['a']}/transitions", json=move,
                        headers=heads["city"])  # fmt: skip
        assert r.status_code == 403 and r.json()["error"]["code"] == "district_grant_required"
        r = client.post(f"/api/v1/events/{events['b']}/transitions", json=move,
                        headers=heads["city"])  # fmt: skip
        assert r.status_code == 200, r.text
        assert r.json()["event"]["state"] == "cancelled"
        r = client.get(f"/api/v1/events/{events['a']}", headers=heads["city"])
        assert r.status_code == 200 and r.json()["state"] == "planned"  # still reads A
    with Session(runtime) as session:  # the second wall: B's tenant writes nothing of A
        tenancy.bind(session, tenancy.Tenant(b_id))
        with pytest.raises(sa.exc.DBAPIError):
            session.add(Unit(district_id=1, name=f"越界{tag}", kind=UnitKind.town, created_at=now))
            session.flush()


def test_account_lines_have_their_own_narrow_scope(owner: Engine, runtime: Engine) -> None:
    """As the runtime role: an account's city-level line (a city supervisor's sign-in, an
    unknown name's failure) is refused under the public scope and a city reader's, and written
    under `city:access` (`tenancy.for_access_line`), which reads every district but cannot
    write a district's row (migration 0045)."""
    from models import ChangeLog
    from workflows.kernel import audit
    from workflows.kernel.visibility import Actor

    who = Actor(None, "anonymous", "", None)
    with Session(owner) as session:
        tenancy.bind(session, tenancy.OPERATOR)
        unit = Unit(district_id=1, name=f"账号单位{uuid.uuid4().hex[:6]}", kind=UnitKind.town,
                    created_at=NOW)  # fmt: skip
        session.add(unit)
        session.commit()
        unit_id = unit.id

    def line(session: Session, unit_id: int | None = None) -> ChangeLog:
        row = audit.record(session, who, entity="account", entity_id=None, action="sign_in",
                           now=NOW, unit_id=unit_id, after={"method": "password"})  # fmt: skip
        session.flush()
        session.refresh(row)  # the district its insert trigger gave it
        return row

    for refused in (tenancy.CITIZENS, tenancy.Tenant(scope=tenancy.CITY_READ)):
        with Session(runtime) as session:
            tenancy.bind(session, refused)
            with pytest.raises(sa.exc.DBAPIError, match="row-level security"):
                line(session)
    with Session(runtime) as session:
        tenancy.bind(session, tenancy.CITIZENS)
        tenancy.for_access_line(session, None)
        assert line(session).district_id is None
        assert session.get(Unit, unit_id) is not None  # reads as city:read does
        session.commit()
    with Session(runtime) as session:  # no district's row under it
        tenancy.bind(session, tenancy.Tenant(scope=tenancy.ACCESS))
        with pytest.raises(sa.exc.DBAPIError, match="row-level security"):
            line(session, unit_id=unit_id)
    with Session(runtime) as session:  # reads every unit, changes none
        tenancy.bind(session, tenancy.Tenant(scope=tenancy.ACCESS))
        seen = session.execute(sa.select(sa.func.count()).select_from(Unit)).scalar()
        changed = session.execute(sa.update(Unit).values(name=Unit.name)).rowcount  # type: ignore[attr-defined]
        assert seen and changed == 0
    with Session(runtime) as session:  # a district account's line: its district, bound
        tenancy.bind(session, tenancy.CITIZENS)
        tenancy.for_access_line(session, 1)
        assert line(session).district_id == 1
        session.commit()


def test_a_granted_city_supervisors_campaign_acts_pass_row_level_security(
    owner: Engine, runtime: Engine, tmp_path: object
) -> None:
    """As the runtime role, the acts on a district's own rows (`tenancy.act_in_district`): a
    city supervisor holding district B's grant creates a campaign in B, edits B's campaign and
    draws a sample of it, each written under B's tenant with its own name on the audit line;
    A's campaign it may not edit (403 `district_grant_required`, unchanged)."""
    from datetime import date

    from fastapi.testclient import TestClient

    from api import create_app
    from models import Campaign, ChangeLog, Role, SampleDraw
    from settings import Settings
    from tests.conftest import local
    from workflows.accounts import grants
    from workflows.accounts.service import create_user, issue_token
    from workflows.campaign.rules import CampaignRules
    from workflows.kernel.clock import FixedClock
    from workflows.kernel.visibility import SYSTEM

    clock = FixedClock(local(2022, 9, 16))
    now = clock.now()
    tag = uuid.uuid4().hex[:6]
    with Session(owner) as s:
        tenancy.bind(s, tenancy.OPERATOR)
        b = District(code=f"h{tag}", name=f"丁区{tag}", created_at=now)
        s.add(b)
        s.flush()
        places = {}
        for key, district in (("a", 1), ("b", b.id)):
            c = Campaign(district_id=district, doc_number=f"h-{tag}", title="原标题",
                         issuing_office="o", starts_on=date(2022, 8, 22),
                         ends_on=date(2022, 9, 22), rules=CampaignRules().model_dump(),
                         created_at=now)  # fmt: skip
            u = Unit(district_id=district, name=f"单位{tag}", kind=UnitKind.department,
                     created_at=now)  # fmt: skip
            s.add_all([c, u])
            s.flush()
            staff = create_user(s, username=f"sh{key}{tag}", role=Role.unit_staff,
                                unit_id=u.id, now=now)  # fmt: skip
            places[key] = (c.id, u.id, issue_token(s, staff, kind="api", now=now))
        city = create_user(s, username=f"cs{tag}", role=Role.supervisor, now=now,
                           district_id=None)  # fmt: skip
        city_head = {"Authorization": "Bearer " + issue_token(s, city, kind="api", now=now)}
        grants.grant(s, SYSTEM, b.id, city.id, "督查", now)  # type: ignore[arg-type]
        s.commit()
        b_id, city_id = b.id, city.id
    settings = Settings(var_dir=tmp_path, database_url="sqlite://",  # type: ignore[arg-type]
                        totp_required_roles="")  # fmt: skip
    (a_campaign, _, _), (b_campaign, b_unit, b_token) = places["a"], places["b"]
    with TestClient(create_app(settings=settings, engine=runtime, clock=clock)) as client:
        body = {"campaign_id": b_campaign, "unit_id": b_unit, "theme": "参观", "date": "2022-09-16"}
        r = client.post("/api/v1/events", json=body, headers={"Authorization": f"Bearer {b_token}"})
        assert r.status_code == 201, r.text
        new = {"doc_number": f"新-{tag}", "title": "市督查新建", "issuing_office": "o",
               "starts_on": "2023-08-22", "ends_on": "2023-09-22", "district_id": b_id}  # fmt: skip
        r = client.post("/api/v1/campaigns", json=new, headers=city_head)
        assert r.status_code == 201, r.text
        made = r.json()["id"]
        r = client.patch(f"/api/v1/campaigns/{b_campaign}", json={"title": "市督查改"},
                         headers=city_head)  # fmt: skip
        assert r.status_code == 200, r.text
        r = client.post(f"/api/v1/campaigns/{b_campaign}/samples", json={"count": 1},
                        headers=city_head)  # fmt: skip
        assert r.status_code == 201, r.text
        r = client.patch(f"/api/v1/campaigns/{a_campaign}", json={"title": "越界"},
                         headers=city_head)  # fmt: skip
        assert r.status_code == 403 and r.json()["error"]["code"] == "district_grant_required"
    with Session(owner) as s:
        tenancy.bind(s, tenancy.OPERATOR)
        assert s.get(Campaign, made).district_id == b_id  # type: ignore[union-attr]
        assert s.get(Campaign, b_campaign).title == "市督查改"  # type: ignore[union-attr]
        assert s.get(Campaign, a_campaign).title == "原标题"  # type: ignore[union-attr]
        drawn = s.exec(select(SampleDraw).where(SampleDraw.campaign_id == b_campaign)).one()
        assert drawn.drawn_by == city_id
        lines = s.exec(select(ChangeLog).where(ChangeLog.actor_id == city_id)).all()
        assert {(line.action, line.district_id) for line in lines} == {
            ("create", b_id), ("update", b_id)
        }  # fmt: skip


def test_the_opinion_tally_is_written_and_read_in_its_district_only(
    owner: Engine, runtime: Engine
) -> None:
    """An opinion written as the runtime role under its district updates that district's tally
    row in the same transaction (row-level security lets it); another district sees no row."""
    from datetime import date

    from models import Campaign, FeedbackItem, OpinionTally
    from workflows.campaign.rules import CampaignRules

    tag = uuid.uuid4().hex[:6]
    with Session(owner) as session:
        tenancy.bind(session, tenancy.Tenant(scope=tenancy.CLI))
        b = District(code=f"t{tag}", name=f"丙区{tag}", created_at=NOW)
        c = Campaign(district_id=1, doc_number=f"tally-{tag}", title="t", issuing_office="o",
                     starts_on=date(2022, 8, 22), ends_on=date(2022, 9, 22),
                     rules=CampaignRules().model_dump(), created_at=NOW)  # fmt: skip
        u = Unit(district_id=1, name=f"甲区单位{tag}", kind=UnitKind.town, created_at=NOW)
        session.add_all([b, c, u])
        session.flush()
        e = Event(campaign_id=c.id, unit_id=u.id, theme="参观", date_earliest=date(2022, 9, 16),
                  date_latest=date(2022, 9, 16), created_at=NOW, updated_at=NOW)  # fmt: skip
        session.add(e)
        session.commit()
        ids = (b.id, c.id, u.id, e.id)
    b_id, campaign_id, unit_id, event_id = ids
    with Session(runtime) as session:
        tenancy.bind(session, tenancy.Tenant(1))
        item = FeedbackItem(event_id=event_id, unit_id=unit_id, content="意见", told_at=NOW,
                            answered_at=NOW, created_at=NOW, updated_at=NOW)  # fmt: skip
        session.add(item)
        session.commit()
        rows = session.exec(select(OpinionTally).where(OpinionTally.campaign_id == campaign_id))
        assert [(t.district_id, t.opinions, t.answered) for t in rows] == [(1, 1, 1)]
    with Session(runtime) as session:
        tenancy.bind(session, tenancy.Tenant(b_id))
        assert session.exec(select(OpinionTally)).all() == []
