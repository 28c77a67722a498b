"""Corrections of a recorded hold, and correction requests a supervisor decides."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from sqlmodel import col, select

from models import CorrectionRequest
from schemas.common import Page
from schemas.corrections import (
    CorrectionDecisionIn,
    CorrectionIn,
    CorrectionOut,
    CorrectionRequestIn,
    CorrectionRequestOut,
)
from schemas.events import HistoryOut
from web.deps import API_PREFIX, ActorDep, ClockDep, PagingDep, SessionDep, fetch_page
from web.loaders import load_event, load_event_for_write
from workflows.event.service import require_version
from workflows.kernel.visibility import visible
from workflows.oversight import correction_requests as requests

router = APIRouter(prefix=API_PREFIX, tags=["corrections"])


@router.post("/events/{event_id}/corrections")
def correct(
    event_id: int, body: CorrectionIn, actor: ActorDep, session: SessionDep, clock: ClockDep
) -> CorrectionOut:
    """Correct the hold's attendance, days/forms/leader, or invitee list, with a reason: the
    unit within its correction days, a supervisor any time (else 403: ask instead)."""
    event = load_event_for_write(session, actor, event_id)
    require_version(event, body.expected_version)
    fix = requests.check_payload(body.kind, body.payload)
    line = requests.APPLY[body.kind](session, event, fix, body.reason, actor, clock.now(), {})
    session.commit()
    return CorrectionOut(event_version=event.version, line=HistoryOut.model_validate(line))


@router.post("/events/{event_id}/correction-requests", status_code=201)
def ask(
    event_id: int,
    body: CorrectionRequestIn,
    actor: ActorDep,
    session: SessionDep,
    clock: ClockDep,
) -> CorrectionRequestOut:
    """Ask the district office to correct the record (after the unit's correction days)."""
    event = load_event_for_write(session, actor, event_id)
    row = requests.submit(
        session, event, body.kind, body.payload, body.reason, actor=actor, now=clock.now()
    )
    session.commit()
    return CorrectionRequestOut.model_validate(row)


@router.get("/events/{event_id}/correction-requests")
def of_event(event_id: int, actor: ActorDep, session: SessionDep) -> list[CorrectionRequestOut]:
    """An event's correction requests, newest first."""
    event = load_event(session, actor, event_id)
    return [CorrectionRequestOut.model_validate(r) for r in requests.of_event(session, event)]


@router.get("/correction-requests")
def list_requests(
    actor: ActorDep,
    session: SessionDep,
    pg: PagingDep,
    state: Annotated[Literal["pending", "approved", "refused"] | None, Query()] = None,
) -> Page[CorrectionRequestOut]:
    """Correction requests, newest first (staff: their unit's)."""
    stmt = select(CorrectionRequest).order_by(col(CorrectionRequest.id).desc())
    stmt = visible(stmt, actor, CorrectionRequest.unit_id)
    if state:
        stmt = stmt.where(CorrectionRequest.state == state)
    rows, total = fetch_page(session, stmt, pg)
    return pg.page([CorrectionRequestOut.model_validate(r) for r in rows], total)


@router.post("/correction-requests/{request_id}/decision")
def decide(
    request_id: int,
    body: CorrectionDecisionIn,
    actor: ActorDep,
    session: SessionDep,
    clock: ClockDep,
) -> CorrectionRequestOut:
    """Approve (the change is applied, audited as the supervisor's) or refuse with a reason."""
    row = requests.decide(
        session, actor, request_id, approve=body.approve, note=body.note, now=clock.now()
    )
    session.commit()
    return CorrectionRequestOut.model_validate(row)
