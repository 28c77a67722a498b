"""Public registration for an event's public places (公开邀请): eligibility, first come first
served up to the places, then a waiting list in arrival order; cancel and look up by code and
phone; staff confirm (the person becomes an invitee: 市民代表, 公开邀请) or decline. A declined
person (the same phone or ID number) cannot register for that event again until the unit lifts
the block (`lift_decline`, audited).

Registrations for one event are serialised by a row lock on the event (FOR UPDATE on
PostgreSQL; SQLite writers hold the database's write lock), so the count of places taken read
under the lock is the truth: no over-booking. Locking does not bump the event's version, so a
citizen registering never makes a clerk's next move stale.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from models import (
    Campaign,
    Event,
    EventState,
    Registration,
    RegistrationState,
    Timer,
    TimerState,
    Unit,
)
from models.codes import normalize
from workflows.campaign.rules import CampaignRules
from workflows.event import invitations, invitees
from workflows.kernel import audit, tenancy
from workflows.kernel.clock import local_date
from workflows.kernel.errors import Conflict, DomainError, NotFound
from workflows.kernel.visibility import SYSTEM, Actor
from workflows.public import notices, offers
from workflows.public.privacy import Keys

OPEN_STATES = (EventState.planned, EventState.invited)
# An offered place is held for its answer window (workflows/public/offers.py).
TAKING = (RegistrationState.registered, RegistrationState.confirmed, RegistrationState.offered)
ACTIVE = (*TAKING, RegistrationState.waitlisted)
STATE_LABELS_ZH = {
    "registered": "已报名，待单位确认",
    "waitlisted": "候补中",
    "confirmed": "已确认参加",
    "declined": "未获确认",
    "cancelled": "已取消",
    "offered": "已通知递补，待答复",
    "lapsed": "递补名额未按时答复，已失效",
}
_PHONE = re.compile(r"^1[3-9]\d{9}$")
_ID = re.compile(r"^\d{17}[\dX]$")
_EMAIL = re.compile(r"^[^@\s,;<>\"()\[\]]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


@dataclass(frozen=True)
class Applicant:
    """What a citizen types into the registration form (lengths bounded by the schema)."""

    name: str
    phone: str
    district: str
    consent: bool
    id_number: str | None = None
    email: str | None = None  # optional: messages about the registration by e-mail too


def _invalid(code: str, field: str, zh: str, en: str) -> DomainError:
    return DomainError(code, zh, en, status=422, details={"field": field})


def clean_phone(text: str) -> str:
    """A mainland mobile number without spaces or dashes, or 422."""
    phone = re.sub(r"[\s-]", "", text or "").removeprefix("+86")
    if not _PHONE.match(phone):
        raise _invalid(
            "invalid_phone", "phone", "请填写 11 位手机号码", "enter an 11-digit mobile number"
        )
    return phone


def clean_email(text: str | None) -> str | None:
    """An optional single e-mail address (no display name, no list), or 422."""
    email = (text or "").strip()
    if not email:
        return None
    if len(email) > 100 or not _EMAIL.match(email):
        raise _invalid(
            "invalid_email", "email", "电子邮箱格式不正确", "the e-mail address is not valid"
        )
    return email


def birthday_of(id_number: str) -> date:
    """The birthday in an 18-digit resident ID number whose check digit is right, or 422."""
    number = id_number.strip().upper()
    bad = _invalid(
        "invalid_id_number", "id_number", "身份证号码不正确", "the ID number is not valid"
    )
    if not _ID.match(number):
        raise bad
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    if _ID_CHECK[total % 11] != number[17]:
        raise bad
    try:
        return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise bad from None


def _age_on(birthday: date, day: date) -> int:
    return day.year - birthday.year - ((day.month, day.day) < (birthday.month, birthday.day))


def check_eligible(rules: CampaignRules, event: Event, who: Applicant) -> str | None:
    """Consent, residence and age; the normalised ID number when one was given."""
    if not who.consent:
        raise _invalid(
            "consent_required",
            "consent",
            "请阅读并同意个人信息处理说明",
            "consent to the privacy notice is required",
        )
    if not who.name.strip():
        raise _invalid("name_required", "name", "请填写姓名", "enter your name")
    if rules.public_districts and who.district not in rules.public_districts:
        raise _invalid(
            "residence_not_eligible",
            "district",
            f"本次活动仅接受{'、'.join(rules.public_districts)}居民报名",
            "this campaign accepts residents of the listed districts only",
        )
    if not who.district.strip():
        raise _invalid("district_required", "district", "请填写居住地", "enter your district")
    if not who.id_number or not who.id_number.strip():
        return None
    number = who.id_number.strip().upper()
    if _age_on(birthday_of(number), event.date_earliest) < rules.public_min_age:
        raise _invalid(
            "too_young",
            "id_number",
            f"报名人须年满 {rules.public_min_age} 周岁",
            f"registrants must be at least {rules.public_min_age}",
        )
    return number


# ---- reading ---------------------------------------------------------------------------------


def taken(session: Session, event_id: int) -> int:
    """Places taken: registered or confirmed."""
    stmt = select(func.count()).where(
        Registration.event_id == event_id, col(Registration.state).in_(TAKING)
    )
    return int(session.exec(stmt).one())


def taken_by_event(session: Session, event_ids: list[int]) -> dict[int, int]:
    """Places taken per event, in one query."""
    if not event_ids:
        return {}
    stmt = (
        select(Registration.event_id, func.count())
        .where(col(Registration.event_id).in_(event_ids), col(Registration.state).in_(TAKING))
        .group_by(col(Registration.event_id))
    )
    return {event_id: int(n) for event_id, n in session.exec(stmt).all()}


def passed(event: Event, today: date) -> bool:
    """The event's (last) day is before today (Asia/Shanghai): too late to register."""
    return event.date_latest < today


