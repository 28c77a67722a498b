"""HTTP API (FastAPI) under /api/v1: accounts, campaigns, units, events and their moves.

One request, one session, one transaction: endpoints that write call `session.commit()` once at
the end; any error rolls everything back (the session dependency owns it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Generic, TypeVar

import dramatiq
import structlog
from fastapi import Depends, FastAPI, File, Query, Request, Response, UploadFile
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import func, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, col, select

from models import (
    Attachment,
    Campaign,
    Event,
    EventForm,
    EventState,
    FeedbackItem,
    InvitationMode,
    Invitee,
    InviteeCategory,
    Notification,
    OutboxMessage,
    SpotCheck,
    Summary,
    TargetedKind,
    Timer,
    TransitionLog,
    Unit,
    UnitKind,
    User,
)
from models.db import make_engine
from settings import Settings, configure_logging, get_settings
from workers.broker import broker_reachable, make_broker
from workers.metrics import MOVES, REQUEST_SECONDS, REQUESTS, StateCollector, render
from workers.scheduler import DELIVER_ACTOR
from workflows import event as flow
from workflows import feedback as feedback_flow
from workflows import overdue as overdue_list
from workflows import work_calendar
from workflows.accounts import (
    Actor,
    authenticate_token,
    issue_token,
    revoke_token,
    verify_login,
)
from workflows.clock import Clock, clock_from_setting
from workflows.deadlines import load_calendar, wake_schedulers
from workflows.errors import Conflict, DomainError, Forbidden, MoveRefused, NotFound
from workflows.rules import CampaignRules
from workflows.schedule_import import ImportRefused, apply_import, plan_import
from workflows.schedule_tables import TableError, read_table

log = structlog.get_logger("openday.api")

T = TypeVar("T")


# --------------------------------------------------------------------------------------------
# Schemas
# --------------------------------------------------------------------------------------------


class Page(BaseModel, Generic[T]):
    """One page of a list."""

    items: list[T]
    total: int
    limit: int
    offset: int


class Paging(BaseModel):
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0)


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    username: str
    display_name: str
    role: str
    unit_id: int | None
    email: str | None


class MePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    display_name: str | None = Field(default=None, min_length=1, max_length=100)
    email: str | None = Field(
        default=None,
        max_length=200,
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        description="where escalations addressed to this account go",
    )


class LoginOut(BaseModel):
    token: str
    token_type: str = "bearer"
    expires_at: datetime
    user: UserOut


class CampaignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    doc_number: str = Field(min_length=1, max_length=64)
    title: str = Field(min_length=1, max_length=200)
    issuing_office: str = Field(min_length=1, max_length=200)
    starts_on: date
    ends_on: date
    rules: CampaignRules = Field(default_factory=CampaignRules)


class CampaignPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(default=None, min_length=1, max_length=200)
    issuing_office: str | None = Field(default=None, min_length=1, max_length=200)
    starts_on: date | None = None
    ends_on: date | None = None
    rules: dict[str, Any] | None = None


class CampaignOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    doc_number: str
    title: str
    issuing_office: str
    starts_on: date
    ends_on: date
    rules: CampaignRules
    created_at: datetime


class UnitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    kind: UnitKind = UnitKind.other
    contact_name: str | None = Field(default=None, max_length=50)
    contact_phone: str | None = Field(default=None, max_length=32)
    contact_email: str | None = Field(default=None, max_length=200)
    head_name: str | None = Field(default=None, max_length=50)
    head_phone: str | None = Field(default=None, max_length=32)
    head_email: str | None = Field(default=None, max_length=200)


class UnitPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: UnitKind | None = None
    contact_name: str | None = Field(default=None, max_length=50)
    contact_phone: str | None = Field(default=None, max_length=32)
    contact_email: str | None = Field(default=None, max_length=200)
    head_name: str | None = Field(default=None, max_length=50)
    head_phone: str | None = Field(default=None, max_length=32)
    head_email: str | None = Field(default=None, max_length=200)


class UnitOut(UnitIn):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: str  # type: ignore[assignment]


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    campaign_id: int
    unit_id: int
    theme: str = Field(min_length=1, max_length=300)
    date: dt.date | None = Field(default=None, description="a single day; or give earliest+latest")
    earliest: dt.date | None = None
    latest: dt.date | None = None
    date_text: str | None = Field(default=None, max_length=100)
    tentative: bool = False
    location: str | None = Field(default=None, max_length=300)
    forms: list[EventForm] = Field(default_factory=list)
    seq: int | None = Field(default=None, ge=1)


class EventPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    expected_version: int
    theme: str | None = Field(default=None, min_length=1, max_length=300)
    location: str | None = Field(default=None, max_length=300)
    forms: list[EventForm] | None = None


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    campaign_id: int
    unit_id: int
    unit_name: str
    seq: int | None
    theme: str
    date_earliest: date
    date_latest: date
    date_text: str | None
    tentative: bool
    location: str | None
    forms: list[str]
    state: str
    state_label: str
    version: int
    held_on: date | None
    summary_due_on: date | None
    escalation_level: int
    last_notified_at: datetime | None
    allowed_triggers: list[str]
    created_at: datetime
    updated_at: datetime


class TransitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    trigger: str = Field(min_length=1, max_length=32)
    expected_version: int = Field(ge=1)
    reason: str | None = Field(default=None, max_length=2000)
    data: dict[str, Any] = Field(default_factory=dict)


class HistoryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    trigger: str
    from_state: str | None
    to_state: str
    version: int
    actor_id: int | None
    actor_name: str
    at: datetime
    reason: str | None
    data: dict[str, Any]


class TransitionOut(BaseModel):
    event: EventOut
    move: HistoryOut


class InviteeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=50)
    category: InviteeCategory
    invitation: InvitationMode | None = None
    targeted_kind: TargetedKind | None = None
    organization: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=32)
    invited: bool = True


class InviteePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=50)
    category: InviteeCategory | None = None
    invitation: InvitationMode | None = None
    targeted_kind: TargetedKind | None = None
    organization: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=32)
    invited: bool | None = None
    attended: bool | None = None


class InviteeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    event_id: int
    name: str
    category: str
    invitation: str | None
    targeted_kind: str | None
    organization: str | None
    phone: str | None
    invited: bool
    attended: bool | None


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    content: str = Field(min_length=1, max_length=5000)
    raised_by_invitee_id: int | None = None


class FeedbackOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    event_id: int
    content: str
    raised_by_invitee_id: int | None
    state: str
    version: int
    assignee: str | None
    answer: str | None
    collected_on: date | None
    due_on: date | None = Field(description="the last day to answer (15 working days)")
    due_provisional: bool = Field(description="due date rests on a year without holiday data")
    overdue_since: datetime | None
    escalation_level: int
    last_notified_at: datetime | None
    answered_at: datetime | None
    answered_late_workdays: int | None
    created_at: datetime


class TimerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    rule: str
    kind: str
    level: int
    deadline_on: date
    due_at: datetime
    provisional: bool
    state: str
    fired_at: datetime | None


class FeedbackDetailOut(FeedbackOut):
    allowed_triggers: list[str]
    timers: list[TimerOut]


class FeedbackTransitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    trigger: str = Field(min_length=1, max_length=32, description="assign | answer | close")
    expected_version: int | None = Field(default=None, ge=1)
    data: dict[str, Any] = Field(default_factory=dict)


class NotificationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    subject_type: str
    subject_id: int
    event_id: int
    unit_id: int
    rule: str
    kind: str
    level: int
    channel: str
    recipient: str
    title: str
    state: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


class OverdueOut(BaseModel):
    kind: str = Field(description="feedback_answer | summary | event_hold")
    event_id: int
    feedback_item_id: int | None
    unit_id: int
    unit_name: str
    theme: str
    state: str
    due_on: date
    due_at: datetime
    overdue: bool
    late_days: int = Field(description="calendar days past the due day (negative: days left)")
    late_seconds: int
    provisional: bool
    escalation_level: int
    last_notified_at: datetime | None


class CalendarLoadOut(BaseModel):
    source: str
    complete_years: list[int]
    days: int
    recomputed: int


class SummaryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(max_length=50000)


class AttachmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: str
    filename: str
    content_type: str
    size: int
    sha256: str
    created_at: datetime


class SummaryOut(BaseModel):
    event_id: int
    text: str
    submitted_at: datetime | None
    attachments: list[AttachmentOut]


class SpotCheckOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    event_id: int
    result: str
    site_visit: bool
    notes: str
    checked_by: int | None
    checked_at: datetime


class ErrorBody(BaseModel):
    code: str
    message: str
    message_en: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorOut(BaseModel):
    error: ErrorBody


# --------------------------------------------------------------------------------------------
# Dependencies
# --------------------------------------------------------------------------------------------

_bearer = HTTPBearer(auto_error=False)


def get_session(request: Request) -> Iterator[Session]:
    """A request-scoped session; rolled back unless the endpoint committed."""
    session = Session(request.app.state.engine, expire_on_commit=False)
    try:
        yield session
    finally:
        session.rollback()
        session.close()


def get_clock(request: Request) -> Clock:
    """The app's clock (tests install a FixedClock)."""
    return request.app.state.clock  # type: ignore[no-any-return]


