"""Events: lists, planning, edits, moves and history."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials
from sqlmodel import Session, col, select
from starlette.background import BackgroundTask

from models import Event, EventState, TransitionLog, Unit
from schemas.common import ErrorOut, Page
from schemas.events import (
    EventIn,
    EventOut,
    EventPatch,
    EventTransitionIn,
    HistoryOut,
    TransitionOut,
)
from web import moves
from web.deps import (
    API_PREFIX,
    BEFORE_INVALID,
    ActorDep,
    ClockDep,
    CredentialsDep,
    PagingDep,
    SessionDep,
    authenticate,
    current_actor,
    fetch_page,
)
from web.loaders import load_event, load_event_for_write, load_move_target, unit_name
from workflows.accounts import districts, units
from workflows.accounts.service import note_use
from workflows.campaign import service as campaigns
from workflows.event import history as history_words
from workflows.event import machine as event_machine
from workflows.event import search
from workflows.event import service as event_service
from workflows.kernel.clock import Clock
from workflows.kernel.machine import Workflow
from workflows.kernel.visibility import Actor, other_unit, require_visible, visible

router = APIRouter(prefix=API_PREFIX + "/events", tags=["events"])


def out(event: Event, name: str, actor: Actor) -> EventOut:
    """The API view of an event, with the moves this caller may try next."""
    return EventOut.of(event, name, event_machine.allowed_triggers(event.state, actor))


def check_role_of(workflow: Workflow, body: Any, actor: Actor) -> None:
    """Refuse (403) a move the caller's role alone rules out, by the trigger a body names (a
    parsed JSON body or the validated model); an unknown trigger is the body's 422."""
    trigger = body.get("trigger") if isinstance(body, dict) else getattr(body, "trigger", None)
    if isinstance(trigger, str) and trigger in workflow.move_data:
        workflow.check_role(trigger, actor)


def role_gate(workflow: Workflow) -> Any:
    """A dependency refusing a move the caller's role alone rules out (unknown trigger aside),
    before the move's payload is validated: a viewer or a staffer trying a supervisor's move
    hears 403, not a complaint about the data they should not be sending. It answers the
    caller, so a move route can take its actor from the gate (one dependency fewer to solve).

    The body it reads is the one FastAPI already parsed (Starlette keeps `request.json()`)."""

    async def gate(request: Request, actor: Annotated[Actor, Depends(current_actor)]) -> Actor:
        try:
            body = await request.json()
        except Exception:  # noqa: BLE001 - unreadable bodies are the validator's to explain
            return actor
        check_role_of(workflow, body, actor)
        return actor

    return gate


@router.get("")
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
    q: Annotated[
        str | None, Query(max_length=200, description="text in the event's theme or unit's name")
    ] = None,
) -> Page[EventOut]:
    """Events the caller may see, filtered by campaign, unit, state(s), date range and text."""
    stmt = select(Event, col(Unit.name)).join(Unit, col(Unit.id) == Event.unit_id)
    stmt = visible(stmt, actor, Event.unit_id)
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
    if (text := search.normalize(q)) is not None:
        stmt = stmt.where(search.event_matches(text))
    rows, total = fetch_page(session, stmt.order_by(col(Event.date_earliest), col(Event.id)), pg)
    return pg.page([out(e, name, actor) for e, name in rows], total)


@router.post("", status_code=201)
def create_event(body: EventIn, actor: ActorDep, session: SessionDep, clock: ClockDep) -> EventOut:
    """Plan an event (unit staff for their own unit; supervisors for any)."""
    actor.require_write()
    require_visible(
        actor,
        body.unit_id,
        other_unit("不能为其他单位创建活动", "cannot create an event for another unit"),
    )
    campaign = campaigns.get(session, body.campaign_id, actor)
    unit = units.get(session, body.unit_id, actor)
    earliest, latest = event_service.window_of(body.date, body.earliest, body.latest)
    event = event_service.plan(
        session,
        campaign=campaign,
        unit_id=body.unit_id,
        theme=body.theme,
        earliest=earliest,
        latest=latest,
        actor=actor,
        now=clock.now(),
        override_reason=body.override_reason,
        **body.model_dump(
            include={"date_text", "tentative", "location", "start_time", "end_time", "seq"}
        ),
        forms=[f.value for f in body.forms],
    )
    session.commit()
    return out(event, unit.name, actor)


