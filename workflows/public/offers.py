"""Waiting-list offers (issue 27): a place that comes free is offered to the first waiting
citizen for an answer window, then to the next.

The offer holds the place (`offered` counts as taken) until `offer_until`: the campaign's
`waitlist_offer_hours` from now, never past the event's start. The window's end is a durable
timer row (rule `waitlist_offer`), fired by the scheduler like every deadline, so an offer
outlives a restart and nobody waits on a delayed queue message. The person is sent the offer
through the registrant notification rows (SMS / e-mail, outbox) with a signed link to accept or
decline; no account. The link carries the registration and the window's end, signed with the
invitation links' key under its own prefix; a forged, expired or answered link is refused in
words (and the refusal audited by the caller).

The moves themselves (offer the next, accept, decline, lapse) live in registration.py, which
knows the places; this module is the window, the link and the message.
"""

from __future__ import annotations

import hmac
from datetime import datetime, time, timedelta
from typing import Any

from sqlmodel import Session

from models import Event, Registration, RegistrationState
from workflows.campaign.rules import CampaignRules
from workflows.event import invitations
from workflows.kernel import audit
from workflows.kernel.clock import LOCAL_TZ
from workflows.kernel.errors import DomainError
from workflows.kernel.visibility import SYSTEM, Actor
from workflows.public import notices
from workflows.workdays import deadlines

RULE = "waitlist_offer"  # the timer's rule: the answer window of one offer
KIND = "expiry"
SUBJECT_TYPE = "registration"
TOKEN_CHARS = 120
# Who answers through an offer link: no account, a name the audit lines show.
OFFER_ACTOR = Actor(id=None, name="候补报名人（链接答复）", role="staff", unit_id=None)
ANSWERS_ZH = {"accept": "接受递补名额", "decline": "放弃递补名额"}


def _event_start(event: Event) -> datetime:
    return datetime.combine(event.date_earliest, event.start_time or time(0), LOCAL_TZ)


def window_end(event: Event, rules: CampaignRules, now: datetime) -> datetime:
    """The end of an offer made now: waitlist_offer_hours later, but not past the event's
    start (an offer made later than that still gets the full window: nobody else is faster)."""
    full = now + timedelta(hours=rules.waitlist_offer_hours)
    start = _event_start(event)
    return min(full, start) if start > now else full


def _body(reg: Registration) -> str:
    until = int(reg.offer_until.timestamp()) if reg.offer_until else 0
    return f"{reg.id}.{until}"


def token_for(reg: Registration) -> str:
    """`<registration>.<window end>.<signature>`."""
    body = _body(reg)
    return f"{body}.{invitations.sign('offer.' + body)}"


def offer_url(reg: Registration, base: str | None = None) -> str:
    """The public page that accepts or declines one offer."""
    return f"{(base or invitations.public_base()).rstrip('/')}/public/offers/{token_for(reg)}"


def _refused(code: str, zh: str, en: str, status: int) -> DomainError:
    return DomainError(code, zh, en, status=status)


def _parse(token: str) -> tuple[int, int]:
    parts = token.split(".") if len(token) <= TOKEN_CHARS else []
    if len(parts) != 3 or not all(p.isdigit() for p in parts[:2]):
        raise _refused(
            "offer_link_invalid",
            "递补链接无效，请核对短信或邮件中的完整链接",
            "this is not a valid waiting-list offer link",
            404,
        )
    body = ".".join(parts[:2])
    if not hmac.compare_digest(invitations.sign("offer." + body), parts[2]):
        raise _refused(
            "offer_link_forged",
            "递补链接校验未通过（可能被改动），请使用收到的原始链接",
            "the offer link's signature does not match",
            403,
        )
    return int(parts[0]), int(parts[1])


def open_link(session: Session, token: str, now: datetime) -> Registration:
    """The registration an offer link names, whatever its state now (the page says it)."""
    reg_id, until = _parse(token)
    reg = session.get(Registration, reg_id)
    if reg is None:
        raise _refused("offer_not_found", "该递补名额已不存在", "the offer no longer exists", 404)
    if reg.state == RegistrationState.offered and now.timestamp() >= until:
        raise _refused(
            "offer_link_expired",
            "递补答复时限已过，名额已按顺序递补给下一位",
            "the offer's answer window has passed",
            410,
        )
    return reg


def check_answerable(reg: Registration, token: str, now: datetime) -> None:
    """Only an offer still open, and only through the link of this offer, is answered."""
    if reg.state != RegistrationState.offered or token.split(".")[1] != _body(reg).split(".")[1]:
        raise _refused(
            "offer_closed",
            "该递补名额已答复或已失效，不能再答复",
            "this offer is answered or no longer open",
            409,
        )
    if reg.offer_until is not None and now >= reg.offer_until:
        raise _refused(
            "offer_link_expired",
            "递补答复时限已过，名额已按顺序递补给下一位",
            "the offer's answer window has passed",
            410,
        )


def record_refusal(
    session: Session, token: str, exc: DomainError, now: datetime, **throttled: Any
) -> None:
    """Audit a refused offer link (see invitations.audit_refusal)."""
    invitations.audit_refusal(session, OFFER_ACTOR, "offer_link", token, exc, now, **throttled)


def arm(session: Session, reg: Registration, event: Event, now: datetime) -> None:
    """The window's end as a timer row, in the offer's transaction."""
    assert reg.id is not None and reg.offer_until is not None and event.id is not None
    spec = deadlines.TimerSpec(KIND, 0, reg.offer_until, False)
    deadline = deadlines.Deadline(
        rule=RULE, subject_type=SUBJECT_TYPE, subject_id=reg.id, event_id=event.id,
        deadline_on=reg.offer_until.astimezone(LOCAL_TZ).date(), due_at=reg.offer_until,
        provisional=False, timers=(spec,),
    )  # fmt: skip
    deadlines.arm(session, deadline, now, rearm_fired=True)


def disarm(session: Session, reg: Registration) -> None:
    """An offer answered before its window ended: its timer has nothing left to do."""
    deadlines.cancel(session, subject_type=SUBJECT_TYPE, subject_ids=[reg.id or 0], rule=RULE)


def make(
    session: Session,
    reg: Registration,
    event: Event,
    rules: CampaignRules,
    now: datetime,
    notify: notices.Channels,
    *,
    reason: str,
) -> Registration:
    """Offer `reg` the place: state, window, timer, audit line and message, in one go."""
    before: dict[str, Any] = {"state": reg.state}
    reg.state, reg.updated_at = RegistrationState.offered, now
    reg.offer_until = window_end(event, rules, now)
    session.flush()
    arm(session, reg, event, now)
    audit.record(
        session, SYSTEM, entity="public_registration", entity_id=reg.id, action="offer",
        now=now, before=before, unit_id=event.unit_id,
        after={"state": reg.state, "offer_until": reg.offer_until, "event_id": event.id,
               "reason": reason},
    )  # fmt: skip
    notices.owe(session, reg, event, "offered", notify, now, link=offer_url(reg))
    return reg
