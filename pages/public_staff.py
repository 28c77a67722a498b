"""Staff pages for the public side of an event: its registrations (confirm or decline) and
printable receipt slips with a QR code for each recorded opinion.

Registrations show the phone masked; confirming adds the person to the invitee list through the
invitee rules (the page sends the event version it was rendered from). Slips carry the receipt
code and a QR code of the public tracking link, drawn server-side as inline SVG (segno), so
printing needs no script and nothing from another host.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from sqlalchemy import func
from sqlmodel import Session, select

from models import Event, FeedbackItem, Registration
from pages import eventkit as kit
from pages.attempt import attempt
from pages.auth import FormDep, UserDep
from pages.render import FieldError, PageRoute, redirect, render
from schemas.events import EventPatch
from schemas.public import DeclineIn
from settings import Settings
from web import forms
from web.deps import ClockDep, SessionDep, SettingsDep
from web.presenters import staff_out
from web.public import calendar_cache, keys, notify
from workflows.event import service as event_service
from workflows.kernel.clock import Clock, local_date
from workflows.public import receipts
from workflows.public import registration as flow

router = APIRouter(route_class=PageRoute, include_in_schema=False)

QR_ERROR = "m"  # medium error correction: survives a crease or a smudge on paper
QR_SCALE = 3  # SVG units per module; the print CSS sizes the code to 30 mm


@lru_cache(maxsize=1024)
def qr_svg(url: str) -> str:
    """The QR code of a URL as inline SVG markup (deterministic for a URL)."""
    import segno  # drawn on demand: kept off the service's start

    code = segno.make(url, error=QR_ERROR, micro=False)
    return code.svg_inline(
        scale=QR_SCALE, border=4, omitsize=True, svgclass="qr", title="扫码查询办理进度"
    )


def public_base(request: Request, settings: Settings) -> str:
    """The public address printed links start with: OPENDAY_PUBLIC_URL, else the address this
    request reached the service at (its real host and port, behind a proxy its forwarded ones)."""
    if settings.public_url:
        return settings.public_base
    return str(request.base_url).rstrip("/")


# ---- 公开报名 (registrations of one event) ------------------------------------------------


def registrations_page(
    request: Request,
    session: Session,
    ev: kit.EventView,
    clock: Clock,
    errors: list[FieldError] | None = None,
) -> HTMLResponse:
    """The event's registrations in arrival order with confirm and decline."""
    k = keys(request)
    rows = [staff_out(session, reg, k) for reg in flow.staff_list(session, ev.event)]
    left = max(0, ev.event.public_places - flow.taken(session, ev.event.id or 0))
    today = local_date(clock.now())
    return render(
        request,
        "registrations.html",
        ev=ev,
        rows=rows,
        left=left,
        quota=kit.list_quota(session, ev),
        rules=ev.rules,
        on_calendar=flow.on_calendar(ev.event, today),
        passed=flow.passed(ev.event, today),
        open_stage=ev.event.state in flow.OPEN_STATES,
        errors=errors or [],
    )


@router.get("/events/{event_id}/registrations")
def registrations_get(
    request: Request, event_id: int, user: UserDep, session: SessionDep, clock: ClockDep
) -> HTMLResponse:
    """Who registered for the event's public places, and the places themselves."""
    return registrations_page(request, session, kit.view(session, user, event_id), clock)


PLACES_LABELS = {"public_places": "公开名额", "expected_version": "版本号"}
PLACES_MISSING = "请填写公开名额（填 0 表示不开放公开报名）"