@router.get("/{event_id}")
def get_event(event_id: int, actor: ActorDep, session: SessionDep) -> EventOut:
    """One event, its state, version and the moves allowed next."""
    event = load_event(session, actor, event_id)
    return out(event, unit_name(session, event.unit_id), actor)


@router.patch("/{event_id}")
def patch_event(
    event_id: int, body: EventPatch, actor: ActorDep, session: SessionDep, clock: ClockDep
) -> EventOut:
    """Edit theme, location or forms (dates change only by the reschedule move)."""
    event = load_event_for_write(session, actor, event_id)
    changes = body.model_dump(exclude_unset=True, exclude={"expected_version"})
    event_service.edit(
        session,
        event,
        changes,
        expected_version=body.expected_version,
        actor=actor,
        now=clock.now(),
    )
    session.commit()
    return out(event, unit_name(session, event.unit_id), actor)


def _role_first(body: Any, actor: Actor) -> None:
    """An event move the caller's role alone rules out: 403."""
    check_role_of(event_machine.WORKFLOW, body, actor)


@router.post(
    "/{event_id}/transitions",
    response_model=TransitionOut,
    responses={409: {"model": ErrorOut, "description": "move refused or stale version"}},
)
async def transition(
    event_id: int,
    body: Annotated[EventTransitionIn, Body()],
    request: Request,
    session: SessionDep,
    credentials: CredentialsDep,
) -> Response:
    """Move an event: invite, hold, collect_feedback, submit_summary, spot_check, reschedule,
    cancel. A refused move answers 409 (403 for role rules) naming every broken rule and the
    moves allowed now; nothing is written."""
    # The caller, the role gate, the move and its answer in one worker thread: each sync
    # dependency would cost a thread hop of its own (web/deps.BEFORE_INVALID keeps 401 and
    # 403 before an invalid body's 422).
    return await anyio.to_thread.run_sync(_move, request, session, credentials, event_id, body)


def _move(
    request: Request,
    session: Session,
    credentials: HTTPAuthorizationCredentials | None,
    event_id: int,
    body: EventTransitionIn,
) -> Response:
    actor, stale = authenticate(request, session, credentials)
    _role_first(body, actor)
    clock: Clock = request.app.state.clock
    target = load_move_target(session, actor, event_id)
    event = target.event
    entry = event_machine.fire(
        session,
        event,
        body.trigger,
        expected_version=body.expected_version,
        actor=actor,
        now=clock.now(),
        reason=body.reason,
        data=body.data,
        campaign=target.campaign,
        calendar_revision=target.calendar_revision,
    )
    session.commit()
    moves.moved(entry, door="api")
    names = history_words.names_for_move(session, entry, actor)  # no query: read with the token
    office = districts.office_for(session, actor, target.campaign.district_id)  # as names
    answer = TransitionOut(
        event=out(event, unit_name(session, event.unit_id), actor),
        move=HistoryOut.of(entry, history_words.in_words(entry, names, office)),
    )
    # Serialised once here (the model was just built and validated): no second validation of
    # the response by the framework on the hot path; the token's last use after the answer.
    later = None
    if stale is not None:
        later = BackgroundTask(note_use, request.app.state.engine, stale, clock.now())
    return Response(answer.model_dump_json(), media_type="application/json", background=later)


BEFORE_INVALID[transition] = _role_first


@router.get("/{event_id}/history")
def history(event_id: int, actor: ActorDep, session: SessionDep) -> list[HistoryOut]:
    """Every move of the event, oldest first: the structured fields and, beside them, the line
    in words as the history page shows it (`at_zh`, `who`, `sentence`)."""
    event = load_event(session, actor, event_id)
    rows = session.exec(
        select(TransitionLog)
        .where(TransitionLog.event_id == event_id)
        .order_by(col(TransitionLog.id))
    ).all()
    names = history_words.display_names(session, rows)
    office = districts.unit_office_for(session, actor, event.unit_id)  # the event's district's
    return [HistoryOut.of(r, history_words.in_words(r, names, office)) for r in rows]