SessionDep = Annotated[Session, Depends(get_session)]
ClockDep = Annotated[Clock, Depends(get_clock)]


def current_actor(
    session: SessionDep,
    clock: ClockDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """The caller behind the bearer token, or 401."""
    if credentials is None:
        raise DomainError(
            "not_authenticated",
            "未登录：请在 Authorization 头中提供 Bearer 令牌",
            "not authenticated: send an Authorization: Bearer token",
            status=401,
        )
    user = authenticate_token(session, credentials.credentials, clock.now())
    if user is None:
        raise DomainError(
            "invalid_token",
            "令牌无效、已过期或已注销",
            "the token is invalid, expired or revoked",
            status=401,
        )
    structlog.contextvars.bind_contextvars(user=user.username)
    return Actor.of(user)


ActorDep = Annotated[Actor, Depends(current_actor)]


def paging(
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Paging:
    """limit/offset query parameters."""
    return Paging(limit=limit, offset=offset)


PagingDep = Annotated[Paging, Depends(paging)]


def _page(session: Session, stmt: Any, paging: Paging) -> tuple[Sequence[Any], int]:
    total = session.exec(select(func.count()).select_from(stmt.order_by(None).subquery())).one()
    rows = session.exec(stmt.limit(paging.limit).offset(paging.offset)).all()
    return rows, total


# --------------------------------------------------------------------------------------------
# Loading with scoping: a unit's staff never learn of other units' events
# --------------------------------------------------------------------------------------------


def _event_not_found(event_id: int) -> NotFound:
    return NotFound("event_not_found", f"活动 {event_id} 不存在", f"event {event_id} not found")


def load_event(session: Session, actor: Actor, event_id: int, *, lock: bool = False) -> Event:
    """An event the caller may see; locked FOR UPDATE on PostgreSQL when about to be changed.

    Its unit's name comes in the same query (kept in `session.info`), so answering with the
    event after the commit needs no second round trip.
    """
    stmt = (
        select(Event, Unit.name)
        .join(Unit, Unit.id == Event.unit_id)  # type: ignore[arg-type]
        .where(Event.id == event_id)
    )
    if lock:
        stmt = stmt.with_for_update(of=Event)
    row = session.exec(stmt).first()
    if row is None or not actor.may_see_unit(row[0].unit_id):
        raise _event_not_found(event_id)
    event, unit_name = row
    session.info.setdefault("unit_names", {})[event.unit_id] = unit_name
    return event


def load_event_for_write(session: Session, actor: Actor, event_id: int) -> Event:
    """As load_event, locked, and refused to read-only accounts."""
    event = load_event(session, actor, event_id, lock=True)
    actor.require_write()
    return event


def event_out(event: Event, unit_name: str, actor: Actor) -> EventOut:
    """The API view of an event, with the moves this caller may try next."""
    return EventOut.model_validate(
        {
            **event.model_dump(),
            "unit_name": unit_name,
            "state_label": flow.STATE_LABELS_ZH.get(event.state, event.state),
            "allowed_triggers": flow.allowed_triggers(event.state, actor),
        }
    )


def _unit_name(session: Session, unit_id: int) -> str:
    known = session.info.get("unit_names", {})
    if unit_id in known:
        return known[unit_id]  # type: ignore[no-any-return]
    unit = session.get(Unit, unit_id)
    return unit.name if unit else ""


def _get_or_404(session: Session, model: type[T], obj_id: int, code: str, zh: str, en: str) -> T:
    obj = session.get(model, obj_id)
    if obj is None:
        raise NotFound(code, f"{zh} {obj_id} 不存在", f"{en} {obj_id} not found")
    return obj


# --------------------------------------------------------------------------------------------
# Error handling: one body shape everywhere
# --------------------------------------------------------------------------------------------


def _error(
    status: int,
    code: str,
    zh: str,
    en: str,
    details: dict[str, Any] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "code": code,
        "message": zh,
        "message_en": en,
        "details": details or {},
        **extra,
    }
    return JSONResponse(status_code=status, content={"error": body})


def _field_errors(errors: Sequence[Any], prefix: tuple[str, ...] = ()) -> JSONResponse:
    fields = [
        {
            "field": ".".join(str(p) for p in (*prefix, *e["loc"])),
            "problem": e["msg"],
            "type": e["type"],
        }
        for e in errors
    ]
    names = "、".join(f["field"] for f in fields)
    return _error(
        422,
        "validation_error",
        f"请求数据无效：{names}",
        "invalid request data: " + ", ".join(f"{f['field']} ({f['problem']})" for f in fields),
        {"fields": fields},
    )


def install_error_handlers(app: FastAPI) -> None:
    """Map domain and framework errors to the shared error body."""

    @app.exception_handler(MoveRefused)
    async def _refused(_: Request, exc: MoveRefused) -> JSONResponse:
        MOVES.labels(exc.details.get("trigger", "unknown"), "refused").inc()
        return _error(
            exc.status,
            exc.code,
            exc.message_zh,
            exc.message_en,
            exc.details,
            violations=[v.as_dict() for v in exc.violations],
            allowed_triggers=exc.allowed,
        )

    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        response = _error(exc.status, exc.code, exc.message_zh, exc.message_en, exc.details)
        if headers:
            response.headers.update(headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _field_errors(exc.errors())

    @app.exception_handler(ValidationError)
    async def _invalid_move_data(_: Request, exc: ValidationError) -> JSONResponse:
        # Move data is validated inside the workflow, against the trigger's own schema.
        return _field_errors(exc.errors(), ("body", "data"))

    @app.exception_handler(StaleDataError)
    async def _stale(_: Request, exc: StaleDataError) -> JSONResponse:
        return _error(
            409,
            "stale_version",
            "数据已被他人同时修改，请刷新后重试",
            "the record was changed concurrently; reload and retry",
        )

    @app.exception_handler(OperationalError)
    async def _database_down(_: Request, exc: OperationalError) -> JSONResponse:
        if getattr(exc.orig, "sqlstate", None) in ("40001", "40P01"):
            # Serialization failure or deadlock: nothing was written; the client may retry.
            return _error(
                409,
                "concurrent_update",
                "数据正被同时修改，本次操作未生效，请重试",
                "a concurrent change conflicted; nothing was written, retry",
            )
        # The database is unreachable (stopped, restarting, network): say so, don't 500.
        log.warning("database_unavailable", error=str(exc.orig).splitlines()[0] if exc.orig else "")
        response = _error(
            503,
            "database_unavailable",
            "数据库暂时不可用，请稍后重试",
            "the database is temporarily unavailable; retry shortly",
        )
        response.headers["Retry-After"] = "5"
        return response

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        log.warning("integrity_error", error=str(exc.orig))
        return _error(
            409,
            "integrity_conflict",
            "数据冲突：与已有记录重复或引用了不存在的记录",
            "conflict: duplicates an existing record or refers to a missing one",
        )


# --------------------------------------------------------------------------------------------
# The app
# --------------------------------------------------------------------------------------------


def create_app(
    settings: Settings | None = None,
    engine: Engine | None = None,
    clock: Clock | None = None,
    broker: dramatiq.Broker | None = None,
) -> FastAPI:
    """Build the FastAPI app around an engine, a clock and a broker (injectable for tests)."""
    settings = settings or get_settings()
    app = FastAPI(
        title="政府开放日 Open Day service",
        version="0.1.0",
        description="Runs a district's 政府开放日 campaign: events, invitees, feedback, "
        "summaries, spot checks. Errors: `{error: {code, message, message_en, details}}`.",
        responses={
            401: {"model": ErrorOut},
            403: {"model": ErrorOut},
            404: {"model": ErrorOut},
            409: {"model": ErrorOut},
            422: {"model": ErrorOut},
        },
    )
    app.state.settings = settings
    app.state.engine = engine or make_engine(settings.database_url)
    app.state.clock = clock or clock_from_setting(settings.clock_start)
    app.state.broker = broker or make_broker(settings)
    install_error_handlers(app)

    app.state.metrics = StateCollector(app.state.engine, app.state.clock, app.state.broker)

    @app.middleware("http")
    async def request_id(request: Request, call_next: Any) -> Response:
        rid = request.headers.get("x-request-id") or uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=rid)
        started = time.perf_counter()
        response: Response = await call_next(request)
        response.headers["X-Request-ID"] = rid
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        REQUESTS.labels(template, request.method, str(response.status_code)).inc()
        REQUEST_SECONDS.labels(template, request.method).observe(time.perf_counter() - started)
        return response

    _routes(app)
    return app


def _routes(app: FastAPI) -> None:  # noqa: C901 - one place that lists every route
    v1 = "/api/v1"

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    def readyz(request: Request) -> JSONResponse:
        """The database and the message broker answer."""
        try:
            with request.app.state.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - any failure means not ready
            log.warning("readyz_database_unreachable", error=str(exc))
            return _error(
                503, "database_unavailable", "数据库不可用", "the database is unreachable"
            )
        if not broker_reachable(request.app.state.broker):
            return _error(
                503, "broker_unavailable", "消息队列不可用", "the message broker is unreachable"
            )
        return JSONResponse({"status": "ok", "database": "ok", "broker": "ok"})

    @app.get("/metrics", tags=["ops"], response_class=Response)
    def metrics(request: Request) -> Response:
        """Prometheus metrics: requests, moves, timers due, notifications, queue depth."""
        return Response(render(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)

    # ---- accounts --------------------------------------------------------------------------

    @app.post(f"{v1}/auth/login", tags=["accounts"])
    def login(body: LoginIn, session: SessionDep, clock: ClockDep, request: Request) -> LoginOut:
        """Exchange a username and password for a session token."""
        user = verify_login(session, body.username, body.password)
        now = clock.now()
        lifetime = timedelta(hours=request.app.state.settings.session_hours)
        token = issue_token(session, user, kind="session", now=now, lifetime=lifetime)
        session.commit()
        return LoginOut(token=token, expires_at=now + lifetime, user=UserOut.model_validate(user))

    @app.post(f"{v1}/auth/logout", status_code=204, tags=["accounts"])
    def logout(
        actor: ActorDep,
        session: SessionDep,
        clock: ClockDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Response:
        """Revoke the token used for this request."""
        assert credentials is not None
        revoke_token(session, credentials.credentials, clock.now())
        session.commit()
        return Response(status_code=204)

    @app.get(f"{v1}/me", tags=["accounts"])
    def me(actor: ActorDep, session: SessionDep) -> UserOut:
        """Who the token belongs to."""
        return UserOut.model_validate(session.get(User, actor.id))

    @app.patch(f"{v1}/me", tags=["accounts"])
    def patch_me(body: MePatch, actor: ActorDep, session: SessionDep) -> UserOut:
        """Update one's own name or e-mail (supervisors get level-2 escalations there)."""
        user = session.get(User, actor.id)
        assert user is not None
        for key, value in body.model_dump(exclude_unset=True).items():
            setattr(user, key, value)
        session.commit()
        return UserOut.model_validate(user)

    # ---- campaigns -------------------------------------------------------------------------

    def campaign_out(c: Campaign) -> CampaignOut:
        return CampaignOut.model_validate({**c.model_dump(), "rules": CampaignRules.of(c.rules)})

    @app.get(f"{v1}/campaigns", tags=["campaigns"])
    def list_campaigns(actor: ActorDep, session: SessionDep, pg: PagingDep) -> Page[CampaignOut]:
        """Every campaign, newest first."""
        rows, total = _page(session, select(Campaign).order_by(col(Campaign.id).desc()), pg)
        return Page(items=[campaign_out(c) for c in rows], total=total, **pg.model_dump())

    @app.post(f"{v1}/campaigns", status_code=201, tags=["campaigns"])
    def create_campaign(
        body: CampaignIn, actor: ActorDep, session: SessionDep, clock: ClockDep
    ) -> CampaignOut:
        """Create a campaign (supervisors and admins)."""
        actor.require_supervisor()
        _check_window(body.starts_on, body.ends_on)
        if session.exec(select(Campaign).where(Campaign.doc_number == body.doc_number)).first():
            raise Conflict(
                "campaign_exists",
                f"文号“{body.doc_number}”的活动已存在",
                f"a campaign with document number '{body.doc_number}' exists",
            )
        campaign = Campaign(**body.model_dump(exclude={"rules"}), created_at=clock.now())
        campaign.rules = body.rules.model_dump()
        session.add(campaign)
        session.commit()
        return campaign_out(campaign)

    @app.get(f"{v1}/campaigns/{{campaign_id}}", tags=["campaigns"])
    def get_campaign(campaign_id: int, actor: ActorDep, session: SessionDep) -> CampaignOut:
        """One campaign with its rules."""
        return campaign_out(
            _get_or_404(session, Campaign, campaign_id, "campaign_not_found", "活动", "campaign")
        )

    @app.patch(f"{v1}/campaigns/{{campaign_id}}", tags=["campaigns"])
    def patch_campaign(
        campaign_id: int, body: CampaignPatch, actor: ActorDep, session: SessionDep
    ) -> CampaignOut:
        """Change a campaign's title, window or rules (supervisors and admins)."""
        actor.require_supervisor()
        campaign = _get_or_404(
            session, Campaign, campaign_id, "campaign_not_found", "活动", "campaign"
        )
        changes = body.model_dump(exclude_unset=True)
        if "rules" in changes:
            merged = {**CampaignRules.of(campaign.rules).model_dump(), **changes.pop("rules")}
            try:
                rules = CampaignRules.model_validate(merged)
            except ValidationError as exc:
                return _field_errors(exc.errors(), ("body", "rules"))  # type: ignore[return-value]
            campaign.rules = rules.model_dump()
        for key, value in changes.items():
            setattr(campaign, key, value)
        _check_window(campaign.starts_on, campaign.ends_on)
        session.commit()
        return campaign_out(campaign)

    @app.post(
        f"{v1}/campaigns/{{campaign_id}}/schedule-imports",
        tags=["campaigns"],
        responses={422: {"model": ErrorOut, "description": "errors, or warnings not accepted"}},
    )
    def import_schedule(
        campaign_id: int,
        file: Annotated[UploadFile, File(description=".docx, .xlsx, .csv or .txt schedule table")],
        actor: ActorDep,
        session: SessionDep,
        clock: ClockDep,
        request: Request,
        dry_run: bool = False,
        accept_warnings: bool = False,
    ) -> JSONResponse:
        """Import a schedule table into a campaign, all or nothing (supervisors and admins).

        Answers the import report: every planned event and every row-level issue. A dry run
        writes nothing; otherwise errors (or warnings not accepted) answer 422 with the report
        and nothing is written.
        """
        actor.require_supervisor()
        campaign = _get_or_404(
            session, Campaign, campaign_id, "campaign_not_found", "活动", "campaign"
        )
        settings: Settings = request.app.state.settings
        data = file.file.read(settings.upload_max_bytes + 1)
        if len(data) > settings.upload_max_bytes:
            raise DomainError(
                "file_too_large",
                f"文件超过 {settings.upload_max_bytes // (1024 * 1024)} MB 上限",
                f"the file exceeds the {settings.upload_max_bytes} byte limit",
                status=413,
            )
        try:
            table = read_table(data, file.filename or "upload")
        except TableError as exc:
            raise DomainError(exc.code, exc.message_zh, exc.message_en, status=422) from exc
        report = plan_import(session, campaign, table)
        report.dry_run = dry_run
        if dry_run:
            return JSONResponse(jsonable_encoder(report.as_dict()))
        try:
            apply_import(
                session,
                campaign,
                report,
                accept_warnings=accept_warnings,
                actor=actor,
                now=clock.now(),
            )
        except ImportRefused as exc:
            session.rollback()
            return _error(
                exc.status,
                exc.code,
                exc.message_zh,
                exc.message_en,
                report=jsonable_encoder(report.as_dict()),
            )
        session.commit()
        log.info(
            "schedule_imported",
            campaign_id=campaign_id,
            created_events=report.created_events,
            created_units=report.created_units,
        )
        return JSONResponse(jsonable_encoder(report.as_dict()), status_code=201)

    # ---- units -----------------------------------------------------------------------------

    @app.get(f"{v1}/units", tags=["units"])
    def list_units(
        actor: ActorDep,
        session: SessionDep,
        pg: PagingDep,
        kind: UnitKind | None = None,
        name: Annotated[str | None, Query(max_length=100)] = None,
    ) -> Page[UnitOut]:
        """Units, optionally filtered by kind or a part of the name."""
        stmt = select(Unit).order_by(col(Unit.id))
        if kind:
            stmt = stmt.where(Unit.kind == kind)
        if name:
            stmt = stmt.where(col(Unit.name).contains(name))
        rows, total = _page(session, stmt, pg)
        return Page(items=[UnitOut.model_validate(u) for u in rows], total=total, **pg.model_dump())

    @app.post(f"{v1}/units", status_code=201, tags=["units"])
    def create_unit(body: UnitIn, actor: ActorDep, session: SessionDep, clock: ClockDep) -> UnitOut:
        """Create a unit (supervisors and admins)."""
        actor.require_supervisor()
        if session.exec(select(Unit).where(Unit.name == body.name)).first():
            raise Conflict("unit_exists", f"单位“{body.name}”已存在", f"unit '{body.name}' exists")
        unit = Unit(**body.model_dump(), created_at=clock.now())
        session.add(unit)
        session.commit()
        return UnitOut.model_validate(unit)

    @app.get(f"{v1}/units/{{unit_id}}", tags=["units"])
    def get_unit(unit_id: int, actor: ActorDep, session: SessionDep) -> UnitOut:
        """One unit with its contacts."""
        return UnitOut.model_validate(
            _get_or_404(session, Unit, unit_id, "unit_not_found", "单位", "unit")
        )

    @app.patch(f"{v1}/units/{{unit_id}}", tags=["units"])
    def patch_unit(unit_id: int, body: UnitPatch, actor: ActorDep, session: SessionDep) -> UnitOut:
        """Update a unit's contacts (its own staff, supervisors, admins)."""
        actor.require_write()
        unit = _get_or_404(session, Unit, unit_id, "unit_not_found", "单位", "unit")
        if not actor.sees_all_units and actor.unit_id != unit_id:
            raise Forbidden(
                "other_unit", "不能修改其他单位的信息", "cannot change another unit's details"
            )
        changes = body.model_dump(exclude_unset=True)
        if "kind" in changes and not actor.is_supervisor:
            actor.require_supervisor()
        for key, value in changes.items():
            setattr(unit, key, value)
        session.commit()
        return UnitOut.model_validate(unit)

    # ---- events ----------------------------------------------------------------------------

    @app.get(f"{v1}/events", tags=["events"])
    def list_events(
        actor: ActorDep,
        session: SessionDep,
        pg: PagingDep,
        campaign_id: int | None = None,
        unit_id: int | None = None,
        state: Annotated[list[EventState] | None, Query()] = None,
        date_from: Annotated[
            date | None, Query(description="events whose window ends on or after")
        ] = None,
        date_to: Annotated[
            date | None, Query(description="events whose window starts on or before")
        ] = None,
    ) -> Page[EventOut]:
        """Events the caller may see, filtered by campaign, unit, state(s) and date range."""
        stmt = select(Event, Unit.name).join(Unit, Unit.id == Event.unit_id)  # type: ignore[arg-type]
        if not actor.sees_all_units:
            stmt = stmt.where(Event.unit_id == actor.unit_id)
        if campaign_id is not None:
            stmt = stmt.where(Event.campaign_id == campaign_id)
        if unit_id is not None:
            stmt = stmt.where(Event.unit_id == unit_id)
        if state:
            stmt = stmt.where(col(Event.state).in_([s.value for s in state]))
        if date_from:
            stmt = stmt.where(Event.date_latest >= date_from)
        if date_to:
            stmt = stmt.where(Event.date_earliest <= date_to)
        stmt = stmt.order_by(col(Event.date_earliest), col(Event.id))
        rows, total = _page(session, stmt, pg)
        return Page(
            items=[event_out(e, name, actor) for e, name in rows], total=total, **pg.model_dump()
        )

    @app.post(f"{v1}/events", status_code=201, tags=["events"])
    def create_event(
        body: EventIn, actor: ActorDep, session: SessionDep, clock: ClockDep
    ) -> EventOut:
        """Plan an event (unit staff for their own unit; supervisors for any)."""
        actor.require_write()
        if not actor.may_see_unit(body.unit_id):
            raise Forbidden(
                "other_unit",
                "不能为其他单位创建活动",
                "cannot create an event for another unit",
            )
        campaign = _get_or_404(
            session, Campaign, body.campaign_id, "campaign_not_found", "活动", "campaign"
        )
        unit = _get_or_404(session, Unit, body.unit_id, "unit_not_found", "单位", "unit")
        earliest, latest = _window_of(body.date, body.earliest, body.latest)
        event = flow.create_event(
            session,
            campaign=campaign,
            unit_id=unit.id,  # type: ignore[arg-type]
            theme=body.theme,
            earliest=earliest,
            latest=latest,
            actor=actor,
            now=clock.now(),
            date_text=body.date_text,
            tentative=body.tentative,
            location=body.location,
            forms=[f.value for f in body.forms],
            seq=body.seq,
        )
        session.commit()
        return event_out(event, unit.name, actor)

    @app.get(f"{v1}/events/{{event_id}}", tags=["events"])
    def get_event(event_id: int, actor: ActorDep, session: SessionDep) -> EventOut:
        """One event, its state, version and the moves allowed next."""
        event = load_event(session, actor, event_id)
        return event_out(event, _unit_name(session, event.unit_id), actor)

    @app.patch(f"{v1}/events/{{event_id}}", tags=["events"])
    def patch_event(
        event_id: int, body: EventPatch, actor: ActorDep, session: SessionDep, clock: ClockDep
    ) -> EventOut:
        """Edit theme, location or forms (dates change only by the reschedule move)."""
        event = load_event_for_write(session, actor, event_id)
        _require_version(event, body.expected_version)
        changes = body.model_dump(exclude_unset=True, exclude={"expected_version"})
        if "forms" in changes:
            changes["forms"] = [EventForm(f).value for f in changes["forms"]]
        for key, value in changes.items():
            setattr(event, key, value)
        event.updated_at = clock.now()
        session.commit()
        return event_out(event, _unit_name(session, event.unit_id), actor)

    @app.post(
        f"{v1}/events/{{event_id}}/transitions",
        tags=["events"],
        responses={409: {"model": ErrorOut, "description": "move refused or stale version"}},
    )
    def transition(
        event_id: int, body: TransitionIn, actor: ActorDep, session: SessionDep, clock: ClockDep
    ) -> TransitionOut:
        """Move an event: invite, hold, collect_feedback, submit_summary, spot_check, reschedule,
        cancel. A refused move answers 409 (403 for role rules) naming every broken rule and the
        moves allowed now; nothing is written."""
        event = load_event(session, actor, event_id, lock=True)
        entry = flow.fire(
            session,
            event,
            body.trigger,
            expected_version=body.expected_version,
            actor=actor,
            now=clock.now(),
            reason=body.reason,
            data=body.data,
        )
        session.commit()
        MOVES.labels(entry.trigger, "ok").inc()
        log.info(
            "event_moved",
            event_id=event.id,
            trigger=entry.trigger,
            from_state=entry.from_state,
            to_state=entry.to_state,
            version=entry.version,
        )
        return TransitionOut(
            event=event_out(event, _unit_name(session, event.unit_id), actor),
            move=HistoryOut.model_validate(entry),
        )

    @app.get(f"{v1}/events/{{event_id}}/history", tags=["events"])
    def history(event_id: int, actor: ActorDep, session: SessionDep) -> list[HistoryOut]:
        """Every move of the event, oldest first."""
        load_event(session, actor, event_id)
        rows = session.exec(
            select(TransitionLog)
            .where(TransitionLog.event_id == event_id)
            .order_by(col(TransitionLog.id))
        ).all()
        return [HistoryOut.model_validate(r) for r in rows]

    # ---- invitees --------------------------------------------------------------------------

    def load_invitee(session: Session, event: Event, invitee_id: int) -> Invitee:
        invitee = session.get(Invitee, invitee_id)
        if invitee is None or invitee.event_id != event.id:
            raise NotFound(
                "invitee_not_found",
                f"受邀人员 {invitee_id} 不存在",
                f"invitee {invitee_id} not found",
            )
        return invitee

    @app.get(f"{v1}/events/{{event_id}}/invitees", tags=["invitees"])
    def list_invitees(
        event_id: int, actor: ActorDep, session: SessionDep, pg: PagingDep
    ) -> Page[InviteeOut]:
        """The invitee list of an event."""
        load_event(session, actor, event_id)
        stmt = select(Invitee).where(Invitee.event_id == event_id).order_by(col(Invitee.id))
        rows, total = _page(session, stmt, pg)
        return Page(
            items=[InviteeOut.model_validate(i) for i in rows], total=total, **pg.model_dump()
        )

    @app.post(f"{v1}/events/{{event_id}}/invitees", status_code=201, tags=["invitees"])
    def add_invitees(
        event_id: int,
        body: list[InviteeIn] | InviteeIn,
        actor: ActorDep,
        session: SessionDep,
        clock: ClockDep,
    ) -> list[InviteeOut]:
        """Add one invitee, or a list of them at once (all or nothing)."""
        event = load_event_for_write(session, actor, event_id)
        flow.require_invitees_editable(event)
        items = body if isinstance(body, list) else [body]
        added = []
        for index, item in enumerate(items):
            try:
                flow.check_invitee_fields(item.category, item.invitation, item.targeted_kind)
            except DomainError as exc:
                exc.details["index"] = index
                raise
            invitee = Invitee(**item.model_dump(), event_id=event_id, created_at=clock.now())
            session.add(invitee)
            added.append(invitee)
        session.commit()
        return [InviteeOut.model_validate(i) for i in added]

    @app.patch(f"{v1}/events/{{event_id}}/invitees/{{invitee_id}}", tags=["invitees"])
    def patch_invitee(
        event_id: int, invitee_id: int, body: InviteePatch, actor: ActorDep, session: SessionDep
    ) -> InviteeOut:
        """Correct an invitee or record their attendance (attendance once invitations are out)."""
        event = load_event_for_write(session, actor, event_id)
        flow.require_invitees_editable(event)
        invitee = load_invitee(session, event, invitee_id)
        changes = body.model_dump(exclude_unset=True)
        if "attended" in changes and event.state != EventState.invited:
            raise Conflict(
                "attendance_not_open",
                "发出邀请后才能登记出席情况",
                "attendance can be recorded only once invitations are out (state invited)",
            )
        for key, value in changes.items():
            setattr(invitee, key, value)
        flow.check_invitee_fields(invitee.category, invitee.invitation, invitee.targeted_kind)
        session.commit()
        return InviteeOut.model_validate(invitee)

    @app.delete(
        f"{v1}/events/{{event_id}}/invitees/{{invitee_id}}", status_code=204, tags=["invitees"]
    )
    def delete_invitee(
        event_id: int, invitee_id: int, actor: ActorDep, session: SessionDep
    ) -> Response:
        """Remove an invitee from the list (before the event is held)."""
        event = load_event_for_write(session, actor, event_id)
        flow.require_invitees_editable(event)
        session.delete(load_invitee(session, event, invitee_id))
        session.commit()
        return Response(status_code=204)

    # ---- feedback --------------------------------------------------------------------------

    @app.get(f"{v1}/events/{{event_id}}/feedback", tags=["feedback"])
    def list_feedback(
        event_id: int, actor: ActorDep, session: SessionDep, pg: PagingDep
    ) -> Page[FeedbackOut]:
        """The opinions collected at an event."""
        load_event(session, actor, event_id)
        stmt = (
            select(FeedbackItem)
            .where(FeedbackItem.event_id == event_id)
            .order_by(col(FeedbackItem.id))
        )
        rows, total = _page(session, stmt, pg)
        return Page(
            items=[FeedbackOut.model_validate(f) for f in rows], total=total, **pg.model_dump()
        )

    @app.post(f"{v1}/events/{{event_id}}/feedback", status_code=201, tags=["feedback"])
    def add_feedback(
        event_id: int, body: FeedbackIn, actor: ActorDep, session: SessionDep, clock: ClockDep
    ) -> FeedbackOut:
        """Record an opinion raised at a held event (before the collect_feedback move)."""
        event = load_event_for_write(session, actor, event_id)
        if event.state != EventState.held:
            raise Conflict(
                "feedback_not_open",
                f"活动状态为“{flow.STATE_LABELS_ZH[event.state]}”，只有已开展、尚未完成意见收集的活动"
                "可以登记意见",
                "opinions are recorded while the event is held and before collect_feedback",
            )
        if body.raised_by_invitee_id is not None:
            load_invitee(session, event, body.raised_by_invitee_id)
        now = clock.now()
        item = FeedbackItem(
            **body.model_dump(),
            event_id=event_id,
            unit_id=event.unit_id,
            created_at=now,
            updated_at=now,
        )
        session.add(item)
        session.commit()
        return FeedbackOut.model_validate(item)

    # ---- summary ---------------------------------------------------------------------------

    def summary_out(session: Session, event_id: int) -> SummaryOut:
        summary = session.exec(select(Summary).where(Summary.event_id == event_id)).first()
        attachments = session.exec(
            select(Attachment).where(Attachment.event_id == event_id).order_by(col(Attachment.id))
        ).all()
        return SummaryOut(
            event_id=event_id,
            text=summary.text if summary else "",
            submitted_at=summary.submitted_at if summary else None,
            attachments=[AttachmentOut.model_validate(a) for a in attachments],
        )

    def require_summary_open(event: Event) -> None:
        if event.state not in (EventState.held, EventState.feedback_collected):
            raise Conflict(
                "summary_not_open",
                f"活动状态为“{flow.STATE_LABELS_ZH[event.state]}”，总结不能修改",
                f"the summary cannot change in state '{event.state}'",
            )

    @app.get(f"{v1}/events/{{event_id}}/summary", tags=["summary"])
    def get_summary(event_id: int, actor: ActorDep, session: SessionDep) -> SummaryOut:
        """The event's summary and attachments (a draft until submit_summary)."""
        load_event(session, actor, event_id)
        return summary_out(session, event_id)

    @app.put(f"{v1}/events/{{event_id}}/summary", tags=["summary"])
    def put_summary(
        event_id: int, body: SummaryIn, actor: ActorDep, session: SessionDep, clock: ClockDep
    ) -> SummaryOut:
        """Write the summary draft (after the event is held, before it is submitted)."""
        event = load_event_for_write(session, actor, event_id)
        require_summary_open(event)
        summary = session.exec(select(Summary).where(Summary.event_id == event_id)).first()
        if summary is None:
            summary = Summary(event_id=event_id, updated_at=clock.now())
            session.add(summary)
        summary.text = body.text
        summary.updated_at = clock.now()
        session.commit()
        return summary_out(session, event_id)

    @app.post(f"{v1}/events/{{event_id}}/summary/attachments", status_code=201, tags=["summary"])
    def upload_attachment(
        event_id: int,
        file: Annotated[UploadFile, File(description="photo or document (图文资料)")],
        actor: ActorDep,
        session: SessionDep,
        clock: ClockDep,
        request: Request,
    ) -> AttachmentOut:
        """Attach a photo or file to the summary."""
        event = load_event_for_write(session, actor, event_id)
        require_summary_open(event)
        settings: Settings = request.app.state.settings
        data = file.file.read(settings.upload_max_bytes + 1)
        if len(data) > settings.upload_max_bytes:
            raise DomainError(
                "attachment_too_large",
                f"附件超过 {settings.upload_max_bytes // (1024 * 1024)} MB 上限",
                f"the attachment exceeds the {settings.upload_max_bytes} byte limit",
                status=413,
            )
        if not data:
            raise DomainError("attachment_empty", "附件为空", "the attachment is empty", status=422)
        digest = hashlib.sha256(data).hexdigest()
        key = f"{digest[:2]}/{digest}"
        path = settings.upload_dir / key
        if not path.exists():  # content-addressed: the same bytes are stored once
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".part")
            tmp.write_bytes(data)
            tmp.replace(path)
        content_type = file.content_type or "application/octet-stream"
        attachment = Attachment(
            event_id=event_id,
            kind="photo" if content_type.startswith("image/") else "file",
            filename=_safe_filename(file.filename or "attachment"),
            content_type=content_type,
            size=len(data),
            sha256=digest,
            storage_key=key,
            uploaded_by=actor.id,
            created_at=clock.now(),
        )
        session.add(attachment)
        session.commit()
        return AttachmentOut.model_validate(attachment)

    @app.get(
        f"{v1}/events/{{event_id}}/summary/attachments/{{attachment_id}}",
        tags=["summary"],
        response_class=FileResponse,
    )
    def download_attachment(
        event_id: int, attachment_id: int, actor: ActorDep, session: SessionDep, request: Request
    ) -> FileResponse:
        """Download an attachment."""
        load_event(session, actor, event_id)
        attachment = session.get(Attachment, attachment_id)
        if attachment is None or attachment.event_id != event_id:
            raise NotFound(
                "attachment_not_found",
                f"附件 {attachment_id} 不存在",
                f"attachment {attachment_id} not found",
            )
        return FileResponse(
            request.app.state.settings.upload_dir / attachment.storage_key,
            media_type=attachment.content_type,
            filename=attachment.filename,
        )

    @app.delete(
        f"{v1}/events/{{event_id}}/summary/attachments/{{attachment_id}}",
        status_code=204,
        tags=["summary"],
    )
    def delete_attachment(
        event_id: int, attachment_id: int, actor: ActorDep, session: SessionDep
    ) -> Response:
        """Remove an attachment before the summary is submitted."""
        event = load_event_for_write(session, actor, event_id)
        require_summary_open(event)
        attachment = session.get(Attachment, attachment_id)
        if attachment is None or attachment.event_id != event_id:
            raise NotFound(
                "attachment_not_found",
                f"附件 {attachment_id} 不存在",
                f"attachment {attachment_id} not found",
            )
        session.delete(attachment)
        session.commit()
        return Response(status_code=204)

    # ---- feedback items --------------------------------------------------------------------

    def load_item(
        session: Session, actor: Actor, item_id: int, *, lock: bool = False
    ) -> FeedbackItem:
        stmt = select(FeedbackItem).where(FeedbackItem.id == item_id)
        if lock:
            stmt = stmt.with_for_update()
        item = session.exec(stmt).first()
        if item is not None:
            event = session.get(Event, item.event_id)
            if event is not None and actor.may_see_unit(event.unit_id):
                return item
        raise NotFound(
            "feedback_not_found", f"意见建议 {item_id} 不存在", f"feedback item {item_id} not found"
        )

    def item_detail(session: Session, item: FeedbackItem, actor: Actor) -> FeedbackDetailOut:
        timers = session.exec(
            select(Timer)
            .where(Timer.subject_type == "feedback_item", Timer.subject_id == item.id)
            .order_by(col(Timer.due_at))
        ).all()
        return FeedbackDetailOut.model_validate(
            {
                **item.model_dump(),
                "allowed_triggers": feedback_flow.allowed_triggers(item.state, actor),
                "timers": [TimerOut.model_validate(t) for t in timers],
            }
        )

    @app.get(f"{v1}/feedback/{{item_id}}", tags=["feedback"])
    def get_feedback(item_id: int, actor: ActorDep, session: SessionDep) -> FeedbackDetailOut:
        """One opinion: its answer deadline, escalation level and timers."""
        return item_detail(session, load_item(session, actor, item_id), actor)

    @app.post(f"{v1}/feedback/{{item_id}}/transitions", tags=["feedback"])
    def feedback_transition(
        item_id: int,
        body: FeedbackTransitionIn,
        actor: ActorDep,
        session: SessionDep,
        clock: ClockDep,
    ) -> FeedbackDetailOut:
        """Move an opinion: assign (data.assignee), answer (data.answer), close."""
        item = load_item(session, actor, item_id, lock=True)
        feedback_flow.fire(
            session,
            item,
            body.trigger,
            actor=actor,
            now=clock.now(),
            expected_version=body.expected_version,
            data=body.data,
        )
        session.commit()
        return item_detail(session, item, actor)

    # ---- deadlines: overdue list, notifications, working-day calendar ----------------------

    @app.get(f"{v1}/overdue", tags=["deadlines"])
    def overdue(
        actor: ActorDep,
        session: SessionDep,
        clock: ClockDep,
        pg: PagingDep,
        due_within_days: Annotated[int | None, Query(ge=0, le=60)] = None,
        unit_id: int | None = None,
        kind: Annotated[str | None, Query(pattern="^(feedback_answer|summary|event_hold)$")] = None,
    ) -> Page[OverdueOut]:
        """What is overdue or falls due soon, most late first (default window: the campaign's
        due_soon_days, 3)."""
        scope = unit_id
        if not actor.sees_all_units:
            if unit_id is not None and unit_id != actor.unit_id:
                return Page(items=[], total=0, **pg.model_dump())
            scope = actor.unit_id
        window = 3 if due_within_days is None else due_within_days
        rows, total = overdue_list.page(
            session, clock.now(), window, scope, kind, pg.limit, pg.offset
        )
        return Page(
            items=[OverdueOut.model_validate(r) for r in rows], total=total, **pg.model_dump()
        )

    @app.get(f"{v1}/notifications", tags=["deadlines"])
    def list_notifications(
        actor: ActorDep,
        session: SessionDep,
        pg: PagingDep,
        state: Annotated[str | None, Query(pattern="^(pending|sending|sent|failed)$")] = None,
        event_id: int | None = None,
    ) -> Page[NotificationOut]:
        """Reminders and escalations owed and sent; `state=failed` shows what could not be
        delivered."""
        stmt = select(Notification).order_by(col(Notification.id).desc())
        if not actor.sees_all_units:
            stmt = stmt.where(Notification.unit_id == actor.unit_id)
        if state:
            stmt = stmt.where(Notification.state == state)
        if event_id is not None:
            stmt = stmt.where(Notification.event_id == event_id)
        rows, total = _page(session, stmt, pg)
        return Page(
            items=[NotificationOut.model_validate(n) for n in rows],
            total=total,
            **pg.model_dump(),
        )

    @app.post(f"{v1}/notifications/{{notification_id}}/retry", tags=["deadlines"])
    def retry_notification(
        notification_id: int, actor: ActorDep, session: SessionDep, clock: ClockDep
    ) -> NotificationOut:
        """Send a failed notification again (supervisors), e.g. after fixing an address."""
        actor.require_supervisor()
        row = session.exec(
            select(Notification).where(Notification.id == notification_id).with_for_update()
        ).first()
        if row is None:
            raise NotFound(
                "notification_not_found",
                f"通知 {notification_id} 不存在",
                f"notification {notification_id} not found",
            )
        if row.state != "failed":
            raise Conflict(
                "notification_not_failed",
                f"通知状态为 {row.state}，只有发送失败的通知可以重发",
                f"only failed notifications can be retried (this one is {row.state})",
            )
        row.state, row.attempts, row.lease_until = "pending", 0, None
        session.add(OutboxMessage(actor=DELIVER_ACTOR, args=[row.id], created_at=clock.now()))
        wake_schedulers(session)  # the relay picks the message up at once
        session.commit()
        return NotificationOut.model_validate(row)

    @app.post(f"{v1}/calendar", status_code=201, tags=["deadlines"])
    def load_calendar_file(
        file: Annotated[UploadFile, File(description="JSON or YAML working-day arrangement")],
        actor: ActorDep,
        session: SessionDep,
        clock: ClockDep,
    ) -> CalendarLoadOut:
        """Load a newly published year or a local override (admins); open provisional deadlines
        are recomputed and their old and new due dates logged."""
        if actor.role != "admin":
            raise Forbidden("admin_required", "仅管理员可以导入工作日安排", "admins only")
        data = file.file.read(1024 * 1024 + 1)
        if len(data) > 1024 * 1024:
            raise DomainError(
                "file_too_large", "文件超过 1 MB 上限", "the file exceeds 1 MB", status=413
            )
        result = work_calendar.load_file(
            session, data, file.filename or "calendar.json", clock.now(), actor.name
        )
        session.commit()
        return CalendarLoadOut(**result.__dict__)

    @app.get(f"{v1}/calendar/workdays", tags=["deadlines"])
    def count_workdays(
        actor: ActorDep,
        session: SessionDep,
        start: date,
        n: Annotated[int, Query(ge=1, le=1000)],
    ) -> dict[str, Any]:
        """The date N working days after START (counting from the next day)."""
        result = load_calendar(session).add_workdays(start, n)
        return {
            "start": start,
            "n": n,
            "due_on": result.day,
            "provisional": result.provisional,
            "missing_years": list(result.missing_years),
        }

    # ---- spot checks -----------------------------------------------------------------------

    @app.get(f"{v1}/events/{{event_id}}/spot-check", tags=["spot checks"])
    def get_spot_check(event_id: int, actor: ActorDep, session: SessionDep) -> SpotCheckOut:
        """The spot check of an event, once done."""
        load_event(session, actor, event_id)
        check = session.exec(select(SpotCheck).where(SpotCheck.event_id == event_id)).first()
        if check is None:
            raise NotFound(
                "spot_check_not_found",
                f"活动 {event_id} 尚未抽查",
                f"event {event_id} has not been spot-checked",
            )
        return SpotCheckOut.model_validate(check)

    @app.get(f"{v1}/spot-checks", tags=["spot checks"])
    def list_spot_checks(
        actor: ActorDep, session: SessionDep, pg: PagingDep, campaign_id: int | None = None
    ) -> Page[SpotCheckOut]:
        """Spot checks the caller may see, newest first."""
        stmt = select(SpotCheck).join(Event, Event.id == SpotCheck.event_id)  # type: ignore[arg-type]
        if not actor.sees_all_units:
            stmt = stmt.where(Event.unit_id == actor.unit_id)
        if campaign_id is not None:
            stmt = stmt.where(Event.campaign_id == campaign_id)
        rows, total = _page(session, stmt.order_by(col(SpotCheck.id).desc()), pg)
        return Page(
            items=[SpotCheckOut.model_validate(s) for s in rows], total=total, **pg.model_dump()
        )


def _check_window(starts_on: date, ends_on: date) -> None:
    if ends_on < starts_on:
        raise DomainError(
            "campaign_window_reversed",
            f"活动结束日期 {ends_on} 早于开始日期 {starts_on}",
            f"the campaign ends ({ends_on}) before it starts ({starts_on})",
            status=422,
        )


def _window_of(day: date | None, earliest: date | None, latest: date | None) -> tuple[date, date]:
    if day is not None and earliest is None and latest is None:
        return day, day
    if day is None and earliest is not None and latest is not None:
        if latest < earliest:
            raise DomainError(
                "date_window_reversed",
                f"结束日期 {latest} 早于开始日期 {earliest}",
                f"latest date {latest} is before earliest date {earliest}",
                status=422,
            )
        return earliest, latest
    raise DomainError(
        "date_required",
        "请给出活动日期 date，或日期范围 earliest 与 latest",
        "give the event's date, or both earliest and latest",
        status=422,
    )


def _require_version(event: Event, expected: int) -> None:
    if event.version != expected:
        raise Conflict(
            "stale_version",
            f"活动已被他人修改（当前版本 {event.version}），请刷新后重试",
            f"the event changed meanwhile (version {event.version}); reload and retry",
            details={"current_version": event.version, "expected_version": expected},
        )


def _safe_filename(name: str) -> str:
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    return re.sub(r"[\x00-\x1f]", "", name)[:255] or "attachment"


# The module-level app is what uvicorn imports, in every worker process it spawns: configure
# logging here so each of them logs as OPENDAY_LOG_FORMAT / OPENDAY_LOG_LEVEL say.
configure_logging()
app = create_app()
