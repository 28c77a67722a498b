"""Spot checks of events."""

from __future__ import annotations

from fastapi import APIRouter
from sqlmodel import col, select

from models import Event, SpotCheck
from schemas.common import Page
from schemas.spot_checks import SpotCheckOut
from web.deps import API_PREFIX, ActorDep, PagingDep, SessionDep, fetch_page
from web.loaders import load_event
from workflows.kernel.errors import NotFound
from workflows.kernel.visibility import visible

router = APIRouter(prefix=API_PREFIX, tags=["spot checks"])


@router.get("/events/{event_id}/spot-check")
def get_spot_check(event_id: int, actor: ActorDep, session: SessionDep) -> SpotCheckOut:
    """The spot check of an event, once done."""
    load_event(session, actor, event_id)
    check = session.exec(
        select(SpotCheck).where(SpotCheck.event_id == event_id).order_by(col(SpotCheck.id).desc())
    ).first()
    if check is None:
        raise NotFound(
            "spot_check_not_found",
            f"活动 {event_id} 尚未抽查",
            f"event {event_id} has not been spot-checked",
        )
    return SpotCheckOut.model_validate(check)


@router.get("/spot-checks")
def list_spot_checks(
    actor: ActorDep, session: SessionDep, pg: PagingDep, campaign_id: int | None = None
) -> Page[SpotCheckOut]:
    """Spot checks the caller may see, newest first."""
    stmt = select(SpotCheck).join(Event, col(Event.id) == SpotCheck.event_id)
    stmt = visible(stmt, actor, Event.unit_id)
    if campaign_id is not None:
        stmt = stmt.where(Event.campaign_id == campaign_id)
    rows, total = fetch_page(session, stmt.order_by(col(SpotCheck.id).desc()), pg)
    return pg.page([SpotCheckOut.model_validate(s) for s in rows], total)
