"""Shared fixtures: real databases, an injected clock, accounts and an API client.

Every database test runs twice: on SQLite (always) and on PostgreSQL when OPENDAY_DATABASE_URL
points at one. The PostgreSQL run creates its own database on that server and drops it at the
end. With OPENDAY_REQUIRE_SERVICES=1 an unreachable or unconfigured service fails the run
instead of skipping (CI sets it).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, SQLModel

import models  # noqa: F401 - registers tables
from api import create_app
from models import Campaign, Role, Unit, UnitKind
from models.db import make_engine, migrate
from settings import Settings
from workflows.accounts.service import create_user, hash_password, issue_token
from workflows.campaign.rules import CampaignRules
from workflows.kernel.clock import FixedClock

SHANGHAI = ZoneInfo("Asia/Shanghai")
REQUIRE_SERVICES = os.environ.get("OPENDAY_REQUIRE_SERVICES", "") in ("1", "true", "yes")
DATABASE_URL = os.environ.get("OPENDAY_DATABASE_URL", "")
REDIS_URL = os.environ.get("OPENDAY_REDIS_URL", "")
# The suite connects as the postgres superuser; the `openday` processes it starts (which inherit
# this environment) may. tests/ops/test_tenants.py shows them refusing without it.
os.environ.setdefault("OPENDAY_ALLOW_PRIVILEGED_DB_ROLE", "true")


def unavailable(service: str, why: str) -> None:
    """Skip, or fail when services are required (CI)."""
    message = f"{service} unavailable: {why}"
    if REQUIRE_SERVICES:
        pytest.fail(message + " (OPENDAY_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(message)


def local(
    year: int, month: int, day: int, hour: int = 10, minute: int = 0, second: int = 0
) -> datetime:
    """An Asia/Shanghai wall-clock moment."""
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


# ------------------------------------------------------------------------------------------
# Databases
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file; each test gets a copy (the audit log refuses DELETE)."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated database on the configured PostgreSQL server, dropped afterwards."""
    if not DATABASE_URL.startswith("postgresql"):
        unavailable("PostgreSQL", "OPENDAY_DATABASE_URL is not a postgresql URL")
    server = make_url(DATABASE_URL)
    name = f"openday_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        admin.dispose()
        unavailable("PostgreSQL", str(exc).splitlines()[0])
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        migrate(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_engine(postgres_url: str) -> Iterator[Engine]:
    """One engine for the whole PostgreSQL run."""
    engine = make_engine(postgres_url)
    yield engine
    engine.dispose()


@contextmanager
def runtime_role(owner: Engine, url: str) -> Iterator[str]:
    """A login role like the service's (docs/tenancy.md): DML on every table and sequence of
    the database at `url`, owning nothing, neither SUPERUSER nor BYPASSRLS, so row-level
    security holds it; yields its URL and drops it afterwards."""
    role = f"openday_rt_{uuid.uuid4().hex[:8]}"
    with owner.begin() as conn:
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS")
    grant_runtime(owner, role)
    try:
        yield make_url(url).set(username=role).render_as_string(hide_password=False)
    finally:
        with owner.begin() as conn:
            conn.exec_driver_sql(f"DROP OWNED BY {role}")
            conn.exec_driver_sql(f"DROP ROLE {role}")


def grant_runtime(owner: Engine, role: str) -> None:
    """The runtime role's grants on what exists now (again after a test rebuilt the schema, as
    a restore does)."""
    with owner.begin() as conn:
        conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA public TO {role}")
        conn.exec_driver_sql(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}"
        )
        conn.exec_driver_sql(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}")


def _truncate(engine: Engine) -> None:
    # The district the migration made (district 1, as in an upgraded database) stays.
    kept = {"district"}
    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables if t.name not in kept)
    with engine.begin() as conn:
        # The append-only tables refuse TRUNCATE (migration 0016): between tests the fixture
        # acts as a replica would, with user triggers off for this transaction only.
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        conn.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        conn.exec_driver_sql("DELETE FROM district WHERE id <> 1")
        conn.exec_driver_sql("SELECT setval('district_id_seq', 1)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgresql: needs PostgreSQL (row locks, real races)")


