"""Invitations and the door (issue 27): the public answer page of an invitation, its .ics, the
campaign's calendar feed; the clerk's check-in page, an answer taken by phone, printed letters.

The answer page needs no account: its address carries a signed, expiring link. A refused link
(forged, expired, another event's) is shown in words and audited. The check-in page is built
for a phone at the door (360 px first): one input that a scanner or a thumb types a code into.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from sqlmodel import Session

from models import Campaign, Event, Invitee, Registration, Unit
from models.codes import grouped
from pages import eventkit as kit
from pages.attempt import attempt
from pages.auth import FormDep, UserDep
from pages.event_pages import invitees_page
from pages.public import FormDep as PublicFormDep
from pages.render import FieldError, PageRoute, redirect, render
from web import links
from web.deps import ClockDep, SessionDep
from web.public import notify
from workflows.accounts import districts
from workflows.event import checkin, icsfiles, invitations
from workflows.kernel.errors import NotFound
from workflows.public import offers, registration

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@lru_cache(maxsize=512)
def qr_svg(code: str) -> Markup:
    """The door code as an inline SVG QR code."""
    import segno  # drawn on demand: kept off the service's start

    svg = segno.make(grouped(code), error="m", micro=False).svg_inline(
        scale=5, border=4, omitsize=True, svgclass="qr", title="入场签到二维码"
    )
    return Markup(svg)  # noqa: S704 - segno's own markup, no user text in it


# ---- public: the answer page ---------------------------------------------------------------


def _answer_page(
    request: Request, session: Session, token: str, invitee: Invitee, event: Event, **extra: Any
) -> HTMLResponse:
    unit = session.get(Unit, event.unit_id)
    return render(
        request,
        "public/invitation.html",
        token=token,
        invitee=invitee,
        event=event,
        unit_name=unit.name if unit else "",
        code=grouped(invitee.code),
        qr=qr_svg(invitee.code or ""),
        answers=invitations.ANSWERS_ZH,
        open=event.state in ("planned", "invited"),
        footer=districts.campaign_footer(session, event.campaign_id),
        **extra,
    )


@router.get("/public/invitations/{token}")
def answer_get(token: str, request: Request, session: SessionDep, clock: ClockDep) -> Response:
    """The invitation: the event, the door code with its QR code, 参加 / 不参加, the .ics."""
    invitee, event = links.open_invitation(request, session, token, clock.now())
    return _answer_page(request, session, token, invitee, event)


@router.post("/public/invitations/{token}")
def answer_post(
    token: str, request: Request, form: PublicFormDep, session: SessionDep, clock: ClockDep
) -> Response:
    """Record the answer given through the link (audited); back to the page, answered."""
    now = clock.now()
    invitee, event = links.open_invitation(request, session, token, now)
    value = str(form.get("answer", ""))[:10]
    with attempt(session, fields={"answer": "答复"}) as tried:
        invitations.answer(
            session, invitee, event, value, via="link", actor=invitations.INVITEE_ACTOR, now=now
        )
        if value == "no":  # a confirmed registrant's place goes to the waiting list
            registration.drop_out(session, event, invitee.id or 0, now=now, notify=notify(request))
    if tried.errors:
        return _answer_page(request, session, token, invitee, event, errors=tried.errors)
    words = invitations.ANSWERS_ZH[value]
    return redirect(f"/public/invitations/{token}", f"已收到您的答复：{words}")


# ---- public: a waiting-list offer ----------------------------------------------------------


def _offer_page(
    request: Request, session: Session, token: str, reg: Registration, **extra: Any
) -> HTMLResponse:
    event = session.get(Event, reg.event_id)
    unit = session.get(Unit, event.unit_id) if event else None
    return render(
        request,
        "public/offer.html",
        token=token,
        reg=reg,
        event=event,
        unit_name=unit.name if unit else "",
        code=grouped(reg.code),
        state_label=registration.state_label(reg),
        answers=offers.ANSWERS_ZH,
        footer=districts.campaign_footer(session, event.campaign_id) if event else "",
        **extra,
    )


@router.get("/public/offers/{token}")
def offer_get(token: str, request: Request, session: SessionDep, clock: ClockDep) -> Response:
    """A place came free: the event, the answer window, 接受 / 放弃."""
    reg = links.open_offer(request, session, token, clock.now())
    return _offer_page(request, session, token, reg)


@router.post("/public/offers/{token}")
def offer_post(
    token: str, request: Request, form: PublicFormDep, session: SessionDep, clock: ClockDep
) -> Response:
    """Accept or decline the offered place (audited); back to the page, answered."""
    now = clock.now()
    reg = links.open_offer(request, session, token, now)
    value = str(form.get("answer", ""))[:10]
    with attempt(session, fields={"answer": "答复"}) as tried:
        registration.answer_offer(session, token[:300], value, now=now, notify=notify(request))
    if tried.errors:
        return _offer_page(request, session, token, reg, errors=tried.errors)
    return redirect(f"/public/offers/{token}", f"已收到您的答复：{offers.ANSWERS_ZH[value]}")


@router.get("/public/invitations/{token}/invitation.ics")
def answer_ics(token: str, request: Request, session: SessionDep, clock: ClockDep) -> Response:
    """The invitation's calendar file."""
    invitee, event = links.open_invitation(request, session, token, clock.now())
    unit = session.get(Unit, event.unit_id)
    data = icsfiles.event_file(
        event,
        unit.name if unit else "",
        clock.now(),
        url=invitations.answer_url(invitee, event),
        code=grouped(invitee.code),
    )
    return _ics(data, f"event-{event.id}.ics")