def on_calendar(event: Event, today: date) -> bool:
    """Whether the public calendar offers the event today (places, stage and day)."""
    return event.public_places > 0 and event.state in OPEN_STATES and not passed(event, today)


def public_events(
    session: Session, campaign_id: int | None, today: date, district_id: int | None = None
) -> list[tuple[Event, str, int]]:
    """A campaign's events taking public registration whose day has not passed, by date:
    (event, unit name, places left); with `district_id`, that district's only (its public
    calendar, `/public/d/{code}`)."""
    stmt = (
        select(Event, Unit.name)
        .join(Unit, col(Unit.id) == Event.unit_id)
        .where(Event.public_places > 0, col(Event.state).in_(OPEN_STATES))
        .where(col(Event.date_latest) >= today)
        .order_by(col(Event.date_earliest), col(Event.start_time), col(Event.id))
    )
    if campaign_id is not None:
        stmt = stmt.where(Event.campaign_id == campaign_id)
    if district_id is not None:
        stmt = stmt.where(Unit.district_id == district_id)
    rows = session.exec(stmt).all()
    counts = taken_by_event(session, [e.id for e, _ in rows])  # type: ignore[misc]
    return [(e, name, max(0, e.public_places - counts.get(e.id, 0))) for e, name in rows]  # type: ignore[arg-type]


def open_event(session: Session, event_id: int, *, lock: bool = False) -> tuple[Event, str]:
    """An event taking public registration, with its unit's name; 404 otherwise."""
    stmt = (
        select(Event, Unit.name)
        .join(Unit, col(Unit.id) == Event.unit_id)
        .where(Event.id == event_id, Event.public_places > 0, col(Event.state).in_(OPEN_STATES))
    )
    if lock:
        tenancy.for_citizen(session, event_id)  # a citizen's write: the event's district
        stmt = stmt.with_for_update(of=Event)
    row = session.exec(stmt).first()
    if row is None:
        raise NotFound(
            "public_event_not_found",
            "该活动不存在或未开放公开报名",
            "no such event open to public registration",
        )
    return row[0], row[1]


