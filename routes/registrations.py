"""Staff side of public registration: an event's registrations, confirm, decline, and lifting
a decline (the person may register for the event again)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from schemas.public import DeclineIn, StaffRegistrationOut
from web.deps import API_PREFIX, ActorDep, ClockDep, ExpectedVersion, SessionDep
from web.loaders import load_event, load_event_for_write
from web.presenters import staff_out
from web.public import calendar_cache, keys, notify
from workflows.public import registration as flow

router = APIRouter(prefix=API_PREFIX + "/events", tags=["registrations"])


@router.get("/{event_id}/registrations")
def list_registrations(
    event_id: int, request: Request, actor: ActorDep, session: SessionDep
) -> list[StaffRegistrationOut]:
    """The event's public registrations in arrival order (masked)."""
    event = load_event(session, actor, event_id)
    k = keys(request)
    return [staff_out(session, reg, k) for reg in flow.staff_list(session, event)]


@router.post("/{event_id}/registrations/{registration_id}/confirm")
def confirm_registration(
    event_id: int,
    registration_id: int,
    expected_version: ExpectedVersion,
    request: Request,
    actor: ActorDep,
    session: SessionDep,
    clock: ClockDep,
) -> StaffRegistrationOut:
    """Confirm: the person joins the invitee list as 市民代表 (公开邀请); the quota rules apply."""
    event = load_event_for_write(session, actor, event_id)
    reg = flow.confirm(
        session,
        event,
        registration_id,
        expected_version=expected_version,
        actor=actor,
        now=clock.now(),
        notify=notify(request),
    )
    result = staff_out(session, reg, keys(request))
    session.commit()
    calendar_cache(request).clear()
    return result


@router.post("/{event_id}/registrations/{registration_id}/decline")
def decline_registration(
    event_id: int,
    registration_id: int,
    body: DeclineIn,
    request: Request,
    actor: ActorDep,
    session: SessionDep,
    clock: ClockDep,
) -> StaffRegistrationOut:
    """Decline with a reason the person sees; a place held moves to the waiting list's first."""
    event = load_event_for_write(session, actor, event_id)
    reg = flow.decline(
        session,
        event,
        registration_id,
        reason=body.reason,
        actor=actor,
        now=clock.now(),
        notify=notify(request),
    )
    result = staff_out(session, reg, keys(request))
    session.commit()
    calendar_cache(request).clear()
    return result


@router.post("/{event_id}/registrations/{registration_id}/lift-decline")
def lift_decline(
    event_id: int,
    registration_id: int,
    request: Request,
    actor: ActorDep,
    session: SessionDep,
    clock: ClockDep,
) -> StaffRegistrationOut:
    """Let a declined person register for this event again (audited); 409 otherwise."""
    event = load_event_for_write(session, actor, event_id)
    reg = flow.lift_decline(session, event, registration_id, actor=actor, now=clock.now())
    result = staff_out(session, reg, keys(request))
    session.commit()
    return result
