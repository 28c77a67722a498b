"""Separation of administrator duties (三员分立, 等保 level 3): which administrator role may do
which administrator action, and the audit line each of their actions leaves.

    system administrator    settings, the working-day calendar, imports, units
    security administrator  accounts, roles, sessions
    audit administrator     reads and exports the audit, runs verify; changes nothing

One role per account, so no account holds two. The legacy `admin` role (before the split)
holds no duty: migration 0036 made every admin a security administrator and the role can no
longer be given (`role_retired`). The console (the `openday` command run by whoever operates
the server, and the service's own jobs: visibility.SYSTEM) is no account and may do each duty,
which is how the first administrators are made. Doors the district office shares (the audit
trail of its own work, accounts of unit staff, units, imports) keep their business rule for
supervisors and clerks; an administrator reaching them is held to its duty
(`require_if_administrator`, `require_or_supervisor`). The matrix test
(tests/accounts/test_duties.py) runs each role against each duty.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlmodel import Session

from models import Role
from workflows.kernel import audit, tenancy
from workflows.kernel.errors import Forbidden
from workflows.kernel.visibility import Actor


class Duty(StrEnum):
    """An administrator action."""

    settings = "settings"
    calendar = "calendar"
    imports = "imports"
    units = "units"
    accounts = "accounts"
    roles = "roles"
    sessions = "sessions"
    audit_read = "audit_read"
    audit_export = "audit_export"
    audit_verify = "audit_verify"


HOLDER: dict[Duty, Role] = {
    Duty.settings: Role.system_admin,
    Duty.calendar: Role.system_admin,
    Duty.imports: Role.system_admin,
    Duty.units: Role.system_admin,
    Duty.accounts: Role.security_admin,
    Duty.roles: Role.security_admin,
    Duty.sessions: Role.security_admin,
    Duty.audit_read: Role.audit_admin,
    Duty.audit_export: Role.audit_admin,
    Duty.audit_verify: Role.audit_admin,
}
ADMINISTRATOR_ROLES = frozenset({Role.system_admin, Role.security_admin, Role.audit_admin})
NAMES_ZH = {Role.system_admin: "系统管理员", Role.security_admin: "安全管理员",
            Role.audit_admin: "审计管理员"}  # fmt: skip


def may(role: str, duty: Duty) -> bool:
    """Whether an account of `role` may do `duty` (its one holder; the legacy admin: none)."""
    return role == HOLDER[duty]


def refusal(duty: Duty) -> Forbidden:
    """403 `separation_of_duties`, naming the administrator who holds the duty."""
    holder = HOLDER[duty]
    return Forbidden(
        "separation_of_duties",
        f"三员分立：此操作只能由{NAMES_ZH[holder]}执行",
        f"separation of duties: only a {holder} may do this",
        details={"duty": str(duty), "holder": str(holder)},
    )


def require(session: Session | None, actor: Actor, duty: Duty, now: datetime | None = None) -> None:
    """Refuse a duty the caller's role does not hold (403 `separation_of_duties`); an
    administrator's permitted action is recorded in the audit (with a session: callers whose
    action writes its own audit line pass None)."""
    if not (actor.is_console or may(actor.role, duty)):
        raise refusal(duty)
    if session is not None and now is not None and actor.role in ADMINISTRATOR_ROLES:
        tenancy.for_access_line(session, actor.district_id)
        audit.record(session, actor, entity="account", entity_id=actor.id, action=f"duty_{duty}",
                     now=now, after={"role": actor.role})  # fmt: skip


def record_read(
    session: Session,
    actor: Actor,
    now: datetime,
    what: str,
    account_id: int | None = None,
    **details: object,
) -> bool:
    """An administrator's read of what its duty guards (the security administrator's account
    lists, one account, its tokens, its linked identities) as an audit line `read_<what>` about
    the account read (else about the reader): 等保 wants every action of the three in the audit,
    a read included, as the audit administrator's reads are. Others' reads write nothing;
    whether a line was written (the caller commits it, a GET included)."""
    if actor.role not in ADMINISTRATOR_ROLES:
        return False
    subject = account_id if account_id is not None else actor.id
    after = {"role": actor.role, **{k: v for k, v in details.items() if v not in (None, "")}}
    tenancy.for_access_line(session, actor.district_id)
    audit.record(session, actor, entity="account", entity_id=subject, action=f"read_{what}",
                 now=now, after=after)  # fmt: skip
    return True


def require_if_administrator(
    session: Session | None, actor: Actor, duty: Duty, now: datetime | None = None
) -> bool:
    """At a door business roles share, hold an administrator to its duty (403 for the other
    two, the permitted action audited); whether the caller is an administrator at all, so
    that the door's business rule applies to everyone else."""
    if actor.role not in ADMINISTRATOR_ROLES:
        return False
    require(session, actor, duty, now)
    return True


def require_or_supervisor(
    session: Session | None, actor: Actor, duty: Duty, now: datetime | None = None
) -> None:
    """A system duty the district office shares (units, imports): the system administrator
    (audited), the console or a district-office supervisor; everyone else 403."""
    if not require_if_administrator(session, actor, duty, now):
        actor.require_supervisor()
