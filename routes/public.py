"""The public JSON API under /api/v1/public: no sign-in, rate-limited, nothing personal out.

The calendar of events taking public registration, a human check, registration, look-up,
cancellation and export by code and phone, and opinion receipts. Pages under /public use the
same request adapters (web/public.py), presenters (web/presenters.py) and workflows.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import TypeAdapter
from sqlmodel import Session

from models import Event, Registration
from schemas.common import ErrorOut
from schemas.public import (
    ChallengeOut,
    CodePhoneIn,
    PublicEventOut,
    ReceiptOut,
    RegistrationIn,
    RegistrationOut,
)
from web.deps import API_PREFIX, ClockDep, SessionDep
from web.presenters import event_out, registration_out
from web.public import (
    address,
    applicant,
    cached_answer,
    calendar_cache,
    check_human,
    keys,
    limit_person,
    notify,
)
from web.throttle import public_throttle
from workflows.accounts import districts
from workflows.kernel.clock import local_date
from workflows.public import human_check, privacy, receipts
from workflows.public import registration as flow

router = APIRouter(
    prefix=API_PREFIX + "/public",
    tags=["public"],
    responses={429: {"model": ErrorOut, "description": "rate limit: Retry-After says when"}},
)


@router.get("/events", response_model=list[PublicEventOut])
def public_events(
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    campaign_id: int | None = None,
    district: Annotated[
        str | None, Query(max_length=32, description="a district's code: its events only")
    ] = None,
) -> Response:
    """Events taking public registration whose day has not passed, by date, with the places
    left, of every district or of `district` (404 `district_not_found` for an unknown code;
    each API process reuses the answer for OPENDAY_PUBLIC_CACHE_SECONDS; ETag)."""
    cache = calendar_cache(request)
    today = local_date(clock.now())
    found = None if district is None else districts.public(session, district)
    # A new day drops the events whose day has passed; each district's list is its own entry.
    kind = f"json:{today.isoformat()}:{found.code if found else ''}"
    entry = cache.get(kind, campaign_id)
    if entry is None:
        listed = flow.public_events(session, campaign_id, today, found.id if found else None)
        rows = [event_out(*row) for row in listed]
        entry = cache.put(kind, campaign_id, _EVENTS.dump_json(rows), "application/json")
    return cached_answer(request, entry)


_EVENTS = TypeAdapter(list[PublicEventOut])


@router.get("/events/{event_id}")
def public_event(event_id: int, session: SessionDep, clock: ClockDep) -> PublicEventOut:
    """One event taking public registration; once its (last) day has passed it says
    registration is closed (`registration_open` false, no places left)."""
    event, unit_name = flow.open_event(session, event_id)
    left = max(0, event.public_places - flow.taken(session, event_id))
    return event_out(event, unit_name, left, passed=flow.passed(event, local_date(clock.now())))


@router.get("/challenge")
def challenge(request: Request, clock: ClockDep) -> ChallengeOut:
    """A human check to answer with the registration."""
    found = human_check.new(keys(request), clock.now())
    return ChallengeOut(question=found.question, token=found.token)


@router.post("/events/{event_id}/registrations", status_code=201)
def register(
    event_id: int, body: RegistrationIn, request: Request, session: SessionDep, clock: ClockDep
) -> RegistrationOut:
    """Register (or join the waiting list); the answer carries the confirmation code."""
    k = keys(request)
    check_human(request, body.challenge_token, body.challenge_answer, clock.now())
    limit_person(request, body.phone)
    reg = flow.register(
        session, event_id, applicant(body), keys=k, now=clock.now(), notify=notify(request)
    )
    event, _ = flow.open_event(session, event_id)
    result = registration_out(session, reg, event.theme, k)
    session.commit()
    calendar_cache(request).clear()
    return result


def _theme(session: Session, reg: Registration) -> str:
    event = session.get(Event, reg.event_id)
    return event.theme if event else ""


@router.post("/registrations/lookup")
def lookup(body: CodePhoneIn, request: Request, session: SessionDep) -> RegistrationOut:
    """A registration's state by its code and phone number."""
    limit_person(request, body.phone)
    reg = flow.find(session, body.code, body.phone, keys(request))
    return registration_out(session, reg, _theme(session, reg), keys(request))


@router.post("/registrations/cancel")
def cancel(
    body: CodePhoneIn, request: Request, session: SessionDep, clock: ClockDep
) -> RegistrationOut:
    """Cancel by code and phone; a held place goes to the first on the waiting list."""
    limit_person(request, body.phone)
    reg = flow.cancel(
        session,
        body.code,
        body.phone,
        keys=keys(request),
        now=clock.now(),
        notify=notify(request),
    )
    result = registration_out(session, reg, _theme(session, reg), keys(request))
    session.commit()
    calendar_cache(request).clear()
    return result


@router.post("/registrations/export")
def export(body: CodePhoneIn, request: Request, session: SessionDep) -> JSONResponse:
    """Everything stored about the person behind a registration (code and phone)."""
    limit_person(request, body.phone)
    reg = flow.find(session, body.code, body.phone, keys(request))
    event = session.get(Event, reg.event_id)
    data: dict[str, Any] = privacy.export_person(reg, event, keys(request))  # type: ignore[arg-type]
    return JSONResponse(
        data,
        headers={
            "Content-Disposition": 'attachment; filename="my-registration.json"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/receipts/{code}")
def receipt(code: str, request: Request, session: SessionDep) -> ReceiptOut:
    """An opinion's status, due date and published answer by its receipt code."""
    public_throttle(request).hit("track", address(request))
    found = receipts.track(session, code[:40])
    return ReceiptOut(**found.__dict__)
