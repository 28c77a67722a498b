"""Invitations people answer (issue 27): owed at the invite move, answered by a signed link.

When an event is invited, every invitee on its list is owed an invitation in the move's own
transaction: a Notification row (and its outbox row) per channel that reaches them — `sms`
through the SMS gateway when they have a phone and the SMS channel is on, `email` when they
have an address and SMTP is configured — and, for those no channel reaches, a printable letter
(the event's letters page). The text names the theme, the unit, the day and time, the place,
the door code and a link to answer 参加 / 不参加.

The link is signed (HMAC-SHA256 with a key derived from the audit key, no account) and carries
the event, the invitee and its expiry (the end of the event's last day): a forged, expired or
other event's link is refused in words and the refusal is audited. Rows never hold a phone or
an address: the recipient is `invitee:<id>`, resolved by the worker at send time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from sqlmodel import Session, col, select

from models import (
    Campaign,
    Event,
    EventState,
    Invitee,
    InviteeCategory,
    Notification,
    Registration,
    Timer,
    TimerState,
    Unit,
)
from models.codes import grouped
from settings import get_settings
from workflows.campaign.rules import CampaignRules
from workflows.event import icsfiles
from workflows.kernel import audit, jobs, tenancy
from workflows.kernel.audit import chain_key
from workflows.kernel.daywords import hours_zh, window_zh
from workflows.kernel.errors import Conflict, DomainError
from workflows.kernel.visibility import Actor
from workflows.public import notices
from workflows.workdays import deadlines
from workflows.workdays.deadlines import end_of_local_day, wake_schedulers

log = structlog.get_logger("openday.invitations")

SUBJECT_TYPE = "invitee"
RULE = "invitation"
RECIPIENT_PREFIX = "invitee:"
ANSWERS_ZH = {"yes": "参加", "no": "不参加"}
VIA_ZH = {"link": "本人答复", "phone": "电话答复", "signup": "公开报名"}
HOW_ZH = {"sms": "短信", "email": "电子邮件", "letter": "信函"}
# Who answers through a link: no account, a name the audit lines show.
INVITEE_ACTOR = Actor(id=None, name="受邀人（链接答复）", role="staff", unit_id=None)
TOKEN_CHARS = 200  # a link longer than this is not ours


def channels() -> notices.Channels:
    """The channels that reach invitees (the service's settings; tests replace this)."""
    return notices.Channels.of(get_settings())


def public_base() -> str:
    """The address the links in invitations point to."""
    return get_settings().public_base


# ---- signed links --------------------------------------------------------------------------


def _link_key() -> bytes:
    return hmac.new(chain_key(), b"openday invitation link v1", hashlib.sha256).digest()


def expires_at(event: Event) -> datetime:
    """An answer link works until the end of the event's last day (Asia/Shanghai)."""
    return end_of_local_day(event.date_latest)


def sign(body: str) -> str:
    """The link signature of `body` (each kind of link prefixes its own body)."""
    return _sign(body)


def _sign(body: str) -> str:
    digest = hmac.new(_link_key(), body.encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def token_for(invitee: Invitee, event: Event) -> str:
    """`<event>.<invitee>.<expiry>.<signature>`: who, for which event, until when."""
    body = f"{event.id}.{invitee.id}.{int(expires_at(event).timestamp())}"
    return f"{body}.{_sign(body)}"


def answer_url(invitee: Invitee, event: Event, base: str | None = None) -> str:
    """The public answer page of one invitation."""
    return f"{(base or public_base()).rstrip('/')}/public/invitations/{token_for(invitee, event)}"


def _refused(code: str, zh: str, en: str, status: int, **details: Any) -> DomainError:
    return DomainError(code, zh, en, status=status, details=details)


def _parse(token: str) -> tuple[int, int, int]:
    parts = token.split(".") if len(token) <= TOKEN_CHARS else []
    if len(parts) != 4 or not all(p.isdigit() for p in parts[:3]):
        raise _refused(
            "invitation_link_invalid",
            "邀请链接无效，请核对短信或邮件中的完整链接",
            "this is not a valid invitation link",
            404,
        )
    body = ".".join(parts[:3])
    if not hmac.compare_digest(_sign(body), parts[3]):
        raise _refused(
            "invitation_link_forged",
            "邀请链接校验未通过（可能被改动），请使用收到的原始链接",
            "the invitation link's signature does not match",
            403,
        )
    return int(parts[0]), int(parts[1]), int(parts[2])


def open_link(session: Session, token: str, now: datetime) -> tuple[Invitee, Event]:
    """The invitation behind a link, or a refusal in words (see record_refusal)."""
    event_id, invitee_id, until = _parse(token)
    tenancy.for_citizen(session, event_id)  # an answer by the link writes in that district
    invitee = session.get(Invitee, invitee_id)
    event = session.get(Event, event_id)
    if invitee is None or event is None:
        raise _refused(
            "invitation_not_found",
            "该邀请已不存在（可能已从名单中移除），请联系主办单位",
            "the invitation no longer exists",
            404,
        )
    if invitee.event_id != event.id:
        raise _refused(
            "invitation_other_event",
            "该链接不属于此活动，请使用您收到的本活动邀请链接",
            "the link belongs to another event",
            409,
        )
    if now.timestamp() >= until or now >= expires_at(event):
        raise _refused(
            "invitation_link_expired",
            "邀请链接已过期（活动日期已过），无法再答复",
            "the invitation link has expired",
            410,
        )
    return invitee, event


def audit_refusal(
    session: Session,
    actor: Actor,
    entity: str,
    token: str,
    exc: DomainError,
    now: datetime,
    *,
    source: str | None = None,
    refused_before: int = 0,
) -> None:
    """Audit a refused answer link (the caller commits it in a transaction of its own).
    `source`: a keyed hash of the client's address; `refused_before`: how many refusals from
    it the throttle counted in the window before, its one audited line included
    (web/links.py)."""
    after: dict[str, Any] = {"code": exc.code, "link": token[:60]}
    if source is not None:
        after.update(source=source, refused_before=refused_before)
    tenancy.for_access_line(session, None)  # a link's refusal: a city-level access line
    audit.record(
        session, actor, entity=entity, entity_id=None, action="refused", now=now, after=after
    )


def record_refusal(
    session: Session, token: str, exc: DomainError, now: datetime, **throttled: Any
) -> None:
    """Audit a refused invitation link (see audit_refusal)."""
    audit_refusal(session, INVITEE_ACTOR, "invitation_link", token, exc, now, **throttled)


# ---- answering -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ShareShort:
    """The citizens among those still coming, below the campaign's share rule."""

    coming: int
    citizens: int
    needed: int

    def as_dict(self) -> dict[str, int]:
        """For an audit line and an error's details."""
        return {"coming": self.coming, "citizens": self.citizens, "needed": self.needed}


def share_short(
    session: Session, event: Event, *, saying_no: int | None = None
) -> ShareShort | None:
    """The citizens' share among invitees not answering 不参加 (and, with `saying_no`, were
    that invitee to say it) when it falls below the campaign's rule; None when it holds."""
    people = session.exec(
        select(Invitee.id, Invitee.category, Invitee.answer).where(
            Invitee.event_id == event.id, col(Invitee.invited)
        )
    ).all()
    coming = [c for i, c, a in people if a != "no" and i != saying_no]
    citizens = sum(c == InviteeCategory.citizen for c in coming)
    campaign = session.get(Campaign, event.campaign_id)
    needed = CampaignRules.of(campaign.rules if campaign else {}).citizens_needed(len(coming))
    return ShareShort(len(coming), citizens, needed) if citizens < needed else None


def share_if_no(session: Session, invitee: Invitee, event: Event) -> ShareShort | None:
    """Where the citizens' share would stand were this citizen to say 不参加 now, when below
    the rule; None when it holds (or the answer would not lower it)."""
    if invitee.answer == "no" or invitee.category != InviteeCategory.citizen:
        return None
    return share_short(session, event, saying_no=invitee.id)


def _share_flag(
    session: Session, invitee: Invitee, event: Event, value: str, via: str, confirmed: bool
) -> ShareShort | None:
    """A 不参加 that takes the citizens' share below the rule: a clerk entering it is asked to
    confirm first (409 citizens_share_below; `confirm_share_below` records it, flagged); the
    invitee's own answer by the link is never refused, only flagged."""
    short = share_if_no(session, invitee, event) if value == "no" else None
    if short is not None and via == "phone" and not confirmed:
        raise Conflict(
            "citizens_share_below",
            f"登记后预计出席 {short.coming} 人，其中市民代表 {short.citizens} 人，低于市民代表"
            f"比例要求（至少 {short.needed} 人）。如确认登记，请选择“仍然登记”",
            "this answer takes the citizens' share of those coming below the campaign's rule; "
            "send confirm_share_below to record it anyway (flagged)",
            details={"field": "confirm_share_below", **short.as_dict()},
        )
    return short


def answer(
    session: Session,
    invitee: Invitee,
    event: Event,
    value: str,
    *,
    via: str,
    actor: Actor,
    now: datetime,
    confirm_share_below: bool = False,
) -> Invitee:
    """Record 参加 (yes) or 不参加 (no), by the link or taken by phone; audited. A person may
    change their mind until the event is held; the last answer counts. A 不参加 that takes the
    citizens' share below the rule is flagged in the audit line (see _share_flag)."""
    if value not in ANSWERS_ZH:
        raise DomainError(
            "answer_invalid",
            "答复只能是：参加（yes）、不参加（no）",
            "answer must be one of: yes, no",
            status=422,
            details={"field": "answer", "allowed": list(ANSWERS_ZH)},
        )
    if event.state not in (EventState.planned, EventState.invited):
        raise Conflict(
            "answer_closed",
            "活动已举办或已取消，不能再答复邀请",
            "the event is no longer open for answers",
        )
    short = _share_flag(session, invitee, event, value, via, confirm_share_below)
    before = {"answer": invitee.answer, "answer_via": invitee.answer_via}
    invitee.answer, invitee.answer_via, invitee.answered_at = value, via, now
    after: dict[str, Any] = {"answer": value, "answer_via": via, "event_id": event.id}
    if short is not None:
        after["flags"] = ["citizens_share_below"]
        after["share"] = short.as_dict()
    audit.record(
        session, actor, entity="invitee", entity_id=invitee.id, action="answer", now=now,
        before=before, after=after, unit_id=event.unit_id,
    )  # fmt: skip
    log.info("invitation_answered", invitee_id=invitee.id, answer=value, via=via)
    return invitee


# ---- owing invitations ---------------------------------------------------------------------


@dataclass(frozen=True)
class Reach:
    """How one invitee can be reached: phone and e-mail (their own, or their registration's)."""

    phone: bool
    email: bool
    registration_id: int | None = None


def reach_of(session: Session, invitees: list[Invitee]) -> dict[int, Reach]:
    """Each invitee's contacts; a confirmed registrant's are their registration's."""
    ids = [i.id for i in invitees]
    regs = {
        r.invitee_id: r
        for r in session.exec(select(Registration).where(col(Registration.invitee_id).in_(ids)))
    }
    out = {}
    for i in invitees:
        reg = regs.get(i.id)
        if reg is not None and reg.purged_at is None:
            out[i.id] = Reach(bool(reg.phone_enc), bool(reg.email_enc), reg.id)
        else:
            out[i.id] = Reach(bool(i.phone), bool(i.email))
    return out  # type: ignore[return-value]


def how_invited(reach: Reach, on: notices.Channels) -> list[str]:
    """The channels an invitation goes by: sms and/or email, else a printed letter."""
    ways = [
        c for c, ok in (("sms", reach.phone and on.sms), ("email", reach.email and on.email)) if ok
    ]
    return ways or ["letter"]


def compose(kind: str, invitee: Invitee, event: Event, unit_name: str, url: str) -> str:
    """The text of an invitation or a reminder: theme, unit, day and time, place, code, link."""
    when = window_zh(event.date_earliest, event.date_latest) + hours_zh(
        event.start_time, event.end_time
    )
    where = f"，地点：{event.location}" if event.location else ""
    code = grouped(invitee.code)
    if kind == "reminder":
        return (
            f"{invitee.name}您好，提醒您参加{unit_name}“{event.theme}”政府开放日活动："
            f"{when}{where}。入场签到码 {code}。详情：{url}"
        )
    return (
        f"{invitee.name}您好，{unit_name}诚邀您参加“{event.theme}”政府开放日活动："
        f"{when}{where}。请点击链接答复参加或不参加：{url} 入场签到码 {code}。"
    )


def notification_key(invitee_id: int, kind: str, channel: str, event: Event) -> str:
    """One invitation (or reminder for the current day) per invitee and channel, ever."""
    return f"{SUBJECT_TYPE}:{invitee_id}:{kind}:{event.date_earliest.isoformat()}:{channel}"


def owe(
    session: Session,
    event: Event,
    invitees: list[Invitee],
    kind: str,
    now: datetime,
    *,
    on: notices.Channels | None = None,
) -> list[int]:
    """Owe each invitee an invitation (or reminder) on every channel that reaches them, in the
    caller's transaction, with its outbox row; a key already owed is skipped (nothing twice).
    Written past the ORM (one multi-row insert), so a move's event row is not flushed early:
    the move bumps its version exactly once. Returns the new notifications' ids."""
    if any(i.id is None for i in invitees):
        session.flush(invitees)
    on = channels() if on is None else on
    unit = session.get(Unit, event.unit_id)
    reach = reach_of(session, invitees)
    wanted = {
        notification_key(i.id, kind, c, event): (i, c)  # type: ignore[arg-type]
        for i in invitees
        for c in how_invited(reach[i.id], on)  # type: ignore[index]
        if c != "letter"
    }
    existing = set(
        session.exec(select(Notification.key).where(col(Notification.key).in_(list(wanted))))
    )
    base, rows, unit_name = public_base(), [], unit.name if unit else ""
    title = "政府开放日：活动邀请" if kind == "invitation" else "政府开放日：活动提醒"
    for key, (invitee, channel) in wanted.items():
        if key not in existing:
            url = answer_url(invitee, event, base)
            rows.append({
                "key": key, "subject_type": SUBJECT_TYPE, "subject_id": invitee.id,
                "event_id": event.id, "unit_id": event.unit_id, "rule": RULE, "kind": kind,
                "level": 0, "channel": channel, "recipient": f"{RECIPIENT_PREFIX}{invitee.id}",
                "title": title, "body": compose(kind, invitee, event, unit_name, url),
                "state": "pending", "attempts": 0, "created_at": now,
            })  # fmt: skip
    if not rows:
        return []
    table = Notification.__table__  # type: ignore[attr-defined]
    ids = list(session.execute(sa.insert(table).returning(table.c.id), rows).scalars())
    jobs.owe_deliveries(session, ids, now)
    wake_schedulers(session)
    log.info("invitations_owed", event_id=event.id, kind=kind, count=len(ids))
    return ids


def address_of(session: Session, recipient: str, channel: str, keys: Any) -> str | None:
    """The phone or address behind `invitee:<id>` at send time (None: gone or purged)."""
    raw = recipient.removeprefix(RECIPIENT_PREFIX)
    invitee = session.get(Invitee, int(raw)) if raw.isdigit() else None
    if invitee is None:
        return None
    reg = session.exec(select(Registration).where(Registration.invitee_id == invitee.id)).first()
    if reg is not None:
        return notices.address_of(session, f"{notices.RECIPIENT_PREFIX}{reg.id}", channel, keys)
    return invitee.phone if channel == "sms" else invitee.email


# ---- the day-before reminder ---------------------------------------------------------------

REMINDER_RULE = "attendance"  # the timer's rule: remind those who said yes


def reminder_deadline(event: Event, rules: Any) -> deadlines.Deadline:
    """One reminder timer per event: reminder_days_before the first day, at reminder_hour."""
    due = deadlines.at_local(
        event.date_earliest - timedelta(days=rules.reminder_days_before), rules.reminder_hour
    )
    spec = deadlines.TimerSpec(deadlines.REMINDER, 0, due, False)
    return deadlines.Deadline(
        rule=REMINDER_RULE, subject_type="event", subject_id=event.id,  # type: ignore[arg-type]
        event_id=event.id, deadline_on=event.date_earliest,  # type: ignore[arg-type]
        due_at=due, provisional=False, timers=(spec,),
    )  # fmt: skip


def arm_reminder(session: Session, event: Event, rules: Any, now: datetime) -> None:
    """Arm (or move) the event's reminder timer at invite time and at a reschedule; a moment
    already past (invited the evening before) reminds at once."""
    deadlines.arm(session, reminder_deadline(event, rules), now, rearm_fired=True)


def yes_sayers(session: Session, event: Event) -> list[Invitee]:
    """Invitees who said yes (a confirmed registrant said yes by registering)."""
    return list(
        session.exec(
            select(Invitee)
            .where(Invitee.event_id == event.id, col(Invitee.invited), Invitee.answer == "yes")
            .order_by(col(Invitee.id))
        )
    )


def send_reminders(session: Session, timer_ids: list[int], now: datetime) -> dict[int, str]:
    """Handle fired reminder timers: owe each yes-sayer a reminder (keys make it once only);
    a timer of an event no longer invited, or moved to another day, is skipped."""
    states: dict[int, str] = {}
    timers = session.exec(
        select(Timer).where(col(Timer.id).in_(timer_ids), Timer.state == TimerState.fired)
    ).all()
    for timer in timers:
        event = session.get(Event, timer.event_id)
        stale = (
            event is None
            or event.state != EventState.invited
            or timer.deadline_on != event.date_earliest
        )
        if not stale:
            assert event is not None
            owe(session, event, yes_sayers(session, event), "reminder", now)
        timer.state = TimerState.skipped if stale else TimerState.done
        timer.handled_at = now
        states[timer.id] = timer.state  # type: ignore[index]
    return states


# ---- what an e-mail carries ----------------------------------------------------------------


def qr_png(code: str) -> bytes:
    """The door code as a QR code (PNG): a scanner at the door types it into the check-in page."""
    import segno  # only where a QR code is drawn: kept off the service's start

    out = io.BytesIO()
    segno.make(grouped(code), error="m", micro=False).save(out, kind="png", scale=6, border=4)
    return out.getvalue()


def _invitee_of_row(session: Session, row: Notification) -> Invitee | None:
    if row.rule == RULE:
        return session.get(Invitee, row.subject_id)
    if row.rule == notices.RULE and row.kind == "confirmed":
        reg = session.get(Registration, row.subject_id)
        return session.get(Invitee, reg.invitee_id) if reg and reg.invitee_id else None
    return None


def attachments_for(session: Session, row: Notification, now: datetime) -> list[dict[str, Any]]:
    """An invitation, reminder or registration confirmation e-mail carries the event's .ics
    and the door code's QR code; other messages carry nothing."""
    invitee = _invitee_of_row(session, row) if row.channel == "email" else None
    event = session.get(Event, invitee.event_id) if invitee else None
    if invitee is None or event is None or not invitee.code:
        return []
    unit = session.get(Unit, event.unit_id)
    ics = icsfiles.event_file(
        event, unit.name if unit else "", now, url=answer_url(invitee, event),
        code=grouped(invitee.code),
    )  # fmt: skip
    return [
        {"filename": "invitation.ics", "type": "text/calendar", "content": ics},
        {"filename": "checkin-qr.png", "type": "image/png", "content": qr_png(invitee.code)},
    ]


def ways(session: Session, invitees: list[Invitee]) -> dict[int, list[str]]:
    """How each invitee is invited (sms, email or letter), as the channels stand now."""
    on, reach = channels(), reach_of(session, invitees)
    return {i.id: how_invited(reach[i.id], on) for i in invitees if i.id is not None}


def ways_zh(found: list[str]) -> str:
    """短信、电子邮件 / 信函."""
    return "、".join(HOW_ZH.get(w, w) for w in found)
