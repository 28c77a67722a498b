"""What routes depend on: the request's session and clock, the caller, paging, loading events.

One request, one session, one transaction: routes that write call `session.commit()` once at
the end; any error rolls everything back (the session dependency owns it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import anyio.to_thread
import structlog
from fastapi import Depends, Query, Request, UploadFile
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import bindparam, func
from sqlmodel import Session, select

from models import Campaign, Event, Unit
from models.db import reading
from schemas.common import MAX_ID, Paging
from settings import Settings
from workflows.accounts.service import actor_for_token
from workflows.kernel import paging as paging_flow
from workflows.kernel.clock import Clock
from workflows.kernel.errors import DomainError, NotFound
from workflows.kernel.visibility import Actor
from workflows.workdays import deadlines

API_PREFIX = "/api/v1"
bearer = HTTPBearer(auto_error=False)


# Requests that only read, or check a password before one short write (the write then starts a
# transaction of its own after a commit): on SQLite they never take the write lock.
READ_PATHS = frozenset({API_PREFIX + "/auth/login", "/login"})


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A request-scoped session; rolled back unless the route committed.

    Async so that opening it (no I/O: the connection is taken at first use) and closing it
    after a commit (nothing to roll back) cost no trip through the thread pool; a transaction
    still open at the end is rolled back in a worker thread, off the event loop.
    """
    engine = request.app.state.engine
    if request.method in ("GET", "HEAD") or request.url.path in READ_PATHS:
        engine = reading(engine)
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
    finally:
        if session.in_transaction():
            await anyio.to_thread.run_sync(_discard, session)
        else:
            session.close()


def _discard(session: Session) -> None:
    session.rollback()
    session.close()


async def get_clock(request: Request) -> Clock:
    """The app's clock (tests install a FixedClock)."""
    return request.app.state.clock  # type: ignore[no-any-return]


async def get_settings(request: Request) -> Settings:
    """The app's settings."""
    return request.app.state.settings  # type: ignore[no-any-return]


SessionDep = Annotated[Session, Depends(get_session)]
ClockDep = Annotated[Clock, Depends(get_clock)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
CredentialsDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def current_actor(request: Request, session: SessionDep, credentials: CredentialsDep) -> Actor:
    """The caller behind the bearer token, or 401 (named on request.state for refusal logs).

    The clock is the app's (what get_clock answers), read directly: every API request resolves
    this dependency, and each sub-dependency costs FastAPI a solving pass."""
    clock: Clock = request.app.state.clock
    if credentials is None:
        raise DomainError(
            "not_authenticated",
            "未登录：请在 Authorization 头中提供 Bearer 令牌",
            "not authenticated: send an Authorization: Bearer token",
            status=401,
        )
    actor = actor_for_token(session, credentials.credentials, clock.now())
    if actor is None:
        raise DomainError(
            "invalid_token",
            "令牌无效、已过期或已注销",
            "the token is invalid, expired or revoked",
            status=401,
        )
    structlog.contextvars.bind_contextvars(user=actor.name)
    request.state.actor = f"{actor.name} ({actor.role})"
    return actor


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


# ---- loading events with scoping: a unit's staff never learn of other units' events --------


# The queries load_event and load_move_target run, built once (building and keying a select
# costs more than running it); the event id is their `event_id` parameter.
def _event_query(*extra: Any) -> Any:
    return (
        select(Event, Unit.name, *extra)
        .join(Unit, Unit.id == Event.unit_id)  # type: ignore[arg-type]
        .where(Event.id == bindparam("event_id"))
    )


_EVENT = _event_query()
_EVENT_LOCKED = _EVENT.with_for_update(of=Event)
_MOVE_TARGET = (
    _event_query(Campaign, *deadlines.CALENDAR_REVISION_COLUMNS)
    .join(Campaign, Campaign.id == Event.campaign_id)  # type: ignore[arg-type]
    .with_for_update(of=Event)
)


def _visible_event_row(session: Session, actor: Actor, event_id: int, stmt: Any) -> Any:
    row = session.execute(stmt, {"event_id": event_id}).first()
    if row is None or not actor.may_see_unit(row[0].unit_id):
        raise NotFound("event_not_found", f"活动 {event_id} 不存在", f"event {event_id} not found")
    session.info.setdefault("unit_names", {})[row[0].unit_id] = row[1]
    return row


def load_event(session: Session, actor: Actor, event_id: int, *, lock: bool = False) -> Event:
    """An event the caller may see; locked FOR UPDATE on PostgreSQL when about to be changed.

    Its unit's name comes in the same query (kept in `session.info`), so answering with the
    event after the commit needs no second round trip.
    """
    row = _visible_event_row(session, actor, event_id, _EVENT_LOCKED if lock else _EVENT)
    return row[0]  # type: ignore[no-any-return]


@dataclass(frozen=True)
class MoveTarget:
    """An event about to be moved, with what the move reads besides: its campaign (the rules)
    and the working-day calendar's revision, all from the one locking query."""

    event: Event
    campaign: Campaign
    calendar_revision: tuple[Any, ...]


def load_move_target(session: Session, actor: Actor, event_id: int) -> MoveTarget:
    """As load_event(lock=True), for flow.fire: one statement instead of three."""
    row = _visible_event_row(session, actor, event_id, _MOVE_TARGET)
    return MoveTarget(row[0], row[2], tuple(row[3:]))


def load_event_for_write(session: Session, actor: Actor, event_id: int) -> Event:
    """As load_event, locked, and refused to read-only accounts."""
    event = load_event(session, actor, event_id, lock=True)
    actor.require_write()
    return event


def unit_name(session: Session, unit_id: int) -> str:
    """A unit's name (cached on the session by load_event)."""
    known = session.info.get("unit_names", {})
    if unit_id in known:
        return known[unit_id]  # type: ignore[no-any-return]
    unit = session.get(Unit, unit_id)
    return unit.name if unit else ""


def read_upload(file: UploadFile, limit: int, code: str, what_zh: str, what_en: str) -> bytes:
    """An uploaded file's bytes, refused with 413 past `limit`."""
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise DomainError(
            code,
            f"{what_zh}超过 {limit // (1024 * 1024)} MB 上限",
            f"the {what_en} exceeds the {limit} byte limit",
            status=413,
        )
    return data