# How `make test`'s parallel run (pytest-xdist, `--dist loadfile`) shares the files out: every test
# file runs whole on one worker (its module fixtures start once; a file's tests may share a server,
# a Redis database or a browser, and some rely on an earlier test's records), and the files under
# a SERIAL_GROUPS prefix share one worker between them, one after another, because they stop, pause
# or flood servers and time the recovery. The scheduler below decides this from the node id alone:
# xdist's own `loadgroup` renames node ids to carry the group, which pytest 9.2 no longer honours
# (every test was scheduled on its own, a file split across workers; seen in CI as a test missing
# the records its file's first test had made on the other worker).
SERIAL_GROUPS = {"tests/faults/": "faults"}
# Scopes handed out first, longest first, so the longest run does not start last.
FIRST_SCOPES = ("faults", "tests/pages/test_crawl_browser.py", "tests/deploy/test_docker_image.py")


def scope_of(nodeid: str) -> str:
    """The worker scope of a test: its serial group, or its file."""
    path = nodeid.split("::", 1)[0]
    return next((g for prefix, g in SERIAL_GROUPS.items() if path.startswith(prefix)), path)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under `--dist loadfile`: one scope per file, or per serial group (see SERIAL_GROUPS)."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class FileScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return scope_of(nodeid)

    return FileScheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The longest scopes first (FIRST_SCOPES), the rest in their collected order."""
    rank = {scope: i for i, scope in enumerate(FIRST_SCOPES)}
    items.sort(key=lambda item: rank.get(scope_of(item.nodeid), len(rank)))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run database tests on both backends; `@pytest.mark.postgresql` ones on PostgreSQL only."""
    if "engine" in metafunc.fixturenames:
        only_pg = metafunc.definition.get_closest_marker("postgresql") is not None
        backends = ["postgresql"] if only_pg else ["sqlite", "postgresql"]
        metafunc.parametrize("engine", backends, indirect=True)


@pytest.fixture
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """The database under test: a private SQLite copy, or the shared PostgreSQL test database."""
    if request.param == "sqlite":
        path = tmp_path / "openday.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        engine = make_engine(f"sqlite:///{path}")
        yield engine
        engine.dispose()
        return
    engine = request.getfixturevalue("postgres_engine")
    _truncate(engine)
    yield engine
    _truncate(engine)


# ------------------------------------------------------------------------------------------
# Clock, app, accounts
# ------------------------------------------------------------------------------------------


