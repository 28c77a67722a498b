"""Extension requests: units ask for more time on an opinion; supervisors decide."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from sqlmodel import col, select

from models import ExtensionRequest
from routes.feedback import load_item
from schemas.common import Page
from schemas.extensions import DecisionIn, ExtensionIn, ExtensionOut
from web.deps import API_PREFIX, ActorDep, ClockDep, PagingDep, SessionDep, fetch_page
from workflows.feedback import extensions
from workflows.kernel.visibility import visible

router = APIRouter(prefix=API_PREFIX, tags=["feedback"])


@router.post("/feedback/{item_id}/extensions", status_code=201)
def request_extension(
    item_id: int, body: ExtensionIn, actor: ActorDep, session: SessionDep, clock: ClockDep
) -> ExtensionOut:
    """Ask for more time to answer an opinion (before its due date)."""
    item = load_item(session, actor, item_id, lock=True)
    row = extensions.request(
        session,
        item,
        reason=body.reason,
        requested_due_on=body.requested_due_on,
        actor=actor,
        now=clock.now(),
    )
    session.commit()
    return ExtensionOut.model_validate(row)


@router.get("/extensions")
def list_extensions(
    actor: ActorDep,
    session: SessionDep,
    pg: PagingDep,
    state: Annotated[Literal["pending", "approved", "refused"] | None, Query()] = None,
) -> Page[ExtensionOut]:
    """Extension requests, newest first (staff: their unit's)."""
    stmt = select(ExtensionRequest).order_by(col(ExtensionRequest.id).desc())
    stmt = visible(stmt, actor, ExtensionRequest.unit_id)
    if state:
        stmt = stmt.where(ExtensionRequest.state == state)
    rows, total = fetch_page(session, stmt, pg)
    return pg.page([ExtensionOut.model_validate(r) for r in rows], total)


@router.post("/extensions/{request_id}/decision")
def decide_extension(
    request_id: int, body: DecisionIn, actor: ActorDep, session: SessionDep, clock: ClockDep
) -> ExtensionOut:
    """Approve with a new due date, or refuse (supervisors)."""
    row = extensions.decide(
        session,
        request_id,
        approve=body.approve,
        new_due_on=body.new_due_on,
        note=body.note,
        actor=actor,
        now=clock.now(),
    )
    session.commit()
    return ExtensionOut.model_validate(row)
