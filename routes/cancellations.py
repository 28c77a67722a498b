"""Cancellation requests (申请取消): units ask to cancel an event; supervisors decide, and may
mark an approved cancellation 不计扣分 (exempt from the assessment)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from sqlmodel import col, select

from models import CancellationRequest
from schemas.cancellations import (
    CancellationDecisionIn,
    CancellationIn,
    CancellationOut,
    ExemptionIn,
)
from schemas.common import Id, Page
from web.deps import API_PREFIX, ActorDep, ClockDep, PagingDep, SessionDep, fetch_page
from web.loaders import load_event
from workflows.event import cancellation
from workflows.kernel.visibility import visible

router = APIRouter(prefix=API_PREFIX, tags=["events"])


@router.post("/events/{event_id}/cancellation-requests", status_code=201)
def request_cancellation(
    event_id: int, body: CancellationIn, actor: ActorDep, session: SessionDep, clock: ClockDep
) -> CancellationOut:
    """Ask to cancel an event not yet held, with a reason; it stays in its state meanwhile."""
    event = load_event(session, actor, event_id, lock=True)
    row = cancellation.request(session, event, reason=body.reason, actor=actor, now=clock.now())
    session.commit()
    return CancellationOut.model_validate(row)


@router.get("/cancellation-requests")
def list_cancellations(
    actor: ActorDep,
    session: SessionDep,
    pg: PagingDep,
    state: Annotated[Literal["pending", "approved", "refused"] | None, Query()] = None,
    event_id: Annotated[Id | None, Query()] = None,
) -> Page[CancellationOut]:
    """Cancellation requests, newest first (staff: their unit's)."""
    stmt = select(CancellationRequest).order_by(col(CancellationRequest.id).desc())
    stmt = visible(stmt, actor, CancellationRequest.unit_id)
    if state:
        stmt = stmt.where(CancellationRequest.state == state)
    if event_id is not None:
        stmt = stmt.where(CancellationRequest.event_id == event_id)
    rows, total = fetch_page(session, stmt, pg)
    return pg.page([CancellationOut.model_validate(r) for r in rows], total)


@router.get("/cancellation-requests/{cancellation_id}")
def get_cancellation(cancellation_id: int, actor: ActorDep, session: SessionDep) -> CancellationOut:
    """One cancellation request (staff: their unit's)."""
    return CancellationOut.model_validate(cancellation.get(session, actor, cancellation_id))


@router.post("/cancellation-requests/{cancellation_id}/decision")
def decide_cancellation(
    cancellation_id: int,
    body: CancellationDecisionIn,
    actor: ActorDep,
    session: SessionDep,
    clock: ClockDep,
) -> CancellationOut:
    """Approve (the event is cancelled; optionally 不计扣分 with a reason) or refuse with a
    reason (supervisors)."""
    row = cancellation.decide(
        session,
        cancellation_id,
        approve=body.approve,
        note=body.note,
        exempt=body.exempt,
        exempt_reason=body.exempt_reason,
        actor=actor,
        now=clock.now(),
    )
    session.commit()
    return CancellationOut.model_validate(row)


@router.post("/cancellation-requests/{cancellation_id}/exemption")
def set_exemption(
    cancellation_id: int, body: ExemptionIn, actor: ActorDep, session: SessionDep, clock: ClockDep
) -> CancellationOut:
    """Mark an approved cancellation 不计扣分, or take the mark back, with a reason
    (supervisors)."""
    row = cancellation.set_exempt(
        session,
        cancellation_id,
        exempt=body.exempt,
        reason=body.reason,
        actor=actor,
        now=clock.now(),
    )
    session.commit()
    return CancellationOut.model_validate(row)
