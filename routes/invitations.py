"""Invitations and the door as JSON (issue 27): an invitation's or a waiting-list offer's
answer through its signed link (no account: the link is the credential), the clerk's answer
taken by phone, and check-in at the door.

The public half lives under /api/v1/public like the rest of what citizens use; a refused link
is audited (throttled per client address, web/links.py) before the refusal is answered. The
pages under /public and /events/{id}/check-in call the same workflows.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlmodel import Session

from models import Event, Invitee, Registration, Unit
from models.codes import grouped
from schemas.invitations import (
    AnswerIn,
    CheckedInOut,
    CheckInIn,
    CheckInOut,
    CheckInsOut,
    InvitationOut,
    OfferAnswerIn,
    OfferOut,
    PhoneAnswerIn,
)
from schemas.invitees import InviteeOut
from web import links
from web.deps import API_PREFIX, ActorDep, ClockDep, SessionDep
from web.loaders import load_event, load_event_for_write
from web.public import notify
from workflows.event import checkin, invitations
from workflows.kernel.errors import NotFound
from workflows.public import registration as flow

public = APIRouter(prefix=API_PREFIX + "/public", tags=["public"])
staff = APIRouter(prefix=API_PREFIX + "/events/{event_id}", tags=["invitees"])
OPEN = ("planned", "invited")


def _invitation_out(session: Session, invitee: Invitee, event: Event, token: str) -> InvitationOut:
    unit = session.get(Unit, event.unit_id)
    return InvitationOut(
        event_id=event.id, theme=event.theme, unit_name=unit.name if unit else "",  # type: ignore[arg-type]
        date_earliest=event.date_earliest, date_latest=event.date_latest,
        start_time=event.start_time, end_time=event.end_time, location=event.location,
        name=invitee.name, answer=invitee.answer, answer_via=invitee.answer_via,
        answered_at=invitee.answered_at, code=grouped(invitee.code or ""),
        can_answer=event.state in OPEN,
        ics_url=f"/public/invitations/{token}/invitation.ics",
    )  # fmt: skip


@public.get("/invitations/{token}")
def get_invitation(
    token: str, request: Request, session: SessionDep, clock: ClockDep
) -> InvitationOut:
    """The invitation behind a signed link: the event, the door code, the answer so far."""
    invitee, event = links.open_invitation(request, session, token, clock.now())
    return _invitation_out(session, invitee, event, token)


@public.post("/invitations/{token}/answer")
def answer_invitation(
    token: str, body: AnswerIn, request: Request, session: SessionDep, clock: ClockDep
) -> InvitationOut:
    """参加 (yes) or 不参加 (no) through the link; a confirmed registrant's no frees their place
    for the waiting list. A no that takes the citizens' share below the rule is recorded,
    flagged, never refused."""
    now = clock.now()
    invitee, event = links.open_invitation(request, session, token, now)
    invitations.answer(
        session, invitee, event, body.answer, via="link", actor=invitations.INVITEE_ACTOR, now=now
    )
    if body.answer == "no":
        flow.drop_out(session, event, invitee.id or 0, now=now, notify=notify(request))
    result = _invitation_out(session, invitee, event, token)
    session.commit()
    return result


def _offer_out(session: Session, reg: Registration) -> OfferOut:
    event = session.get(Event, reg.event_id)
    return OfferOut(
        code=grouped(reg.code), event_id=reg.event_id, event_theme=event.theme if event else "",
        state=reg.state, state_label=flow.state_label(reg),
        offer_until=reg.offer_until if reg.state == "offered" else None,
        can_answer=reg.state == "offered",
    )  # fmt: skip


@public.get("/offers/{token}")
def get_offer(token: str, request: Request, session: SessionDep, clock: ClockDep) -> OfferOut:
    """A waiting-list offer behind its signed link: the event, the state, the window's end."""
    return _offer_out(session, links.open_offer(request, session, token, clock.now()))


@public.post("/offers/{token}/answer")
def answer_offer(
    token: str, body: OfferAnswerIn, request: Request, session: SessionDep, clock: ClockDep
) -> OfferOut:
    """accept (the place is theirs, for the unit to confirm) or decline (the next waiting is
    offered it); 409 offer_closed once answered or lapsed, 410 after the window."""
    now = clock.now()
    links.open_offer(request, session, token, now)
    reg = flow.answer_offer(session, token[:300], body.answer, now=now, notify=notify(request))
    result = _offer_out(session, reg)
    session.commit()
    return result


@staff.post("/invitees/{invitee_id}/answer")
def phone_answer(
    event_id: int,
    invitee_id: int,
    body: PhoneAnswerIn,
    request: Request,
    actor: ActorDep,
    session: SessionDep,
    clock: ClockDep,
) -> InviteeOut:
    """An answer the clerk took by phone (audited under their name); see PhoneAnswerIn."""
    event = load_event_for_write(session, actor, event_id)
    person = session.get(Invitee, invitee_id)
    if person is None or person.event_id != event.id:
        raise NotFound("invitee_not_found", f"受邀人员 {invitee_id} 不存在", "invitee not found")
    now = clock.now()
    invitations.answer(
        session, person, event, body.answer, via="phone", actor=actor, now=now,
        confirm_share_below=body.confirm_share_below,
    )  # fmt: skip
    if body.answer == "no":
        flow.drop_out(session, event, invitee_id, now=now, notify=notify(request))
    result = InviteeOut.model_validate(person)
    session.commit()
    return result


@staff.post("/check-ins", status_code=201)
def check_in(
    event_id: int, body: CheckInIn, actor: ActorDep, session: SessionDep, clock: ClockDep
) -> CheckInOut:
    """Check in the person behind a door code (typed or scanned). A refusal (unknown code,
    another event's, scanned twice, before or after the day) is audited and answered with its
    code (check_in_*), nothing counted."""
    event = load_event_for_write(session, actor, event_id)
    scan = checkin.check_in(session, event, body.code, actor, clock.now())
    session.commit()
    if not scan.ok:
        raise checkin.refusal_error(scan)
    tally = checkin.tally(session, event_id)
    return CheckInOut(
        invitee_id=scan.invitee_id, name=scan.name, checked_in_at=scan.at,  # type: ignore[arg-type]
        message=scan.message, checked_in=tally.checked_in, invited=tally.invited,
    )  # fmt: skip


@staff.get("/check-ins")
def list_check_ins(event_id: int, actor: ActorDep, session: SessionDep) -> CheckInsOut:
    """签到出席：n / m and the latest twenty check-ins, newest first."""
    event = load_event(session, actor, event_id)
    tally = checkin.tally(session, event_id)
    recent = [
        CheckedInOut(invitee_id=p.id, name=p.name, checked_in_at=p.checked_in_at)  # type: ignore[arg-type]
        for p in checkin.recent(session, event)
    ]
    return CheckInsOut(checked_in=tally.checked_in, invited=tally.invited, recent=recent)
