"""三员分立 (issue 29): the separation-of-duties matrix, each role × each administrator action,
on the rule itself and through the API where the action has a door; the last active account of
each administrator role cannot be disabled or demoted; an account never moves from one
administrator role to another; an administrator's action leaves an audit line."""

from __future__ import annotations

from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from models import ChangeLog, Role, User
from tests.conftest import World, error_of
from workflows.accounts import duties
from workflows.accounts.duties import Duty
from workflows.accounts.service import create_user, issue_token, set_active, update_user
from workflows.kernel.errors import Conflict, Forbidden
from workflows.kernel.visibility import Actor

API = "/api/v1"
SYSTEM, SECURITY, AUDIT = "系", "安", "审"
# Each duty's holder among the three (the legacy admin holds every duty until it is mapped).
MATRIX = {
    Duty.settings: SYSTEM, Duty.calendar: SYSTEM, Duty.imports: SYSTEM, Duty.units: SYSTEM,
    Duty.accounts: SECURITY, Duty.roles: SECURITY, Duty.sessions: SECURITY,
    Duty.audit_read: AUDIT, Duty.audit_export: AUDIT, Duty.audit_verify: AUDIT,
}  # fmt: skip
ROLE_MARK = {Role.system_admin: SYSTEM, Role.security_admin: SECURITY, Role.audit_admin: AUDIT}


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("duty", list(Duty))
def test_the_matrix(role: Role, duty: Duty) -> None:
    expected = role == Role.admin or ROLE_MARK.get(role) == MATRIX[duty]
    assert duties.may(role, duty) is expected
    actor = Actor(id=1, name="x", role=role, unit_id=None)
    if expected:
        duties.require(None, actor, duty, datetime.now().astimezone())
    else:
        with pytest.raises(Forbidden) as refused:
            duties.require(None, actor, duty, datetime.now().astimezone())
        assert refused.value.code == "separation_of_duties"


def _three(world: World, now: datetime) -> dict[str, dict[str, str]]:
    headers = {}
    with world.session() as session:
        for role in (Role.system_admin, Role.security_admin, Role.audit_admin):
            user = create_user(session, username=role.value.replace("_", "-"), role=role, now=now)
            token = issue_token(session, user, kind="api", now=now)
            headers[role.value] = {"Authorization": f"Bearer {token}"}
            world.user_ids[role.value] = user.id  # type: ignore[assignment]
        session.commit()
    return headers


def test_the_doors_follow_the_matrix(client: TestClient, world: World, clock) -> None:  # type: ignore[no-untyped-def]
    h = _three(world, clock.now())
    new = {"username": "li-new", "role": "viewer"}
    # accounts: the security administrator only
    assert client.post(f"{API}/users", json=new, headers=h["security_admin"]).status_code == 201
    for other in ("system_admin", "audit_admin"):
        assert client.post(f"{API}/users", json=new, headers=h[other]).status_code == 403
    # the audit: the audit administrator reads it; the other two are refused
    assert client.get(f"{API}/audit", headers=h["audit_admin"]).status_code == 200
    for other in ("system_admin", "security_admin"):
        refused = client.get(f"{API}/audit", headers=h[other])
        assert refused.status_code == 403 and error_of(refused)["code"] == "separation_of_duties"
    # units: the system administrator
    unit = {"name": "区民政局", "kind": "department"}
    assert client.post(f"{API}/units", json=unit, headers=h["system_admin"]).status_code == 201
    for other in ("security_admin", "audit_admin"):
        assert client.post(f"{API}/units", json=unit, headers=h[other]).status_code == 403
    with Session(world.engine) as session:
        lines = session.exec(select(ChangeLog).order_by(col(ChangeLog.id))).all()
        by = {(line.actor_name, line.action) for line in lines}
    assert ("audit-admin", "duty_audit_read") in by and ("system-admin", "duty_units") in by
    assert ("security-admin", "create") in by


def test_the_last_of_each_stays_and_no_account_holds_two(world: World, clock) -> None:  # type: ignore[no-untyped-def]
    _three(world, clock.now())
    now = clock.now()
    with world.session() as session:
        boss = session.exec(select(User).where(User.username == "security-admin")).one()
        actor = Actor.of(boss)
        for role in ("system_admin", "audit_admin"):
            last = world.user_ids[role]
            with pytest.raises(Conflict) as kept:
                set_active(session, actor, last, False, now)
            assert kept.value.code == "last_admin"
            with pytest.raises(Conflict) as two:
                update_user(session, actor, last, {"role": "security_admin"}, now)
            assert two.value.code in ("two_administrator_roles", "last_admin")
        second = create_user(session, username="audit-2", role=Role.audit_admin, now=now)
        session.flush()
        with pytest.raises(Conflict) as two:
            update_user(session, actor, second.id or 0, {"role": "system_admin"}, now)
        assert two.value.code == "two_administrator_roles"
        set_active(session, actor, world.user_ids["audit_admin"], False, now)  # not the last now
        session.rollback()