@router.post("/events/{event_id}/public-places")
def public_places_post(
    request: Request,
    event_id: int,
    form: FormDep,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    """Open public registration with a number of places, change it, or close it (0)."""
    ev = kit.view(session, user, event_id, write=True)
    with attempt(session) as tried:
        body = forms.parse(
            EventPatch, form, labels=PLACES_LABELS, expected_version=kit.version_of(form)
        )
        if body.public_places is None:
            raise forms.FormInvalid([("public_places", PLACES_MISSING)])
        event_service.edit(
            session,
            ev.event,
            {"public_places": body.public_places},
            expected_version=body.expected_version,
            actor=user.actor,
            now=clock.now(),
        )
    if tried.errors:
        ev = kit.view(session, user, event_id)
        return registrations_page(request, session, ev, clock, tried.errors)
    calendar_cache(request).clear()
    places = body.public_places
    said = f"已开放公开报名，名额 {places} 个" if places else "已关闭公开报名"
    return redirect(f"/events/{event_id}/registrations", said)


@router.post("/events/{event_id}/registrations/{registration_id}/confirm")
def registrations_confirm(
    request: Request,
    event_id: int,
    registration_id: int,
    form: FormDep,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    """Confirm one registration: the person joins the invitees (市民代表, 公开邀请)."""
    ev = kit.view(session, user, event_id, write=True)
    with attempt(session) as tried:
        reg = flow.confirm(
            session,
            ev.event,
            registration_id,
            expected_version=kit.version_of(form),
            actor=user.actor,
            now=clock.now(),
            notify=notify(request),
        )
    if tried.errors:
        ev = kit.view(session, user, event_id)
        return registrations_page(request, session, ev, clock, tried.errors)
    calendar_cache(request).clear()
    return redirect(f"/events/{event_id}/registrations", f"已确认 {reg.name}，已加入邀请名单")


@router.post("/events/{event_id}/registrations/{registration_id}/decline")
def registrations_decline(
    request: Request,
    event_id: int,
    registration_id: int,
    form: FormDep,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    """Decline one registration with a reason the person will see."""
    ev = kit.view(session, user, event_id, write=True)
    reason = f"reason-{registration_id}"
    with attempt(session, {"reason_required": reason, "reason": reason}) as tried:
        declined = forms.parse(
            DeclineIn, form, labels={"reason": "原因"}, missing={"reason": "请填写原因"}
        )
        flow.decline(
            session,
            ev.event,
            registration_id,
            reason=declined.reason,
            actor=user.actor,
            now=clock.now(),
            notify=notify(request),
        )
    if tried.errors:
        ev = kit.view(session, user, event_id)
        return registrations_page(request, session, ev, clock, tried.errors)
    calendar_cache(request).clear()
    return redirect(f"/events/{event_id}/registrations", "已告知报名人未获确认及原因")


@router.post("/events/{event_id}/registrations/{registration_id}/lift-decline")
def registrations_lift_decline(
    request: Request,
    event_id: int,
    registration_id: int,
    _: FormDep,  # the CSRF check
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    """Let a declined person register for this event again (audited)."""
    ev = kit.view(session, user, event_id, write=True)
    with attempt(session) as tried:
        reg = flow.lift_decline(
            session, ev.event, registration_id, actor=user.actor, now=clock.now()
        )
    if tried.errors:
        ev = kit.view(session, user, event_id)
        return registrations_page(request, session, ev, clock, tried.errors)
    return redirect(f"/events/{event_id}/registrations", f"{reg.name} 可以再次报名本活动")


# ---- 意见回执 (printable slips) -------------------------------------------------------------


def _slips_page(request: Request, ev: kit.EventView, slips: list[receipts.Slip]) -> HTMLResponse:
    return render(
        request,
        "receipt_slips.html",
        ev=ev,
        slips=slips,
        qr={s.item_id: Markup(qr_svg(s.url)) for s in slips},  # noqa: S704 - segno's own SVG
    )


@router.get("/events/{event_id}/receipts")
def receipt_slips(
    request: Request, event_id: int, user: UserDep, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """A slip for every opinion of the event, several to an A4 page when printed."""
    ev = kit.view(session, user, event_id)
    found = receipts.slips(session, event_id, public_base(request, settings))
    return _slips_page(request, ev, found)


@router.get("/events/{event_id}/receipts/{item_id}")
def receipt_slip(
    request: Request,
    event_id: int,
    item_id: int,
    user: UserDep,
    session: SessionDep,
    settings: SettingsDep,
) -> HTMLResponse:
    """The slip of one opinion."""
    ev = kit.view(session, user, event_id)
    found = receipts.slips(session, event_id, public_base(request, settings), item_id=item_id)
    return _slips_page(request, ev, found)


@dataclass(frozen=True)
class PublicLinks:
    """What the event's task list says about its public side."""

    registrations: int  # every registration, whatever its state
    waiting: int  # registered, waiting for the unit to confirm
    opinions: int  # opinions with a receipt slip to print


def links(session: Session, event: Event) -> PublicLinks:
    """Counts for the links under the event's task list."""
    states = session.exec(select(Registration.state).where(Registration.event_id == event.id)).all()
    opinions = session.exec(
        select(func.count()).select_from(FeedbackItem).where(FeedbackItem.event_id == event.id)
    ).one()
    return PublicLinks(len(states), sum(s == "registered" for s in states), int(opinions))