def refuse_passed(event: Event, today: date) -> None:
    """Registration closes when the event's day has passed."""
    if passed(event, today):
        raise Conflict(
            "registration_closed",
            "该活动的日期已过，报名已截止",
            "the event's day has passed; registration is closed",
        )


def waitlist_position(session: Session, reg: Registration) -> int | None:
    """1 for the first in line; None when not waitlisted."""
    if reg.state != RegistrationState.waitlisted:
        return None
    stmt = select(func.count()).where(
        Registration.event_id == reg.event_id,
        Registration.state == RegistrationState.waitlisted,
        col(Registration.id) <= reg.id,
    )
    return int(session.exec(stmt).one())


# ---- registering, looking up, cancelling -----------------------------------------------------


def _already() -> Conflict:
    return Conflict(
        "already_registered",
        "您在本次开放日活动中已有报名（每人限报一次），可凭确认码查询或取消后再报",
        "this person already holds a registration in this campaign",
    )


def _check_once(session: Session, campaign_id: int, hashes: list[str]) -> None:
    stmt = select(Registration.id).where(
        Registration.campaign_id == campaign_id,
        col(Registration.state).in_(ACTIVE),
        (col(Registration.phone_hash).in_(hashes)) | (col(Registration.id_hash).in_(hashes)),
    )
    if session.exec(stmt).first() is not None:
        raise _already()


def _check_not_declined(session: Session, event_id: int, hashes: list[str]) -> None:
    """A person the unit declined for this event is refused, unless the unit lifted it."""
    stmt = select(Registration.id).where(
        Registration.event_id == event_id,
        Registration.state == RegistrationState.declined,
        col(Registration.decline_lifted_at).is_(None),
        (col(Registration.phone_hash).in_(hashes)) | (col(Registration.id_hash).in_(hashes)),
    )
    if session.exec(stmt).first() is not None:
        raise Conflict(
            "registration_declined",
            "您在本活动的报名未获确认，不能再次报名；如有疑问请联系活动单位",
            "this person's registration for this event was declined; the unit can lift that",
        )


