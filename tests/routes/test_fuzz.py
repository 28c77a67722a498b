"""A bounded schemathesis run over every operation of the OpenAPI document: no 5xx, ever
(issue 14). Deterministic (derandomized Hypothesis), a few examples per operation, as a
supervisor, the system and the security administrator (三员分立: between them they reach every
administrative door) and as a unit's clerk, on a private SQLite file with the notice's
campaign."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, given, settings
from sqlmodel import Session

from api import create_app
from models import Campaign, Role, Unit, UnitKind
from models.db import make_engine
from settings import Settings
from tests.conftest import local
from workflows.accounts.service import create_user, issue_token
from workflows.campaign.rules import CampaignRules
from workflows.kernel.clock import FixedClock

HEADERS: dict[str, dict[str, str]] = {}


def _seed(engine) -> None:
    now = local(2022, 9, 16)
    with Session(engine, expire_on_commit=False) as session:
        session.add(
            Campaign(
                doc_number="资雁府办发〔2022〕58号", title="政府开放日", issuing_office="区政府办",
                starts_on=date(2022, 8, 22), ends_on=date(2022, 9, 22),
                rules=CampaignRules().model_dump(), created_at=now,
            )
        )  # fmt: skip
        session.add(Unit(name="区住建局", kind=UnitKind.department, created_at=now))
        session.flush()
        for username, role, unit in (
            ("supervisor", Role.supervisor, None),
            ("sysadmin", Role.system_admin, None),
            ("secadmin", Role.security_admin, None),
            ("clerk", Role.unit_staff, "区住建局"),
        ):
            user = create_user(session, username=username, role=role, unit_name=unit, now=now)
            token = issue_token(session, user, kind="api", now=now)
            HEADERS[username] = {"Authorization": f"Bearer {token}"}
        session.commit()


def test_no_server_errors(tmp_path: Path, sqlite_template: Path) -> None:
    shutil.copy(sqlite_template, tmp_path / "fuzz.db")
    engine = make_engine(f"sqlite:///{tmp_path / 'fuzz.db'}")
    _seed(engine)
    app = create_app(
        settings=Settings(var_dir=tmp_path / "var", database_url="sqlite://"),
        engine=engine,
        clock=FixedClock(local(2022, 9, 16)),
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[tuple] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40

    for operation in operations:

        @settings(max_examples=4, derandomize=True, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        @given(case=operation.as_strategy())
        def run(case) -> None:
            for who in HEADERS:
                response = case.call(headers=HEADERS[who])
                if response.status_code >= 500:
                    failures.append((who, case.method, case.formatted_path, response.text[:300]))

        run()
    engine.dispose()
    assert not failures, failures[:5]
