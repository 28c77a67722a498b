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
from workflows.accounts.service import create_user, set_active, update_user
from workflows.kernel.errors import Conflict, Forbidden, InvalidData
from workflows.kernel.visibility import Actor

API = "/api/v1"
SYSTEM, SECURITY, AUDIT = "系", "安", "审"
# Each duty's holder among the three (the legacy admin holds none: it is retired).
MATRIX = {
    Duty.settings: SYSTEM, Duty.calendar: SYSTEM, Duty.imports: SYSTEM, Duty.units: SYSTEM,
    Duty.accounts: SECURITY, Duty.roles: SECURITY, Duty.sessions: SECURITY,
    Duty.audit_read: AUDIT, Duty.audit_export: AUDIT, Duty.audit_verify: AUDIT,
}  # fmt: skip
ROLE_MARK = {Role.system_admin: SYSTEM, Role.security_admin: SECURITY, Role.audit_admin: AUDIT}


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("duty", list(Duty))
def test_the_matrix(role: Role, duty: Duty) -> None:
    expected = ROLE_MARK.get(role) == MATRIX[duty]
    assert duties.may(role, duty) is expected
    actor = Actor(id=1, name="x", role=role, unit_id=None)
    if expected:
        duties.require(None, actor, duty, datetime.now().astimezone())
    else:
        with pytest.raises(Forbidden) as refused:
            duties.require(None, actor, duty, datetime.now().astimezone())
        assert refused.value.code == "separation_of_duties"


def _three(world: World) -> dict[str, dict[str, str]]:
    """The World's three administrators (one per duty), by role."""
    names = {"system_admin": "sysadmin", "security_admin": "secadmin", "audit_admin": "auditor"}
    for role, name in names.items():
        world.user_ids[role] = world.user_ids[name]
    return {role: world.headers[name] for role, name in names.items()}


def test_the_doors_follow_the_matrix(client: TestClient, world: World, clock) -> None:  # type: ignore[no-untyped-def]
    h = _three(world)
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
    assert ("auditor", "duty_audit_read") in by and ("sysadmin", "duty_units") in by
    assert ("secadmin", "create") in by


def test_the_last_of_each_stays_and_no_account_holds_two(world: World, clock) -> None:  # type: ignore[no-untyped-def]
    _three(world)
    now = clock.now()
    with world.session() as session:
        boss = session.exec(select(User).where(User.username == "secadmin")).one()
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


def test_the_all_duty_admin_role_is_retired(client: TestClient, world: World, clock) -> None:  # type: ignore[no-untyped-def]
    """Creating an `admin` account or promoting one to it is refused (422 `role_retired`,
    naming the three roles to choose from) through the API and the workflow the CLI and pages
    call; nothing is written."""
    h = _three(world)["security_admin"]
    made = client.post(f"{API}/users", json={"username": "boss", "role": "admin"}, headers=h)
    assert made.status_code == 422 and error_of(made)["code"] == "role_retired", made.text
    assert "security_admin" in error_of(made)["message"]
    uid = world.user_ids["viewer"]
    promoted = client.patch(f"{API}/users/{uid}", json={"role": "admin"}, headers=h)
    assert promoted.status_code == 422 and error_of(promoted)["code"] == "role_retired"
    with world.session() as session:
        assert session.exec(select(User).where(User.username == "boss")).first() is None
        assert session.get(User, uid).role == Role.viewer  # type: ignore[union-attr]
        with pytest.raises(InvalidData) as retired:
            create_user(session, username="boss", role="admin", now=clock.now())
        assert retired.value.code == "role_retired"


def test_the_administrators_reach_only_their_own_doors(client: TestClient, world: World) -> None:
    """Units, imports and the calendar: the system administrator (or supervisors where the
    district office shares the door); accounts, roles and sessions: the security
    administrator; the audit and its export: the audit administrator. Each other
    administrator gets 403 `separation_of_duties`."""
    h = _three(world)
    uid, unit = world.user_ids["housing"], world.units["区住建局"]
    doors = {
        "system_admin": [("PATCH", f"{API}/units/{unit}", {"json": {"contact_name": "王五"}})],
        "security_admin": [
            ("GET", f"{API}/users", {}),
            ("GET", f"{API}/users/{uid}/tokens", {}),
            ("POST", f"{API}/users/{uid}/revoke-tokens", {}),
            ("PATCH", f"{API}/users/{uid}", {"json": {"role": "viewer"}}),
        ],
        "audit_admin": [("GET", f"{API}/exports/audit.csv", {})],
    }
    for holder, requests in doors.items():
        for method, url, kw in requests:
            for role, headers in h.items():
                r = client.request(method, url, headers=headers, **kw)
                if role == holder:
                    assert r.status_code < 400, (role, url, r.text)
                else:
                    assert r.status_code == 403, (role, url, r.text)
                    assert error_of(r)["code"] in ("separation_of_duties", "read_only"), r.text
    with Session(world.engine) as session:
        done = {(line.actor_name, line.action) for line in session.exec(select(ChangeLog)).all()}
    assert ("auditor", "duty_audit_export") in done and ("sysadmin", "duty_units") in done


def _reads(world: World, actor: str) -> list[tuple[str, int | None]]:
    """The `read_*` audit lines of one account, in order: (action, account read)."""
    with Session(world.engine) as session:
        lines = session.exec(
            select(ChangeLog).where(ChangeLog.actor_name == actor).order_by(col(ChangeLog.id))
        ).all()
    return [(line.action, line.entity_id) for line in lines if line.action.startswith("read_")]


def test_the_security_administrators_reads_are_in_the_audit(
    client: TestClient, world: World
) -> None:
    """等保: every action of the three is in the audit. The security administrator's reads of
    the account list, one account, its tokens and its linked identities each leave a line
    naming the account read, through the API and the pages alike; a supervisor's reads of its
    unit staff leave none (not an administrator)."""
    from tests.pages.test_pages_admin import _as

    h = _three(world)
    me, uid = world.user_ids["secadmin"], world.user_ids["housing"]
    for url in (f"{API}/users?role=unit_staff", f"{API}/users/{uid}", f"{API}/users/{uid}/tokens",
                f"{API}/users/{uid}/identities"):  # fmt: skip
        assert client.get(url, headers=h["security_admin"]).status_code == 200, url
    assert _reads(world, "secadmin") == [
        ("read_accounts", me), ("read_account", uid), ("read_tokens", uid),
        ("read_identities", uid),
    ]  # fmt: skip
    with Session(world.engine) as session:
        listed = session.exec(select(ChangeLog).where(ChangeLog.action == "read_accounts")).one()
    assert listed.after == {"role": "security_admin", "filter_role": "unit_staff"}
    _as(client, world, "secadmin")
    for url in ("/admin/accounts", f"/admin/accounts/{uid}", f"/admin/identities/{uid}"):
        assert client.get(url).status_code == 200, url
    assert _reads(world, "secadmin")[-3:] == [
        ("read_accounts", me), ("read_account", uid), ("read_identities", uid),
    ]  # fmt: skip
    assert client.get(f"{API}/users/{uid}", headers=world.headers["supervisor"]).status_code == 200
    assert _reads(world, "supervisor") == []
    # A refused read (another administrator) writes no read line.
    assert client.get(f"{API}/users", headers=h["audit_admin"]).status_code == 403
    assert _reads(world, "auditor") == []
