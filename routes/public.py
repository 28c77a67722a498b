"""The public JSON API under /api/v1/public: no sign-in, rate-limited, nothing personal out.

The calendar of events taking public registration, a human check, registration, look-up,
cancellation and export by code and phone, and opinion receipts. Pages under /public call the
same helpers here and the same workflows.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import TypeAdapter
from sqlmodel import Session

from models import Event, Registration
from models.codes import grouped
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
from workflows.kernel.errors import DomainError
from workflows.public import human_check, notices, privacy, receipts
from workflows.public import registration as flow
from workflows.public.privacy import Keys
from workflows.public.throttle import PublicThrottle, from_settings

router = APIRouter(
    prefix=API_PREFIX + "/public",
    tags=["public"],
    responses={429: {"model": ErrorOut, "description": "rate limit: Retry-After says when"}},
)


# ---- shared with pages/public.py -----------------------------------------------------------


@dataclass(frozen=True)
class Cached:
    """A rendered answer, its validator and when it goes stale."""

    body: bytes
    media_type: str
    etag: str
    expires: float


class CalendarCache:
    """The rendered public calendar (page and JSON) per campaign, reused for a few seconds.

    Per process: a registration change in this process clears it at once; one made in another
    API process shows after at most `seconds` (the registration itself is always decided live,
    under the event's lock). Answers carry an ETag and `Cache-Control: public, max-age`.
    """

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self._entries: dict[tuple[str, int | None], Cached] = {}

    def get(self, kind: str, campaign_id: int | None) -> Cached | None:
        """A fresh entry, or None."""
        found = self._entries.get((kind, campaign_id))
        return found if found is not None and found.expires > self.clock() else None

    def put(self, kind: str, campaign_id: int | None, body: bytes, media_type: str) -> Cached:
        """Keep a rendered answer (not at all when caching is off)."""
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        entry = Cached(body, media_type, etag, self.clock() + self.seconds)
        if self.seconds > 0:
            if len(self._entries) > 1000:  # campaign ids come from the query string
                self._entries.clear()
            self._entries[(kind, campaign_id)] = entry
        return entry

    def clear(self) -> None:
        """Forget everything (a registration changed the places taken)."""
        self._entries.clear()


def calendar_cache(request: Request) -> CalendarCache:
    """The app's calendar cache, made on first use."""
    found = getattr(request.app.state, "calendar_cache", None)
    if found is None:
        found = CalendarCache(request.app.state.settings.public_cache_seconds)
        request.app.state.calendar_cache = found
    return found  # type: ignore[no-any-return]


def cached_answer(request: Request, entry: Cached) -> Response:
    """The entry as an answer, or 304 when the client already holds it."""
    headers = {
        "ETag": entry.etag,
        "Cache-Control": f"public, max-age={int(calendar_cache(request).seconds)}",
    }
    if request.headers.get("if-none-match") == entry.etag:
        return Response(status_code=304, headers=headers)
    return Response(entry.body, media_type=entry.media_type, headers=headers)


def keys(request: Request) -> Keys:
    """The privacy keys of the app's settings."""
    return privacy.keys_from_settings(request.app.state.settings)


def throttle(request: Request) -> PublicThrottle:
    """The app's public rate limiter, made on first use, namespaced by its database."""
    found = getattr(request.app.state, "public_throttle", None)
    if found is None:
        engine = request.app.state.engine
        found = from_settings(
            request.app.state.settings,
            request.app.state.clock,
            engine.url.render_as_string(hide_password=True),
        )
        request.app.state.public_throttle = found
    return found  # type: ignore[no-any-return]


def address(request: Request) -> str:
    """The client's address (the proxy in front sets the real one through uvicorn's
    --forwarded-allow-ips)."""
    return request.client.host if request.client else "unknown"


def limit_person(request: Request, phone: str) -> None:
    """Count a registration, look-up or cancellation per address and per phone (hashed)."""
    limiter = throttle(request)
    limiter.hit("address", address(request))
    try:
        phone = flow.clean_phone(phone)
    except DomainError:
        phone = phone.strip()  # the workflow refuses it; it still counts
    limiter.hit("phone", keys(request).digest("phone", phone))


def event_out(event: Event, unit_name: str, left: int) -> PublicEventOut:
    """An event as citizens see it."""
    return PublicEventOut(
        **event.model_dump(
            include={
                "id", "campaign_id", "theme", "date_earliest", "date_latest", "date_text",
                "start_time", "end_time", "location", "forms", "public_places",
            }
        ),
        unit_name=unit_name,
        forms_zh=[flow.FORMS_ZH.get(f, f) for f in event.forms],
        places_left=left,
    )  # fmt: skip


def registration_out(session: Session, reg: Registration, theme: str, k: Keys) -> RegistrationOut:
    """A registration as its holder sees it."""
    return RegistrationOut(
        code=grouped(reg.code),
        event_id=reg.event_id,
        event_theme=theme,
        state=reg.state,
        state_label=flow.STATE_LABELS_ZH[reg.state],
        waitlist_position=flow.waitlist_position(session, reg),
        name=reg.name,
        phone_masked=privacy.mask_phone(k.decrypt(reg.phone_enc)),
        decline_reason=reg.decline_reason,
        registered_at=reg.created_at,
    )


def notify(request: Request) -> notices.Channels:
    """The channels that reach registrants, from the app's settings."""
    return notices.Channels.of(request.app.state.settings)


def applicant(body: RegistrationIn) -> flow.Applicant:
    """The workflow's view of the form."""
    return flow.Applicant(
        name=body.name,
        phone=body.phone,
        district=body.district,
        consent=body.consent,
        id_number=body.id_number,
        email=body.email,
    )


# ---- routes --------------------------------------------------------------------------------


@router.get("/events", response_model=list[PublicEventOut])
def public_events(
    request: Request, session: SessionDep, campaign_id: int | None = None
) -> Response:
    """Events taking public registration, by date, with the places left (each API process
    reuses the answer for OPENDAY_PUBLIC_CACHE_SECONDS; ETag)."""
    cache = calendar_cache(request)
    entry = cache.get("json", campaign_id)
    if entry is None:
        rows = [event_out(*row) for row in flow.public_events(session, campaign_id)]
        entry = cache.put("json", campaign_id, _EVENTS.dump_json(rows), "application/json")
    return cached_answer(request, entry)


_EVENTS = TypeAdapter(list[PublicEventOut])


@router.get("/events/{event_id}")
def public_event(event_id: int, session: SessionDep) -> PublicEventOut:
    """One event taking public registration."""
    event, unit_name = flow.open_event(session, event_id)
    return event_out(event, unit_name, max(0, event.public_places - flow.taken(session, event_id)))


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
    human_check.verify(k, body.challenge_token, body.challenge_answer, clock.now())
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
    throttle(request).hit("track", address(request))
    found = receipts.track(session, code[:40])
    return ReceiptOut(**found.__dict__)
