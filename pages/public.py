"""Public pages for citizens (no sign-in): the calendar, an event with its registration form,
looking up or cancelling a registration, and tracking an opinion by its receipt code.

Large text, one column; no script at all (the CSP's default holds). Forms carry the
double-submit CSRF token of the sign-in form. Every rule runs in workflows/, the same calls as
the public JSON API (routes/public.py), with the same rate limits (web/public.py).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from models import Campaign, Event
from pages.render import FieldError, PageRoute, errors_of, render
from schemas.public import CodePhoneIn, RegistrationIn
from web.csrf import check_csrf
from web.deps import ClockDep, SessionDep, SettingsDep
from web.presenters import registration_out
from web.public import (
    address,
    applicant,
    cached_answer,
    calendar_cache,
    check_human,
    keys,
    limit_person,
    limit_rating,
    notify,
)
from web.throttle import public_throttle
from workflows.accounts import districts
from workflows.campaign.rules import CampaignRules
from workflows.event import icsfiles
from workflows.feedback import satisfaction
from workflows.filing import publish as filing
from workflows.kernel.clock import local_date
from workflows.kernel.errors import DomainError
from workflows.public import heard as public_heard
from workflows.public import human_check, privacy, receipts
from workflows.public import registration as flow

router = APIRouter(prefix="/public", route_class=PageRoute, include_in_schema=False)


async def public_form(request: Request) -> FormData:
    """A public POST's form, its double-submit CSRF token checked."""
    form = await request.form()
    check_csrf(request, form)
    return form


FormDep = Annotated[FormData, Depends(public_form)]


def _errors(exc: Exception) -> list[FieldError]:
    if isinstance(exc, DomainError):
        return [FieldError(exc.message_zh, exc.details.get("field", ""), exc.status)]
    return errors_of(exc)


@router.get("")
def calendar(
    request: Request, session: SessionDep, clock: ClockDep, campaign_id: int | None = None
) -> Response:
    """Events taking public registration whose day has not passed, by date, with the places
    left: every district's (a single-district deployment's address, unchanged), with links to
    each district's own calendar when the city has several. Each API process reuses the page
    for OPENDAY_PUBLIC_CACHE_SECONDS (nothing in it is per visitor: no form, no cookie); ETag."""
    return _calendar(request, session, clock, campaign_id, None)


@router.get("/d/{code}")
def district_calendar(
    code: str,
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    campaign_id: int | None = None,
) -> Response:
    """One district's public calendar (its code names it; an unknown one is 404)."""
    return _calendar(request, session, clock, campaign_id, districts.public(session, code))


def _calendar(
    request: Request, session: Any, clock: Any, campaign_id: int | None, district: Any
) -> Response:
    cache = calendar_cache(request)
    today = local_date(clock.now())
    # A new day drops the events whose day has passed; each district's page is its own entry.
    kind = f"page:{today.isoformat()}:{district.code if district else ''}"
    entry = cache.get(kind, campaign_id)
    if entry is None:
        events = flow.public_events(session, campaign_id, today, district.id if district else None)
        every = districts.every(session)
        page = render(
            request, "public/calendar.html", events=events, district=district,
            districts=every if len(every) > 1 else [],
            footer=districts.footer(session, district.id if district else None),
        )  # fmt: skip
        entry = cache.put(kind, campaign_id, bytes(page.body), "text/html; charset=utf-8")
    return cached_answer(request, entry)


def _event_page(
    request: Request, session: Any, event_id: int, now: Any, **context: Any
) -> HTMLResponse:
    event, unit = flow.open_event(session, event_id)
    campaign_rules = event_rules(session, event)
    left = max(0, event.public_places - flow.taken(session, event_id))
    context.setdefault("values", {})
    context.update(_district_of(session, event))
    return render(
        request,
        "public/event.html",
        event=event,
        unit=unit,
        left=left,
        passed=flow.passed(event, local_date(now)),
        forms=[flow.FORMS_ZH.get(f, f) for f in event.forms],
        published=filing.published(session, event_id),
        rules=campaign_rules,
        challenge=human_check.new(keys(request), now),
        **context,
    )


def _district_of(session: Any, event: Event) -> dict[str, Any]:
    """The event's district for its page: name and code, office, contact, and the footer."""
    district = districts.of_campaign(session, event.campaign_id)
    if district is None:
        return {"footer": districts.footer(session, None)}
    office = districts.office_of(district)
    return {
        "district": district, "office": office, "contact": districts.contact_of(district),
        "footer": office, "home": calendar_of(session, district),
    }  # fmt: skip