@router.get("/public/campaigns/{campaign_id}/calendar.ics")
def campaign_feed(campaign_id: int, session: SessionDep, clock: ClockDep) -> Response:
    """A campaign's public events as a calendar people subscribe to."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound("campaign_not_found", "该活动批次不存在", "campaign not found")
    return _ics(icsfiles.campaign_feed(session, campaign, clock.now()), "openday.ics")


def _ics(data: bytes, name: str) -> Response:
    return Response(
        data,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# ---- staff: the door, an answer by phone, letters ------------------------------------------


def _check_in_page(
    request: Request, session: Session, ev: kit.EventView, **extra: Any
) -> HTMLResponse:
    return render(
        request,
        "check_in.html",
        ev=ev,
        tally=checkin.tally(session, ev.event.id or 0),
        recent=checkin.recent(session, ev.event),
        open=ev.event.state == "invited",
        **extra,
    )


@router.get("/events/{event_id}/check-in")
def check_in_get(
    request: Request, event_id: int, user: UserDep, session: SessionDep
) -> HTMLResponse:
    """The door: type or scan a code."""
    return _check_in_page(request, session, kit.view(session, user, event_id))


@router.post("/events/{event_id}/check-in")
def check_in_post(
    request: Request,
    event_id: int,
    form: FormDep,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    """Check one code in; a refusal is shown (and kept in the audit log), nothing counted."""
    ev = kit.view(session, user, event_id, write=True)
    scan = checkin.check_in(
        session, ev.event, str(form.get("code", ""))[:40], user.actor, clock.now()
    )
    session.commit()
    if scan.ok:
        return redirect(f"/events/{event_id}/check-in", scan.message)
    ev = kit.view(session, user, event_id)
    error = FieldError(scan.message, "code", 409 if scan.code != "code_invalid" else 422)
    return _check_in_page(request, session, ev, errors=[error])  # the input empty for the next scan


@router.post("/events/{event_id}/invitees/{invitee_id}/answer")
def phone_answer(
    request: Request,
    event_id: int,
    invitee_id: int,
    form: FormDep,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    """An answer the clerk took by phone (audited under the clerk's name). A 不参加 that takes
    the citizens' share below the rule is shown first (仍然登记 records it, flagged)."""
    ev = kit.view(session, user, event_id, write=True)
    value = str(form.get("answer", ""))[:10]
    confirmed = form.get("confirm_share_below") == "1"
    person = kit_invitee(session, ev.event, invitee_id)
    short = invitations.share_if_no(session, person, ev.event) if value == "no" else None
    if short is not None and not confirmed and ev.event.state in ("planned", "invited"):
        return render(request, "answer_check.html", ev=ev, person=person, short=short)
    with attempt(session, fields={"answer": "答复"}) as tried:
        user.actor.require_write()
        invitations.answer(
            session, person, ev.event, value, via="phone", actor=user.actor, now=clock.now(),
            confirm_share_below=confirmed,
        )  # fmt: skip
        if value == "no":
            registration.drop_out(
                session, ev.event, invitee_id, now=clock.now(), notify=notify(request)
            )
    if tried.errors:
        return invitees_page(request, session, kit.view(session, user, event_id), tried.errors)
    return redirect(
        f"/events/{event_id}/invitees#p{invitee_id}",
        f"已登记电话答复：{invitations.ANSWERS_ZH[value]}"
        + ("（市民代表比例低于要求，已标记）" if short is not None else ""),
    )


def kit_invitee(session: Session, event: Event, invitee_id: int) -> Invitee:
    """An invitee of this event, or 404."""
    person = session.get(Invitee, invitee_id)
    if person is None or person.event_id != event.id:
        raise NotFound("invitee_not_found", f"受邀人员 {invitee_id} 不存在", "invitee not found")
    return person


@router.get("/events/{event_id}/invitations/letters")
def letters(request: Request, event_id: int, user: UserDep, session: SessionDep) -> HTMLResponse:
    """Printable invitation letters for those no message reaches (no phone, no e-mail)."""
    ev = kit.view(session, user, event_id)
    people = [p for p in kit.invitee_list(session, ev.event.id or 0) if p.invited]
    ways = invitations.ways(session, people)
    chosen = [p for p in people if ways.get(p.id or 0) == ["letter"]]
    return render(
        request,
        "letters.html",
        ev=ev,
        letters=[
            {
                "person": p,
                "code": grouped(p.code),
                "qr": qr_svg(p.code or ""),
                "url": invitations.answer_url(p, ev.event),
            }
            for p in chosen
        ],
    )