def register(
    session: Session,
    event_id: int,
    who: Applicant,
    *,
    keys: Keys,
    now: datetime,
    notify: notices.Channels = notices.NONE,
) -> Registration:
    """Register for a public place (or the waiting list once the places are taken); the
    person is owed a message saying which, on the channels that reach them."""
    event, _ = open_event(session, event_id, lock=True)
    refuse_passed(event, local_date(now))
    campaign = session.get(Campaign, event.campaign_id)
    rules = CampaignRules.of(campaign.rules if campaign else {})
    phone = clean_phone(who.phone)
    email = clean_email(who.email)
    id_number = check_eligible(rules, event, who)
    phone_hash = keys.digest("phone", phone)
    id_hash = keys.digest("id", id_number) if id_number else None
    _check_not_declined(session, event_id, [h for h in (phone_hash, id_hash) if h])
    if rules.public_once_per_campaign:
        _check_once(session, event.campaign_id, [h for h in (phone_hash, id_hash) if h])
    full = taken(session, event_id) >= event.public_places
    reg = Registration(
        event_id=event_id,
        campaign_id=event.campaign_id,
        state=RegistrationState.waitlisted if full else RegistrationState.registered,
        name=who.name.strip(),
        district=who.district.strip(),
        phone_enc=keys.encrypt(phone),
        phone_hash=phone_hash,
        phone_last4=phone[-4:],
        id_enc=keys.encrypt(id_number) if id_number else None,
        email_enc=keys.encrypt(email) if email else None,
        id_hash=id_hash,
        person_key=phone_hash if rules.public_once_per_campaign else None,
        consent_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(reg)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise _already() from None
    kind = "waitlisted" if full else "registered"
    notices.owe(session, reg, event, kind, notify, now, position=waitlist_position(session, reg))
    return reg


def find(
    session: Session, code: str, phone: str, keys: Keys, *, lock: bool = False
) -> Registration:
    """A registration by its code and the phone it was made with (the same 404 for either)."""
    normal = normalize(code or "")
    missing = NotFound(
        "registration_not_found",
        "确认码或手机号码不正确",
        "no registration with this code and phone number",
    )
    if normal is None:
        raise missing
    stmt = select(Registration).where(Registration.code == normal)
    if lock:
        stmt = stmt.with_for_update()
    reg = session.exec(stmt).first()
    try:
        phone_hash = keys.digest("phone", clean_phone(phone))
    except DomainError:
        raise missing from None
    if reg is None or reg.phone_hash is None or reg.phone_hash != phone_hash:
        raise missing
    return reg


def _rules_of(session: Session, event: Event) -> CampaignRules:
    campaign = session.get(Campaign, event.campaign_id)
    return CampaignRules.of(campaign.rules if campaign else {})


def _promote(
    session: Session, event: Event, now: datetime, notify: notices.Channels, reason: str
) -> Registration | None:
    """A place came free: the first on the waiting list is offered it for the campaign's
    answer window (offers.make), unless the event no longer takes people."""
    session.flush()
    if event.state not in OPEN_STATES or passed(event, local_date(now)):
        return None
    if taken(session, event.id) >= event.public_places:  # type: ignore[arg-type]
        return None
    first = session.exec(
        select(Registration)
        .where(
            Registration.event_id == event.id, Registration.state == RegistrationState.waitlisted
        )
        .order_by(col(Registration.id))
        .limit(1)
    ).first()
    if first is None:
        return None
    return offers.make(session, first, event, _rules_of(session, event), now, notify, reason=reason)


_CANCELLABLE = (
    RegistrationState.registered,
    RegistrationState.waitlisted,
    RegistrationState.offered,
)


def cancel(
    session: Session,
    code: str,
    phone: str,
    *,
    keys: Keys,
    now: datetime,
    notify: notices.Channels = notices.NONE,
) -> Registration:
    """The person cancels; a place they held goes to the first on the waiting list."""
    reg = find(session, code, phone, keys)
    tenancy.for_citizen(session, reg.event_id)
    event = session.exec(select(Event).where(Event.id == reg.event_id).with_for_update()).one()
    session.refresh(reg)
    if reg.state not in _CANCELLABLE:
        raise Conflict(
            "registration_not_cancellable",
            f"报名状态为“{STATE_LABELS_ZH[reg.state]}”，不能在线取消"
            + ("，请联系活动单位" if reg.state == RegistrationState.confirmed else ""),
            f"a registration in state '{reg.state}' cannot be cancelled online",
        )
    held_place = reg.state != RegistrationState.waitlisted
    if reg.state == RegistrationState.offered:
        offers.disarm(session, reg)
    reg.state = RegistrationState.cancelled
    reg.updated_at = now
    notices.owe(session, reg, event, "cancelled", notify, now)
    if held_place:
        _promote(session, event, now, notify, "cancelled")
    return reg


def drop_out(
    session: Session,
    event: Event,
    invitee_id: int,
    *,
    now: datetime,
    notify: notices.Channels = notices.NONE,
) -> Registration | None:
    """A confirmed registrant said 不参加 to their invitation (issue 27): their registration is
    cancelled (audited, and they are told) and the place is offered to the first on the waiting
    list for the answer window (then the next). None when the invitee did not come from a
    confirmed registration."""
    reg = session.exec(
        select(Registration).where(
            Registration.invitee_id == invitee_id,
            Registration.state == RegistrationState.confirmed,
        )
    ).first()
    if reg is None:
        return None
    reg.state, reg.updated_at = RegistrationState.cancelled, now
    audit.record(
        session, SYSTEM, entity="public_registration", entity_id=reg.id, action="drop_out",
        now=now, before={"state": RegistrationState.confirmed}, unit_id=event.unit_id,
        after={"state": reg.state, "event_id": event.id, "reason": "invitation answered no"},
    )  # fmt: skip
    notices.owe(session, reg, event, "cancelled", notify, now)
    _promote(session, event, now, notify, "confirmed registrant dropped out")
    return reg


# ---- waiting-list offers: answered by the link, or lapsed by their timer -------------------


def answer_offer(
    session: Session,
    token: str,
    value: str,
    *,
    now: datetime,
    notify: notices.Channels = notices.NONE,
) -> Registration:
    """The offered person accepts (the place is theirs, for the unit to confirm) or declines
    (cancelled; the next waiting is offered it). Audited; the window's timer is cancelled."""
    if value not in offers.ANSWERS_ZH:
        raise _invalid(
            "answer_invalid", "answer", "答复只能是：接受（accept）、放弃（decline）",
            "answer must be one of: accept, decline",
        )  # fmt: skip
    reg = offers.open_link(session, token, now)
    tenancy.for_citizen(session, reg.event_id)
    event = session.exec(select(Event).where(Event.id == reg.event_id).with_for_update()).one()
    session.refresh(reg)
    offers.check_answerable(reg, token, now)
    offers.disarm(session, reg)
    before = {"state": reg.state}
    accepted = value == "accept"
    reg.state = RegistrationState.registered if accepted else RegistrationState.cancelled
    reg.updated_at = now
    audit.record(
        session, offers.OFFER_ACTOR, entity="public_registration", entity_id=reg.id,
        action=f"offer_{value}", now=now, before=before, unit_id=event.unit_id,
        after={"state": reg.state, "event_id": event.id},
    )  # fmt: skip
    notices.owe(session, reg, event, "promoted" if accepted else "cancelled", notify, now)
    if not accepted:
        _promote(session, event, now, notify, "offer declined")
    return reg


def lapse_offers(session: Session, timer_ids: list[int], now: datetime) -> dict[int, str]:
    """Handle fired offer timers: an offer still open past its window lapses (audited, the
    person told) and the place is offered to the next waiting; an offer answered meanwhile is
    skipped. Each timer is handled under its event's row lock."""
    states: dict[int, str] = {}
    notify = invitations.channels()
    timers = session.exec(
        select(Timer).where(col(Timer.id).in_(timer_ids), Timer.state == TimerState.fired)
    ).all()
    for timer in timers:
        event = session.exec(select(Event).where(Event.id == timer.event_id).with_for_update())
        ev = event.first()
        reg = session.get(Registration, timer.subject_id)
        if reg is not None:
            session.refresh(reg)
        due = (
            ev is not None
            and reg is not None
            and reg.state == RegistrationState.offered
            and reg.offer_until is not None
            and reg.offer_until <= now
        )
        if due:
            assert ev is not None and reg is not None
            reg.state, reg.updated_at = RegistrationState.lapsed, now
            audit.record(
                session, SYSTEM, entity="public_registration", entity_id=reg.id,
                action="offer_lapse", now=now, before={"state": RegistrationState.offered},
                after={"state": reg.state, "event_id": ev.id}, unit_id=ev.unit_id,
            )  # fmt: skip
            notices.owe(session, reg, ev, "lapsed", notify, now)
            _promote(session, ev, now, notify, "previous offer lapsed")
        timer.state = TimerState.done if due else TimerState.skipped
        timer.handled_at = now
        states[timer.id] = timer.state  # type: ignore[index]
    return states


# ---- staff: the list, confirm, decline -------------------------------------------------------


def staff_get(session: Session, event: Event, reg_id: int) -> Registration:
    """A registration of this event, or 404."""
    reg = session.get(Registration, reg_id)
    if reg is None or reg.event_id != event.id:
        raise NotFound(
            "registration_not_found", f"报名 {reg_id} 不存在", f"registration {reg_id} not found"
        )
    return reg


def staff_list(session: Session, event: Event) -> list[Registration]:
    """Every registration of the event in arrival order."""
    stmt = select(Registration).where(Registration.event_id == event.id)
    return list(session.exec(stmt.order_by(col(Registration.id))).all())


def _require_state(reg: Registration, wanted: tuple[str, ...], move: str) -> None:
    if reg.state not in wanted:
        raise Conflict(
            "registration_state",
            f"报名状态为“{STATE_LABELS_ZH[reg.state]}”，不能{move}",
            f"a registration in state '{reg.state}' cannot be {move}ed",
        )


def confirm(
    session: Session,
    event: Event,
    reg_id: int,
    *,
    expected_version: int,
    actor: Actor,
    now: datetime,
    notify: notices.Channels = notices.NONE,
) -> Registration:
    """Confirm a registration: the person joins the invitee list (市民代表, 公开邀请). An offered
    place may be confirmed too (the person accepted by phone); its window ends there. The
    confirmation carries the invitation's answer link, so a person who cannot come says so."""
    reg = staff_get(session, event, reg_id)
    _require_state(reg, (RegistrationState.registered, RegistrationState.offered), "确认")
    if reg.state == RegistrationState.offered:
        offers.disarm(session, reg)
    person = {"name": reg.name, "category": "citizen", "invitation": "public"}
    (invitee,) = invitees.add(
        session, event, [person], expected_version=expected_version, actor=actor, now=now
    )
    session.flush()
    reg.state = RegistrationState.confirmed
    reg.invitee_id = invitee.id
    # Registering said yes; the confirmation code is the code shown at the door (issue 27).
    invitee.code, invitee.answer, invitee.answer_via = reg.code, "yes", "signup"
    invitee.answered_at = now
    reg.updated_at = now
    link = invitations.answer_url(invitee, event)
    notices.owe(session, reg, event, "confirmed", notify, now, link=link)
    return reg


def decline(
    session: Session,
    event: Event,
    reg_id: int,
    *,
    reason: str,
    actor: Actor,
    now: datetime,
    notify: notices.Channels = notices.NONE,
) -> Registration:
    """Decline a registration with a reason (shown to the person); its place moves on."""
    actor.require_write()
    reg = staff_get(session, event, reg_id)
    _require_state(reg, _CANCELLABLE, "拒绝")
    if not reason.strip():
        raise _invalid("reason_required", "reason", "请填写原因", "a reason is required")
    held_place = reg.state != RegistrationState.waitlisted
    if reg.state == RegistrationState.offered:
        offers.disarm(session, reg)
    before: dict[str, Any] = {"state": reg.state}
    reg.state = RegistrationState.declined
    reg.decline_reason = reason.strip()
    reg.updated_at = now
    audit.record(
        session,
        actor,
        entity="public_registration",
        entity_id=reg.id,
        action="decline",
        now=now,
        before=before,
        after={"state": reg.state, "reason": reg.decline_reason, "event_id": event.id},
        unit_id=event.unit_id,
    )
    notices.owe(session, reg, event, "declined", notify, now)
    if held_place:
        _promote(session, event, now, notify, "declined by the unit")
    return reg


def lift_decline(
    session: Session, event: Event, reg_id: int, *, actor: Actor, now: datetime
) -> Registration:
    """Let a declined person register for the event again (audited); the registration stays
    declined, with its reason."""
    actor.require_write()
    reg = staff_get(session, event, reg_id)
    if reg.state != RegistrationState.declined or reg.decline_lifted_at is not None:
        raise Conflict(
            "registration_state",
            f"报名状态为“{state_label(reg)}”，不需要解除",
            f"a registration in state '{reg.state}' has no block to lift",
        )
    reg.decline_lifted_at = now
    reg.updated_at = now
    audit.record(
        session,
        actor,
        entity="public_registration",
        entity_id=reg.id,
        action="lift_decline",
        now=now,
        before={"decline_lifted_at": None},
        after={"decline_lifted_at": now, "event_id": event.id},
        unit_id=event.unit_id,
    )
    return reg


def state_label(reg: Registration) -> str:
    """The registration's state in words, for staff."""
    label = STATE_LABELS_ZH[reg.state]
    if reg.state == RegistrationState.declined and reg.decline_lifted_at is not None:
        label += "（已允许再次报名）"
    return label


FORMS_ZH = {
    "office_visit": "参观机关办公场所",
    "site_visit": "现场参观考察",
    "dialogue": "政民恳谈交流",
    "feedback": "意见反馈",
}