def calendar_of(session: Any, district: Any) -> str:
    """The public calendar a district's pages lead back to: its own (/public/d/{code}) in a
    city of several districts, /public in a city of one (its address as before districts)."""
    if district is None or districts.single(session):
        return "/public"
    return f"/public/d/{district.code}"


def event_rules(session: Any, event: Event) -> CampaignRules:
    """The rules of the event's campaign."""
    campaign = session.get(Campaign, event.campaign_id)
    return CampaignRules.of(campaign.rules if campaign else {})


@router.get("/events/{event_id}")
def event_page(event_id: int, request: Request, session: SessionDep, clock: ClockDep) -> Response:
    """An event and its registration form."""
    return _event_page(request, session, event_id, clock.now())


@router.get("/events/{event_id}/publicity")
def publicity_page(event_id: int, request: Request, session: SessionDep) -> Response:
    """An event's announcement and the 公示 of its citizen representatives (masked names)."""
    event, unit, published = filing.public_view(session, event_id)
    return render(
        request, "public/publicity.html", event=event, unit=unit, published=published,
        open=event.public_places > 0, **_district_of(session, event),
    )  # fmt: skip


def _registration_in(form: FormData, values: dict[str, Any]) -> RegistrationIn:
    return RegistrationIn(
        name=values["name"],
        phone=values["phone"],
        district=values["district"],
        consent=values["consent"],
        id_number=values["id_number"] or None,
        email=values["email"] or None,
        challenge_token=str(form.get("challenge_token", ""))[:200] or "-",
        challenge_answer=str(form.get("challenge_answer", "")).strip()[:10] or "-",
    )


@router.post("/events/{event_id}/register")
def register(
    event_id: int, request: Request, form: FormDep, session: SessionDep, clock: ClockDep
) -> Response:
    """Register; the answer shows the confirmation code (never put in a URL)."""
    values: dict[str, Any] = {
        k: str(form.get(k, "")).strip()[:110]
        for k in ("name", "phone", "id_number", "district", "email")
    }
    values["consent"] = form.get("consent") == "1"
    k = keys(request)
    try:
        body = _registration_in(form, values)
        check_human(request, body.challenge_token, body.challenge_answer, clock.now())
        limit_person(request, body.phone)
        reg = flow.register(
            session,
            event_id,
            applicant(body),
            keys=k,
            now=clock.now(),
            notify=notify(request),
        )
        event, _ = flow.open_event(session, event_id)
        shown = registration_out(session, reg, event.theme, k)
        session.commit()
        calendar_cache(request).clear()
    except (DomainError, ValidationError) as exc:
        session.rollback()
        if isinstance(exc, DomainError) and exc.status in (404, 429):
            raise
        errors = _errors(exc)
        return _event_page(request, session, event_id, clock.now(), errors=errors, values=values)
    return render(
        request, "public/registered.html", status=201, reg=shown, lookup=False,
        **_district_of(session, event),
    )  # fmt: skip


def _code_phone(form: FormData) -> CodePhoneIn:
    return CodePhoneIn(
        code=str(form.get("code", "")).strip()[:20] or "-",
        phone=str(form.get("phone", "")).strip()[:20].ljust(11, "-"),
    )


@router.get("/registration")
def lookup_page(request: Request) -> HTMLResponse:
    """The form to look up a registration by code and phone."""
    return render(request, "public/lookup.html", code="")


def _shown(request: Request, session: Any, form: FormData, action: str, now: Any) -> Response:
    body = _code_phone(form)
    try:
        limit_person(request, body.phone)
        if action == "cancel":
            reg = flow.cancel(
                session,
                body.code,
                body.phone,
                keys=keys(request),
                now=now,
                notify=notify(request),
            )
        else:
            reg = flow.find(session, body.code, body.phone, keys(request))
        event = session.get(Event, reg.event_id)
        if action == "export":
            data = privacy.export_person(reg, event, keys(request))
            return JSONResponse(
                data,
                headers={
                    "Content-Disposition": 'attachment; filename="my-registration.json"',
                    "Cache-Control": "no-store",
                },
            )
        shown = registration_out(session, reg, event.theme if event else "", keys(request))
        session.commit()
        calendar_cache(request).clear()
    except DomainError as exc:
        if exc.status == 429:
            raise
        errors = [FieldError(exc.message_zh, "code", exc.status)]
        return render(request, "public/lookup.html", errors=errors, code=body.code)
    around = _district_of(session, event) if event else {}
    return render(
        request, "public/registered.html", reg=shown, lookup=True, phone=body.phone, **around
    )


@router.post("/registration")
def lookup(request: Request, form: FormDep, session: SessionDep, clock: ClockDep) -> Response:
    """A registration's state, with cancel and export buttons."""
    return _shown(request, session, form, "lookup", clock.now())


