"""Linking an outside identity to an existing account, and unlinking it (administrators: the
same people who may manage that account), each audited on the account."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from models import IdentityLink, User
from workflows.accounts.service import load_managed
from workflows.kernel import audit, tenancy
from workflows.kernel.errors import Conflict, InvalidData, NotFound
from workflows.kernel.visibility import Actor

MAX_SUBJECT = 255


def provider_of(issuer: str | None) -> str:
    """The provider new links are made for (the configured issuer), or 409 when unified
    sign-in is not set up."""
    if not issuer:
        raise Conflict(
            "sso_not_configured",
            "本系统未启用统一身份认证，无法关联",
            "unified sign-in is not configured (OPENDAY_OIDC_ISSUER)",
        )
    return issuer


def links_of(session: Session, actor: Actor, user_id: int) -> list[IdentityLink]:
    """The identities linked to an account the caller may manage."""
    load_managed(session, actor, user_id)
    return list(
        session.exec(
            select(IdentityLink)
            .where(IdentityLink.user_id == user_id)
            .order_by(col(IdentityLink.id))
        )
    )


def clean_subject(subject: str) -> str:
    """A subject as stored: trimmed, 1-255 printable characters."""
    subject = subject.strip()
    if not subject or len(subject) > MAX_SUBJECT or not subject.isprintable():
        raise InvalidData(
            "identity_subject_invalid",
            f"统一身份认证标识须为 1–{MAX_SUBJECT} 个可见字符",
            f"the identity must be 1-{MAX_SUBJECT} printable characters",
        )
    return subject


def link(
    session: Session,
    actor: Actor,
    user_id: int,
    issuer: str | None,
    subject: str,
    now: datetime,
) -> IdentityLink:
    """Link `subject` at the configured provider `issuer` to the account; one identity
    belongs to one account."""
    actor.require_acting()
    user = load_managed(session, actor, user_id)
    provider = provider_of(issuer)
    subject = clean_subject(subject)
    taken = session.exec(
        select(IdentityLink).where(
            IdentityLink.provider == provider, IdentityLink.subject == subject
        )
    ).first()
    if taken is not None:
        raise Conflict(
            "identity_taken",
            "该统一身份认证标识已关联到账号，请先解除原关联",
            "this identity is already linked to an account; unlink it first",
            details={"user_id": taken.user_id},
        )
    row = IdentityLink(
        provider=provider, subject=subject, user_id=user_id, linked_by_name=actor.name,
        linked_at=now,
    )  # fmt: skip
    session.add(row)
    session.flush()
    _audit(session, actor, user, "identity_link", now, provider, subject)
    return row


def unlink(session: Session, actor: Actor, user_id: int, link_id: int, now: datetime) -> None:
    """Remove one linked identity from the account."""
    actor.require_acting()
    user = load_managed(session, actor, user_id)
    row = session.get(IdentityLink, link_id)
    if row is None or row.user_id != user_id:
        raise NotFound(
            "identity_link_not_found", "该关联不存在", f"identity link {link_id} not found"
        )
    session.delete(row)
    _audit(session, actor, user, "identity_unlink", now, row.provider, row.subject)


def _audit(
    session: Session,
    actor: Actor,
    user: User,
    action: str,
    now: datetime,
    provider: str,
    subject: str,
) -> None:
    tenancy.for_access_line(session, user.district_id)
    audit.record(
        session,
        actor,
        entity="account",
        entity_id=user.id,
        action=action,
        now=now,
        after={"username": user.username, "provider": provider, "subject": subject},
        unit_id=user.unit_id,
    )
