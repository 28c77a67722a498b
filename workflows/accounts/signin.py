"""Starting a signed-in session: the one place every way of signing in (a password today,
OpenID Connect and other portals beside it) turns a known account into a session token.

Pages call web-side `pages.auth.begin_session`, which calls `start_session` here; the second
factor and the 等保 rules (last sign-in, audit of each sign-in) hook into these two functions,
so a new way of signing in gets them by ending here rather than issuing a token itself.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from models import User
from workflows.accounts.service import issue_token

# How the person proved who they are, as the session records it.
METHODS = frozenset({"password", "oidc"})


def start_session(
    session: Session,
    user: User,
    now: datetime,
    *,
    lifetime: timedelta,
    method: str = "password",
    name: str = "页面登录",
) -> str:
    """Issue a session token for `user`, who has just proved who they are by `method`;
    the token is returned (only its hash is stored). The caller commits."""
    if method not in METHODS:
        raise ValueError(f"unknown sign-in method {method!r}")
    return issue_token(session, user, kind="session", now=now, name=name, lifetime=lifetime)
