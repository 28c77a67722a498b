"""Filings before the day (issue 30): the plan a unit files for the district office's approval,
the public announcement of a publicly invited event, the 公示 of its citizen representatives —
each asked when the campaign's notice switched its rule on (workflows/filing/)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlmodel import Session

from models import Event
from schemas.filings import AnnouncementIn, FilingOut, PlanDecisionIn, PlanIn
from web.deps import API_PREFIX, ActorDep, ClockDep, SessionDep
from web.loaders import load_event
from workflows.accounts import districts
from workflows.event.moves import shown_name
from workflows.filing import overview, plans, publish
from workflows.kernel.visibility import Actor

router = APIRouter(prefix=API_PREFIX, tags=["events"])


def _out(session: Session, actor: Actor, event: Event) -> list[FilingOut]:
    office = districts.unit_office_for(session, actor, event.unit_id)
    return [FilingOut(**item.as_dict()) for item in overview.of_event(session, event, office)]


@router.get("/events/{event_id}/filings")
def list_filings(event_id: int, actor: ActorDep, session: SessionDep) -> list[FilingOut]:
    """The plan, announcement and 公示 the notice asks of the event, and where each stands."""
    return _out(session, actor, load_event(session, actor, event_id))


def _done(session: Session, actor: Actor, event_id: int) -> list[FilingOut]:
    session.commit()
    return _out(session, actor, load_event(session, actor, event_id))


@router.put("/events/{event_id}/filings/plan")
def file_plan(
    event_id: int, body: PlanIn, actor: ActorDep, session: SessionDep, clock: ClockDep
) -> list[FilingOut]:
    """File (or revise) the event's plan for the district office's approval (while planned)."""
    event = load_event(session, actor, event_id, lock=True)
    shown = shown_name(session, actor)
    plans.submit(session, event, text=body.text, actor=actor, shown=shown, now=clock.now())
    return _done(session, actor, event_id)


@router.post("/events/{event_id}/filings/plan/decision")
def decide_plan(
    event_id: int, body: PlanDecisionIn, actor: ActorDep, session: SessionDep, clock: ClockDep
) -> list[FilingOut]:
    """Approve the plan, or return it with a reason (supervisors)."""
    event = load_event(session, actor, event_id, lock=True)
    shown = shown_name(session, actor)
    plans.decide(
        session, event, approve=body.approve, note=body.note, actor=actor, shown=shown,
        now=clock.now(),
    )  # fmt: skip
    return _done(session, actor, event_id)


@router.post("/events/{event_id}/filings/announcement")
def announce(
    event_id: int, body: AnnouncementIn, actor: ActorDep, session: SessionDep, clock: ClockDep
) -> list[FilingOut]:
    """Publish the public announcement (theme, places, 报名方式) on the public pages."""
    event = load_event(session, actor, event_id, lock=True)
    publish.announce(
        session, event, how_to_register=body.how_to_register, text=body.text, actor=actor,
        shown=shown_name(session, actor), now=clock.now(),
    )  # fmt: skip
    return _done(session, actor, event_id)


@router.post("/events/{event_id}/filings/representatives")
def publicise(
    event_id: int, actor: ActorDep, session: SessionDep, clock: ClockDep
) -> list[FilingOut]:
    """Publish (公示) the invited citizen representatives, names masked, on the public pages."""
    event = load_event(session, actor, event_id, lock=True)
    publish.publicise(
        session, event, actor=actor, shown=shown_name(session, actor), now=clock.now()
    )
    return _done(session, actor, event_id)
