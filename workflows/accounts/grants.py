"""Acting grants (issue 28): a district's security administrator lets a named city supervisor act
in the district as the district's own supervisor would (spot checks, returns, approvals…), and
revokes it; each grant and revocation is an audit line (`entity` `district_grant`). The city
supervisor still only reads elsewhere: workflows/kernel/visibility.py (`acts_in`, `acting_in`)
is the rule, workflows/kernel/tenancy.py (`act_in`) binds the district for the write.
"""

from __future__ import annotations

from datetime import datetime

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


def listing(session: Session, actor: Actor, district_id: int) -> list[tuple[DistrictGrant, str]]:
    """The district's grants, newest first, with the supervisor's name and username (readers of the
    district see them; 404 for a district the actor does not see)."""
    districts.get(session, actor, district_id)
    rows = session.exec(
        select(DistrictGrant, User.username, User.display_name)
        .join(User, col(User.id) == DistrictGrant.account_id)
        .where(DistrictGrant.district_id == district_id)
        .order_by(col(DistrictGrant.id).desc())
    ).all()
    return [(g, f"{shown}（{name}）" if shown and shown != name else name)
            for g, name, shown in rows]  # fmt: skip


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
    if account is None or account.role != Role.supervisor or account.district_id is not None:
        raise InvalidData(
            "city_supervisor_required",
            "只能授权市级督查人员账号",
            "only a city-level supervisor's account may be granted",
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


def revoke(session: Session, actor: Actor, grant_id: int, now: datetime) -> DistrictGrant:
    """Revoke a grant (409 `grant_revoked` when it already is)."""
    row = session.get(DistrictGrant, grant_id) if 0 < grant_id < 2**31 else None
    missing = NotFound("grant_not_found", f"授权 {grant_id} 不存在", f"grant {grant_id} not found")
    if row is None:
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