@pytest.fixture
def clock() -> FixedClock:
    """2022-09-16 10:00 in Shanghai: the day 区住建局 holds its event in the notice."""
    return FixedClock(local(2022, 9, 16))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with uploads in a private folder. No role is held to a second factor here (the
    many administrator sign-ins of other tests are not about it);
    tests/accounts/test_second_factor.py sets the default roles back."""
    return Settings(var_dir=tmp_path / "var", database_url="sqlite://", totp_required_roles="")


@pytest.fixture(scope="session")
def served_postgres(postgres_engine: Engine, postgres_url: str) -> Iterator[Engine]:
    """The shared PostgreSQL test database as the service connects to it in production: a
    runtime role held by row-level security (docs/tenancy.md). Tests seed as the owner."""
    with runtime_role(postgres_engine, postgres_url) as url:
        engine = make_engine(url)
        yield engine
        engine.dispose()


@pytest.fixture
def client(
    request: pytest.FixtureRequest, engine: Engine, clock: FixedClock, settings: Settings
) -> Iterator[TestClient]:
    """The real app on the test database, with the fixed clock; on PostgreSQL it connects as
    the runtime role, so every request meets both walls (the application rule and RLS)."""
    served = engine
    if engine.dialect.name == "postgresql":
        served = request.getfixturevalue("served_postgres")
        grant_runtime(engine, str(served.url.username))
    app = create_app(settings=settings, engine=served, clock=clock)
    with TestClient(app) as test_client:
        yield test_client


@dataclass
class World:
    """A campaign, two units and an account of every role, with their bearer headers."""

    engine: Engine
    campaign_id: int
    units: dict[str, int]
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    user_ids: dict[str, int] = field(default_factory=dict)

    def session(self) -> Session:
        """A fresh session on the test database."""
        return Session(self.engine, expire_on_commit=False)


HOUSING = "区住建局"
SHILING = "石岭镇"


@pytest.fixture
def world(engine: Engine, clock: FixedClock) -> World:
    """The notice's campaign with two of its units and one account per role."""
    now = clock.now()
    with Session(engine, expire_on_commit=False) as session:
        campaign = Campaign(
            doc_number="资雁府办发〔2022〕58号",
            title="关于开展“政府开放日”活动的通知",
            issuing_office="资阳市雁江区人民政府办公室",
            starts_on=date(2022, 8, 22),
            ends_on=date(2022, 9, 22),
            rules=CampaignRules().model_dump(),
            created_at=now,
        )
        session.add(campaign)
        units = {}
        for name, kind in ((HOUSING, UnitKind.department), (SHILING, UnitKind.town)):
            unit = Unit(name=name, kind=kind, created_at=now)
            session.add(unit)
            session.flush()
            units[name] = unit.id
        session.flush()
        w = World(engine=engine, campaign_id=campaign.id, units=units)  # type: ignore[arg-type]
        for username, role, unit_name in (
            ("supervisor", Role.supervisor, None),
            ("housing", Role.unit_staff, HOUSING),
            ("shiling", Role.unit_staff, SHILING),
            ("viewer", Role.viewer, None),
            # 三员分立 (issue 29): no all-duty admin, one account per administrator duty
            ("sysadmin", Role.system_admin, None),
            ("secadmin", Role.security_admin, None),
            ("auditor", Role.audit_admin, None),
        ):
            user = create_user(
                session,
                username=username,
                role=role,
                unit_name=unit_name,
                now=now,
            )
            if username == "housing":
                # Argon2 is slow on purpose; one account with a password is enough for login
                # tests. Set as stored (a password of the days before the class rule).
                user.password_hash = hash_password("pw-housing")
                user.password_changed_at = now
            token = issue_token(session, user, kind="api", now=now)
            w.headers[username] = {"Authorization": f"Bearer {token}"}
            w.user_ids[username] = user.id  # type: ignore[assignment]
        session.commit()
    return w


# ------------------------------------------------------------------------------------------
# Walking an event through the API
# ------------------------------------------------------------------------------------------