@router.post("/registration/cancel")
def cancel(request: Request, form: FormDep, session: SessionDep, clock: ClockDep) -> Response:
    """Cancel a registration (a held place goes to the first on the waiting list)."""
    return _shown(request, session, form, "cancel", clock.now())


@router.post("/registration/export")
def export(request: Request, form: FormDep, session: SessionDep, clock: ClockDep) -> Response:
    """Download everything stored about the person (JSON)."""
    return _shown(request, session, form, "export", clock.now())


TRACK_EMPTY = "请填写回执码：活动现场发放的回执上的 10 位码"


@router.get("/track")
def track(request: Request, session: SessionDep, code: str = "") -> Response:
    """An opinion's status, due date and published answer by its receipt code; the form sent
    with no code says so (it used to come back blank, as if nothing happened)."""
    code = code.strip()
    if not code:
        if "code" not in request.query_params:
            return render(request, "public/track.html", code="")
        errors = [FieldError(TRACK_EMPTY, "code", 422)]
        return render(request, "public/track.html", errors=errors, code="")
    public_throttle(request).hit("track", address(request))
    try:
        receipt = receipts.track(session, code[:40])
    except DomainError as exc:
        errors = [FieldError(exc.message_zh, "code", exc.status)]
        return render(request, "public/track.html", errors=errors, code=code[:20])
    return render(
        request, "public/track.html", receipt=receipt, code=receipt.code, footer=receipt.office
    )


@router.get("/campaigns/{campaign_id}/heard")
def heard(request: Request, campaign_id: int, session: SessionDep) -> Response:
    """What was heard and what was done: the campaign's opinions and their answers (an answer
    only with its person's consent), never a name, phone or ID."""
    page = public_heard.of_campaign(session, campaign_id)
    footer = districts.office_of(page.district) if page.district else ""
    return render(request, "public/heard.html", page=page, footer=footer)


@router.get("/d/{code}/heard")
def district_heard(code: str, request: Request, session: SessionDep) -> Response:
    """The heard page of one district (its code names it; an unknown one is 404): the
    opinions of every campaign it runs, never another district's."""
    district = districts.public(session, code)
    page = public_heard.of_district(session, district)
    return render(request, "public/heard.html", page=page, footer=districts.office_of(district))


@router.get("/d/{code}/calendar.ics")
def district_feed(code: str, session: SessionDep, clock: ClockDep) -> Response:
    """One district's public events as a calendar people subscribe to (unknown code: 404)."""
    district = districts.public(session, code)
    return Response(
        icsfiles.district_feed(session, district, clock.now()),
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="openday-{district.code}.ics"'},
    )


@router.post("/track/rate")
def track_rate(request: Request, form: FormDep, session: SessionDep, clock: ClockDep) -> Response:
    """Rate an answer (回访): the receipt code and the phone on record, throttled like look-ups;
    a refusal shows the tracking page again with its error, nothing written."""
    code, phone = str(form.get("code", ""))[:40], str(form.get("phone", ""))[:32]
    limit_rating(request, phone)
    try:
        data = satisfaction.rating_from_form(
            str(form.get("rating", "")),
            str(form.get("comment", "")),
            public_consent=form.get("public_consent") == "yes",
        )
        satisfaction.rate_public(session, code, phone, data, keys(request), clock.now())
        session.commit()
    except (DomainError, ValidationError) as exc:
        session.rollback()
        errors = _rating_errors(exc)
        kept = {k: str(form.get(k, ""))[:2000] for k in ("rating", "comment", "public_consent")}
        try:
            receipt = receipts.track(session, code)
        except DomainError:
            return render(request, "public/track.html", errors=errors, code=code[:20])
        page: dict[str, Any] = {"receipt": receipt, "code": code[:20], "kept": kept}
        return render(request, "public/track.html", errors=errors, **page)
    return render(request, "public/track.html", receipt=receipts.track(session, code), code=code)


def _rating_errors(exc: Exception) -> list[FieldError]:
    if isinstance(exc, ValidationError):
        return [FieldError("请选择满意、基本满意或不满意", "rating", 422)]
    assert isinstance(exc, DomainError)
    field = "phone" if exc.code == "receipt_phone_mismatch" else "rating"
    return [FieldError(exc.message_zh, field, exc.status)]


@router.get("/privacy")
def privacy_notice(request: Request, settings: SettingsDep) -> HTMLResponse:
    """What is collected, why, how it is kept and for how long."""
    return render(request, "public/privacy.html", retention_days=settings.public_retention_days)
