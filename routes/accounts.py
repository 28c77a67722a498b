"""Sign-in, sign-out and one's own profile."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Response

from models import User
from routes.deps import API_PREFIX, ActorDep, ClockDep, CredentialsDep, SessionDep, SettingsDep
from schemas.accounts import LoginIn, LoginOut, MePatch, UserOut
from workflows.accounts import issue_token, revoke_token, update_profile, verify_login

router = APIRouter(prefix=API_PREFIX, tags=["accounts"])


@router.post("/auth/login")
def login(body: LoginIn, session: SessionDep, clock: ClockDep, settings: SettingsDep) -> LoginOut:
    """Exchange a username and password for a session token."""
    user = verify_login(session, body.username, body.password)
    now = clock.now()
    lifetime = timedelta(hours=settings.session_hours)
    token = issue_token(session, user, kind="session", now=now, lifetime=lifetime)
    session.commit()
    return LoginOut(token=token, expires_at=now + lifetime, user=UserOut.model_validate(user))


@router.post("/auth/logout", status_code=204)
def logout(
    actor: ActorDep, session: SessionDep, clock: ClockDep, credentials: CredentialsDep
) -> Response:
    """Revoke the token used for this request."""
    assert credentials is not None
    revoke_token(session, credentials.credentials, clock.now())
    session.commit()
    return Response(status_code=204)


@router.get("/me")
def me(actor: ActorDep, session: SessionDep) -> UserOut:
    """Who the token belongs to."""
    return UserOut.model_validate(session.get(User, actor.id))


@router.patch("/me")
def patch_me(body: MePatch, actor: ActorDep, session: SessionDep) -> UserOut:
    """Update one's own name or e-mail (supervisors get level-2 escalations there)."""
    user = update_profile(session, actor, body.model_dump(exclude_unset=True))
    session.commit()
    return UserOut.model_validate(user)
