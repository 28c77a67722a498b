"""A unified sign-in from start to account: kept server-side while the browser is away, spent
once on its return, matched to an account an administrator linked, audited either way.

The page owns the transaction: `begin` (then commit), `spend` (then commit, so no write lock
is held while the provider is asked), the adapter's `finish`, then `account_for`; a refusal at
any step goes to `record_refusal` and is committed before its page is shown.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from models import IdentityLink, IdentitySignIn, User
from workflows.accounts.identity.adapter import (
    Identity,
    IdentityAdapter,
    IdentityRefused,
    Redirect,
)
from workflows.kernel import audit, tenancy
from workflows.kernel.visibility import Actor

PENDING_FOR = timedelta(minutes=10)  # a sign-in must come back within this
KEEP_SPENT_FOR = timedelta(days=1)  # rows older than this are deleted by the next begin
MAX_STATE_CHARS = 200

# Who the audit names for what happened before anyone is signed in.
GATE = Actor(id=None, name="统一身份认证", role="system", unit_id=None)


@dataclass(frozen=True)
class Pending:
    """A spent sign-in: what its answer must match and where the person was heading."""

    secrets: dict[str, str]
    next_path: str


def state_hash(state: str) -> str:
    """The stored form of a state (SHA-256; the state itself is 240 random bits)."""
    return hashlib.sha256(state.encode()).hexdigest()


def begin(
    session: Session, adapter: IdentityAdapter, redirect_uri: str, next_path: str, now: datetime
) -> Redirect:
    """Start a sign-in: where to send the browser; its state is kept until it returns."""
    redirect = adapter.begin(redirect_uri)
    session.execute(
        sa.delete(IdentitySignIn).where(col(IdentitySignIn.created_at) < now - KEEP_SPENT_FOR)
    )
    session.add(
        IdentitySignIn(
            state_hash=state_hash(redirect.state),
            provider=adapter.provider,
            nonce=redirect.secrets.get("nonce", ""),
            code_verifier=redirect.secrets.get("code_verifier", ""),
            next_path=next_path,
            created_at=now,
        )
    )
    return redirect


def spend(session: Session, state: str, cookie_state: str, now: datetime) -> Pending:
    """The sign-in this answer belongs to, spent: its state must be the one this browser was
    given (cookie), unspent and recent; otherwise sso_state_mismatch or sso_state_spent."""
    if (
        not state
        or not cookie_state
        or len(state) > MAX_STATE_CHARS
        or not hmac.compare_digest(state.encode(), cookie_state.encode())
    ):
        raise IdentityRefused("sso_state_mismatch", "", 400)
    table = IdentitySignIn.__table__  # type: ignore[attr-defined]
    spent = session.execute(
        sa.update(table)
        .where(
            table.c.state_hash == state_hash(state),
            table.c.used_at.is_(None),
            table.c.created_at > now - PENDING_FOR,
        )
        .values(used_at=now)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        raise IdentityRefused("sso_state_spent", "", 400)
    row = session.exec(
        select(IdentitySignIn).where(IdentitySignIn.state_hash == state_hash(state))
    ).one()
    return Pending({"nonce": row.nonce, "code_verifier": row.code_verifier}, row.next_path)


def account_for(session: Session, identity: Identity, now: datetime, address: str) -> User:
    """The active account linked to this identity (never created here), its sign-in audited."""
    found = session.exec(
        select(IdentityLink, User)
        .join(User, col(User.id) == IdentityLink.user_id)
        .where(IdentityLink.provider == identity.provider, IdentityLink.subject == identity.subject)
    ).first()
    if found is None:
        raise IdentityRefused("sso_not_linked", identity.subject, 403)
    link, user = found
    if not user.is_active:
        raise IdentityRefused("sso_account_inactive", user.username, 403)
    link.last_sign_in_at = now
    session.add(link)
    tenancy.for_access_line(session, user.district_id)
    audit.record(
        session,
        GATE,
        entity="sign_in",
        entity_id=user.id,
        action="sso_sign_in",
        now=now,
        after={"username": user.username, "provider": identity.provider, "address": address},
        unit_id=user.unit_id,
    )
    return user


def record_refusal(session: Session, refusal: IdentityRefused, address: str, now: datetime) -> None:
    """The audit line of a refused unified sign-in (the caller commits it)."""
    tenancy.for_access_line(session, None)
    audit.record(
        session,
        GATE,
        entity="sign_in",
        entity_id=None,
        action="sso_refused",
        now=now,
        after={
            "code": refusal.code,
            "detail": str(refusal.details.get("detail", ""))[:300],
            "address": address[:100],
        },
    )
