"""Identities of the unified sign-in (统一身份认证) linked to accounts: listed, linked and
unlinked by those who may manage the account (issue 29)."""

from __future__ import annotations

from fastapi import APIRouter

from schemas.common import Id
from schemas.identity import IdentityLinkIn, IdentityLinkOut
from web.deps import API_PREFIX, ActorDep, ClockDep, SessionDep, SettingsDep
from workflows.accounts import duties
from workflows.accounts.identity import links

router = APIRouter(prefix=API_PREFIX, tags=["accounts"])


@router.get("/users/{user_id}/identities")
def list_identities(
    user_id: Id, actor: ActorDep, session: SessionDep, clock: ClockDep
) -> list[IdentityLinkOut]:
    """The outside identities linked to an account (the security administrator's read is an
    audit line)."""
    rows = [IdentityLinkOut.model_validate(r) for r in links.links_of(session, actor, user_id)]
    if duties.record_read(session, actor, clock.now(), "identities", user_id):
        session.commit()
    return rows


@router.post("/users/{user_id}/identities", status_code=201)
def link_identity(
    user_id: Id,
    body: IdentityLinkIn,
    actor: ActorDep,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> IdentityLinkOut:
    """Link the configured provider's identity `subject` to the account (audited); 409
    `sso_not_configured` without OPENDAY_OIDC_ISSUER, `identity_taken` when it is linked."""
    row = links.link(session, actor, user_id, settings.oidc_issuer, body.subject, clock.now())
    session.commit()
    return IdentityLinkOut.model_validate(row)


@router.delete("/users/{user_id}/identities/{link_id}", status_code=204)
def unlink_identity(
    user_id: Id, link_id: Id, actor: ActorDep, session: SessionDep, clock: ClockDep
) -> None:
    """Remove one linked identity from the account (audited)."""
    links.unlink(session, actor, user_id, link_id, clock.now())
    session.commit()