class Walker:
    """Small helpers to drive one event through the API as a given user."""

    def __init__(self, client: TestClient, world: World) -> None:
        self.client = client
        self.world = world

    def create_event(self, who: str = "housing", unit: str = HOUSING, **body: Any) -> dict:
        """Plan an event (default: 区住建局, 2022-09-16)."""
        payload = {
            "campaign_id": self.world.campaign_id,
            "unit_id": self.world.units[unit],
            "theme": "参观老旧小区改造现场",
            "date": "2022-09-16",
            **body,
        }
        if "earliest" in body:
            del payload["date"]
        response = self.client.post("/api/v1/events", json=payload, headers=self.world.headers[who])
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    def add_invitees(
        self, event_id: int, *, citizens: int, deputies: int, who: str = "housing"
    ) -> list[dict]:
        """Add `citizens` citizen representatives and `deputies` NPC/CPPCC members."""
        people: list[dict[str, Any]] = []
        for i in range(deputies):
            category = "npc_deputy" if i % 2 == 0 else "cppcc_member"
            people.append({"name": f"代表{i + 1}", "category": category})
        for i in range(citizens):
            mode = "targeted" if i % 2 == 0 else "public"
            person: dict[str, Any] = {
                "name": f"市民{i + 1}",
                "category": "citizen",
                "invitation": mode,
            }
            if mode == "targeted":
                person["targeted_kind"] = "resident"
            people.append(person)
        response = self.client.post(
            f"/api/v1/events/{event_id}/invitees",
            json=people,
            params=self.version_of(event_id),
            headers=self.world.headers[who],
        )
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    def version_of(self, event_id: int) -> dict[str, int]:
        """The `expected_version` query parameter for a write to the event right now."""
        return {"expected_version": self.get(event_id, who="supervisor")["version"]}

    def get(self, event_id: int, who: str = "housing") -> dict:
        """The event as the API shows it."""
        response = self.client.get(f"/api/v1/events/{event_id}", headers=self.world.headers[who])
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def move(
        self,
        event_id: int,
        trigger: str,
        *,
        who: str = "housing",
        version: int | None = None,
        data: dict | None = None,
        reason: str | None = None,
    ) -> Any:
        """POST a transition (expected version: the current one unless given). A hold states,
        unless the test says otherwise, what was held (HELD: a dialogue the head attended)."""
        if trigger == "hold":
            data = {**HELD, **(data or {})}
        if version is None:
            version = self.get(event_id, who="supervisor")["version"]
        body: dict[str, Any] = {"trigger": trigger, "expected_version": version}
        if data is not None:
            body["data"] = data
        if reason is not None:
            body["reason"] = reason
        return self.client.post(
            f"/api/v1/events/{event_id}/transitions", json=body, headers=self.world.headers[who]
        )

    def set_rule_modes(self, mode: str) -> None:
        """Both rules the notice words 原则上 / 不低于 / 左右 (invitee count, citizens' share) in
        `mode`: "refuse" or "flag" (the default)."""
        response = self.client.patch(
            f"/api/v1/campaigns/{self.world.campaign_id}",
            json={"rules": {"invitee_count_mode": mode, "citizen_share_mode": mode}},
            headers=self.world.headers["supervisor"],
        )
        assert response.status_code == 200, response.text

    def history(self, event_id: int) -> list[dict]:
        """The event's audit trail."""
        response = self.client.get(
            f"/api/v1/events/{event_id}/history", headers=self.world.headers["supervisor"]
        )
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def invited_event(self, citizens: int = 5, deputies: int = 10) -> tuple[dict, list[dict]]:
        """An event moved to invited with a valid list."""
        event = self.create_event()
        invitees = self.add_invitees(event["id"], citizens=citizens, deputies=deputies)
        response = self.move(event["id"], "invite")
        assert response.status_code == 200, response.text
        return response.json()["event"], invitees

    def held_event(self) -> tuple[dict, list[dict]]:
        """An event moved to held, everyone attending."""
        event, invitees = self.invited_event()
        response = self.move(event["id"], "hold", data=self.hold_data(invitees))
        assert response.status_code == 200, response.text
        return response.json()["event"], invitees

    @staticmethod
    def hold_data(invitees: list[dict]) -> dict[str, Any]:
        """A hold's payload with every invitee attending (the one place tests spell it; the
        upgrade test holds a release-made event with it)."""
        return {"attendance": {str(i["id"]): True for i in invitees}}

    def upload(self, event_id: int, name: str = "photo.jpg", who: str = "housing") -> Any:
        """Attach a small JPEG-typed file to the summary."""
        return self.client.post(
            f"/api/v1/events/{event_id}/summary/attachments",
            files={"file": (name, tiny_jpeg(), "image/jpeg")},
            params=self.version_of(event_id),
            headers=self.world.headers[who],
        )


# What a hold records besides attendance, unless a test gives its own (issue 25).
HELD: dict[str, Any] = {
    "forms_held": ["dialogue"],
    "met_by": [{"name": "张主任", "post": "principal"}],
}


@pytest.fixture
def walker(client: TestClient, world: World) -> Walker:
    """Walk events through the API."""
    return Walker(client, world)


def tiny_jpeg(width: int = 4, height: int = 3) -> bytes:
    """A real (decodable) JPEG: uploads are checked by their content, not their name."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (180, 40, 40)).save(out, "JPEG")
    return out.getvalue()


def error_of(response: Any) -> dict[str, Any]:
    """The error body of a refused request."""
    body = response.json()
    assert "error" in body, body
    return body["error"]  # type: ignore[no-any-return]
