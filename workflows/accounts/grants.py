"""Acting grants (issue 28): a district's security administrator lets a named city supervisor act
in the district as the district's own supervisor would (spot checks, returns, approvals…), and
revokes it; each grant and revocation is an audit line (`entity` `district_grant`). The city
supervisor still only reads elsewhere: workflows/kernel/visibility.py (`acts_in`, `acting_in`)
is the rule, workflows/kernel/tenancy.py (`act_in`) binds the district for the write.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from models import DistrictGrant, Role, User
from workflows.accounts import districts, duties
from workflows.kernel import audit
from workflows.kernel.errors import Conflict, Forbidden, InvalidData, NotFound
from workflows.kernel.visibility import Actor, of_district

REASON_MAX = 200


def _require_district_admin(actor: Actor, district_id: int) -> None:
    """Only the district's own security administrator (accounts and roles are its duty,
    三员分立) or the console grants and revokes acting in the district."""
    if actor.is_console:
        return
    duties.require(None, actor, duties.Duty.roles)
    if not of_district(actor, district_id):
        raise Forbidden(
            "district_admin_required",
            "只有本区县的安全管理员可以授权市级督查人员",
            "only the district's own security administrator may grant acting in it",
        )


def may_grant(actor: Actor, district_id: int) -> bool:
    """Whether the page offers granting and revoking in the district (the rule: grant/revoke)."""
    return actor.role == Role.security_admin and of_district(actor, district_id)


def may_read(actor: Actor, district_id: int) -> bool:
    """Who reads a district's grants (the district's page and `GET …/grants` alike): the
    district's own security administrator, the city's system and security administrators, and
    the console. Supervisors, viewers and the audit administrator do not (the audit log shows
    each grant and revocation to the audit administrator)."""
    if actor.is_console:
        return True
    if actor.role == Role.security_admin and of_district(actor, district_id):
        return True
    return actor.city and actor.role in (Role.system_admin, Role.security_admin)


def require_read(actor: Actor, district_id: int) -> None:
    """403 `grants_forbidden` unless `may_read`."""
    if not may_read(actor, district_id):
        raise Forbidden(
            "grants_forbidden",
            "只有本区县的安全管理员和市级系统、安全管理员可以查看授权",
            "only the district's security administrator and the city's system and security "
            "administrators read its grants",
        )


def active_districts(session: Session, account_id: int | None) -> frozenset[int]:
    """The districts where the account holds a grant not revoked."""
    if account_id is None:
        return frozenset()
    rows = session.exec(
        select(DistrictGrant.district_id).where(
            DistrictGrant.account_id == account_id, col(DistrictGrant.revoked_at).is_(None)
        )
    ).all()
    return frozenset(rows)


def city_supervisors(session: Session) -> list[User]:
    """The accounts a grant may name: active city-level supervisors."""
    stmt = select(User).where(
        User.role == Role.supervisor, col(User.district_id).is_(None), col(User.is_active)
    )
    return list(session.exec(stmt.order_by(col(User.id))).all())


def listing(actor: Actor, district_id: int) -> Any:
    """The select of the district's grants, newest first, each with the supervisor's username
    and display name (`shown` names them). The caller has checked `districts.get` and
    `require_read` (see `read`)."""
    return (
        select(DistrictGrant, User.username, User.display_name)
        .join(User, col(User.id) == DistrictGrant.account_id)
        .where(DistrictGrant.district_id == district_id)
        .order_by(col(DistrictGrant.id).desc())
    )


def shown(username: str, display_name: str | None) -> str:
    """How a grant names its supervisor: 显示名（username）, or the username alone."""
    if display_name and display_name != username:
        return f"{display_name}（{username}）"
    return username


def require_listing(session: Session, actor: Actor, district_id: int) -> Any:
    """`listing` for a reader of the district's grants: 404 `district_not_found` for a district
    the actor does not see, 403 `grants_forbidden` for one it sees but may not read the grants
    of."""
    districts.get(session, actor, district_id)
    require_read(actor, district_id)
    return listing(actor, district_id)


def read(session: Session, actor: Actor, district_id: int) -> list[tuple[DistrictGrant, str]]:
    """The district's grants, newest first, with the supervisor's name (see `require_listing`)."""
    rows = session.exec(require_listing(session, actor, district_id)).all()
    return [(g, shown(name, display)) for g, name, display in rows]


def grant(
    session: Session, actor: Actor, district_id: int, account_id: int, reason: str, now: datetime
) -> DistrictGrant:
    """Grant a city supervisor acting in the district (409 `grant_exists` when one is active)."""
    district = districts.get(session, actor, district_id)
    _require_district_admin(actor, district_id)
    reason = reason.strip()
    if len(reason) > REASON_MAX:
        raise InvalidData(
            "field_too_long",
            f"授权理由超过 {REASON_MAX} 个字符",
            f"the reason is longer than {REASON_MAX} characters",
            details={"field": "reason", "max": REASON_MAX},
        )
    account = session.get(User, account_id) if 0 < account_id < 2**31 else None
    if account is None:
        raise InvalidData(
            "grantee_not_found",
            f"账号 {account_id} 不存在",
            f"no account {account_id}",
            details={"field": "account_id"},
        )
    if account.role != Role.supervisor or account.district_id is not None or not account.is_active:
        raise InvalidData(
            "city_supervisor_required",
            "只能授权启用中的市级督查人员账号",
            "only an active city-level supervisor's account may be granted",
            details={"field": "account_id"},
        )
    if district_id in active_districts(session, account_id):
        raise Conflict(
            "grant_exists",
            f"{account.username} 已获授权在{district.name}办理",
            f"{account.username} already holds a grant in this district",
        )
    row = DistrictGrant(
        district_id=district_id, account_id=account_id, granted_by=actor.id, granted_at=now,
        reason=reason,
    )  # fmt: skip
    session.add(row)
    session.flush()
    audit.record(
        session, actor, entity="district_grant", entity_id=row.id, action="grant", now=now,
        after={"district_id": district_id, "account_id": account_id, "account": account.username,
               "reason": reason},
    )  # fmt: skip
    return row


def revoke(
    session: Session,
    actor: Actor,
    grant_id: int,
    now: datetime,
    *,
    district_id: int | None = None,
) -> DistrictGrant:
    """Revoke a grant (409 `grant_revoked` when it already is). Named under a district
    (`district_id`, as the page and the API do), a grant of another district is not found
    (404 `grant_not_found`, as an unknown id)."""
    row = session.get(DistrictGrant, grant_id) if 0 < grant_id < 2**31 else None
    missing = NotFound("grant_not_found", f"授权 {grant_id} 不存在", f"grant {grant_id} not found")
    if row is None or (district_id is not None and row.district_id != district_id):
        raise missing
    try:
        districts.get(session, actor, row.district_id)
    except NotFound:
        raise missing from None
    _require_district_admin(actor, row.district_id)
    if row.revoked_at is not None:
        raise Conflict("grant_revoked", "该授权已撤销", "this grant is already revoked")
    row.revoked_at, row.revoked_by = now, actor.id
    session.add(row)
    session.flush()
    audit.record(
        session, actor, entity="district_grant", entity_id=row.id, action="revoke", now=now,
        after={"district_id": row.district_id, "account_id": row.account_id},
    )  # fmt: skip
    return row


def with_account(session: Session, row: DistrictGrant) -> tuple[DistrictGrant, str, str | None]:
    """A grant as `listing` gives it: with its supervisor's username and display name."""
    account = session.get(User, row.account_id)
    return (row, account.username if account else "", account.display_name if account else None)
