"""What routes and pages depend on: the request's session and clock, settings, the caller, paging.

One request, one session, one transaction: routes and pages that write call `session.commit()`
once at the end; any error rolls everything back (the session dependency owns it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Annotated, Any

import anyio.to_thread
import structlog
from fastapi import BackgroundTasks, Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import func
from sqlmodel import Session, select

from models.db import reading, release
from schemas.common import MAX_ID, Paging
from settings import Settings
from workflows.accounts.service import SessionRules, note_use, token_use
from workflows.kernel import paging as paging_flow
from workflows.kernel import tenancy
from workflows.kernel.clock import Clock
from workflows.kernel.errors import DomainError
from workflows.kernel.visibility import Actor

API_PREFIX = "/api/v1"
bearer = HTTPBearer(auto_error=False)


# Requests that only read, or check a password before one short write (the write then starts a
# transaction of its own after a commit): on SQLite they never take the write lock.
READ_PATHS = frozenset({API_PREFIX + "/auth/login", "/login"})
# All an account signed in with a one-time password may do until it has changed it.
PASSWORD_CHANGE_PATHS = frozenset({API_PREFIX + "/me/password", API_PREFIX + "/auth/logout"})


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A request-scoped session; rolled back unless the route committed (models.db.release:
    on PostgreSQL a transaction that wrote nothing ends in COMMIT, keeping the driver's
    prepared statements).

    Async so that opening it (no I/O: the connection is taken at first use) and closing it
    after a commit (nothing to roll back) cost no trip through the thread pool; a transaction
    still open at the end is released in a worker thread, off the event loop.
    """
    engine = request.app.state.engine
    if request.method in ("GET", "HEAD") or request.url.path in READ_PATHS:
        engine = reading(engine)
    session = Session(engine, expire_on_commit=False)
    # Citizens' pages read what is public in every district; a signed-in caller's token lookup
    # binds its own district instead (workflows/accounts/service.py token_use).
    tenancy.bind(session, tenancy.CITIZENS)
    try:
        yield session
    finally:
        if session.in_transaction():
            await anyio.to_thread.run_sync(release, session)
        else:
            session.close()


async def get_clock(request: Request) -> Clock:
    """The app's clock (tests install a FixedClock)."""
    return request.app.state.clock


async def get_settings(request: Request) -> Settings:
    """The app's settings."""
    return request.app.state.settings


SessionDep = Annotated[Session, Depends(get_session)]
ClockDep = Annotated[Clock, Depends(get_clock)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
CredentialsDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def authenticate(
    request: Request, session: Session, credentials: HTTPAuthorizationCredentials | None
) -> tuple[Actor, int | None]:
    """The caller behind the bearer token, or 401 (named on request.state for refusal logs),
    and the token's id when its last use is to be noted after the answer (`note_use`).

    The clock is the app's (what get_clock answers), read directly: every API request resolves
    this, and each sub-dependency costs FastAPI a solving pass."""
    clock: Clock = request.app.state.clock
    if credentials is None:
        raise DomainError(
            "not_authenticated",
            "未登录：请在 Authorization 头中提供 Bearer 令牌",
            "not authenticated: send an Authorization: Bearer token",
            status=401,
        )
    rules = SessionRules.of(request.app.state.settings)
    found = token_use(session, credentials.credentials, clock.now(), rules)
    if found is None:
        raise DomainError(
            "invalid_token",
            "令牌无效、已过期或已注销",
            "the token is invalid, expired or revoked",
            status=401,
        )
    actor, stale = found
    structlog.contextvars.bind_contextvars(user=actor.name)
    request.state.actor = f"{actor.name} ({actor.role})"
    if actor.must_change_password and request.url.path not in PASSWORD_CHANGE_PATHS:
        raise DomainError(
            "password_change_required",
            "请先修改一次性密码（POST /api/v1/me/password），然后才能使用其他功能",
            "change the one-time password first (POST /api/v1/me/password)",
            status=403,
        )
    return actor, stale


def current_actor(
    request: Request, session: SessionDep, credentials: CredentialsDep, later: BackgroundTasks
) -> Actor:
    """The caller (`authenticate`); the token's last use is written after the answer, in its
    own transaction."""
    actor, stale = authenticate(request, session, credentials)
    if stale is not None:
        later.add_task(note_use, request.app.state.engine, stale, request.app.state.clock.now())
    return actor


# Routes that authenticate inside their own worker thread (one thread hop for the request, not
# one per dependency), mapped to their gate: a check of the caller against the raw body (a role
# ruling the move out: 403). FastAPI refuses an invalid body before such a route runs, so the
# validation error's handler asks `refusal_before_invalid` first: 401, then 403, before 422,
# as on every route whose caller is a dependency.
BEFORE_INVALID: dict[Any, Callable[[Any, Actor], None]] = {}


async def refusal_before_invalid(request: Request, body: Any) -> DomainError | None:
    """For a route in BEFORE_INVALID: the caller's refusal (401/403) that comes before the
    body's 422, or None."""
    gate = BEFORE_INVALID.get(getattr(request.scope.get("route"), "endpoint", None))
    if gate is None:
        return None
    credentials = await bearer(request)

    def check() -> DomainError | None:
        session = Session(request.app.state.engine)
        try:
            actor, _ = authenticate(request, session, credentials)
            gate(body, actor)
        except DomainError as exc:
            return exc
        finally:
            release(session)
        return None

    return await anyio.to_thread.run_sync(check)


ActorDep = Annotated[Actor, Depends(current_actor)]


async def paging(
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[
        int, Query(ge=0, le=MAX_ID, description="rows to skip (kept for old clients; use after)")
    ] = 0,
    after: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=paging_flow.MAX_CURSOR_CHARS,
            description="the previous page's next_after: the page that follows it",
        ),
    ] = None,
) -> Paging:
    """limit with an `after` cursor (the documented way), or limit/offset (compatibility)."""
    if after is not None and offset:
        raise DomainError(
            "cursor_with_offset",
            "after 与 offset 不能同时使用",
            "give either after or offset, not both",
            status=422,
            details={"field": "after"},
        )
    return Paging(limit=limit, offset=offset, after=after)


PagingDep = Annotated[Paging, Depends(paging)]

# Every write to an event or what hangs on it names the event version the caller saw.
ExpectedVersion = Annotated[
    int,
    Query(
        ge=1,
        le=MAX_ID,
        description="the event's version the caller saw (GET /events/{id}); a stale one is 409",
    ),
]


def fetch_page(
    session: Session, stmt: Any, pg: Paging, *, name: str = ""
) -> tuple[Sequence[Any], int | None]:
    """The rows of one page of an ordered select (its last sort key unique), and the total.

    With `pg.after` the page continues after that cursor (keyset: as cheap as the first page)
    and the total is not counted (None); otherwise `pg.offset` rows are skipped and the total
    counted. Either way `pg.next_after` is set to the next page's cursor (None on the last).
    """
    total = None
    if pg.after is None:
        total = session.exec(select(func.count()).select_from(stmt.order_by(None).subquery())).one()
        stmt = stmt.offset(pg.offset) if pg.offset else stmt
    page = paging_flow.keyset_page(
        lambda s: session.execute(s).all(), stmt, pg.limit, pg.after, name=name
    )
    pg.next_after = page.next_after
    return page.rows, total
