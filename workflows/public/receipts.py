"""Opinion receipts: what /public/track shows for a receipt code, and nothing personal.

Every feedback item gets a random receipt code when recorded (models/codes.py: 45 random bits
and a check character); whoever holds it sees the opinion, its unit and event, its status, its
due date and, once answered, the answer. Never who raised it, the assignee or any staff name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import urlencode

from sqlmodel import Session, col, select

from models import District, Event, FeedbackItem, FeedbackState, OpinionReply, Unit
from models.codes import grouped, normalize
from workflows.accounts import districts
from workflows.feedback import steps as transfer_steps
from workflows.kernel.clock import local_date
from workflows.kernel.errors import NotFound

STATUS_ZH = {
    FeedbackState.received: "已受理，待办理",
    FeedbackState.assigned: "办理中",
    FeedbackState.overdue: "办理中（已超期，已督办）",
    FeedbackState.answered: "已答复",  # "答复已送达" / "已答复，正在送达" by told_at
    FeedbackState.closed: "已办结",
}
ANSWERED = (FeedbackState.answered, FeedbackState.closed)


@dataclass(frozen=True)
class Receipt:
    """The public view of one opinion."""

    code: str
    status: str
    status_label: str
    content: str
    unit_name: str
    event_theme: str
    collected_on: date | None
    due_on: date | None
    due_provisional: bool
    answered_on: date | None
    answer: str | None
    # Issue 26: when and how the answer reached the person, their rating, and a reopening.
    told_at: datetime | None = None
    told_via: str | None = None
    rating: str | None = None
    rating_label: str | None = None
    rated_at: datetime | None = None
    can_rate: bool = False
    reopened: bool = False
    appeal: str | None = None
    # Sign-for and transfers in plain words (unit names only): (local day, text).
    steps: tuple[tuple[date, str], ...] = ()
    # Whose opinion it is: the district, its government office and the office's contact.
    district_name: str = ""
    office: str = ""
    contact: str = ""


RATING_ZH = {"satisfied": "满意", "basically": "基本满意", "dissatisfied": "不满意"}
TOLD_VIA_ZH = {
    "sms": "短信",
    "email": "电子邮件",
    "letter": "信函",
    "none": "查询页面",
    "given": "当面或电话",
}
APPEAL_ZH = {
    "pending": "承办单位已申诉，待{office}审核",  # the district office that decides it
    "upheld": "申诉成立",
    "rejected": "申诉不成立",
}


def _appeal(session: Session, state: str | None, district: District) -> str | None:
    """The appeal's state in words, naming the district office that decides it."""
    words = APPEAL_ZH.get(state or "")
    return words and words.format(office=districts.office_words(session, district.id))


def _missing() -> NotFound:
    return NotFound(
        "receipt_not_found",
        "没有找到该回执码，请核对后重新输入",
        "no opinion with this receipt code",
    )


def track(session: Session, code: str) -> Receipt:
    """The opinion behind a receipt code, or 404 (a mistyped code fails its check character)."""
    normal = normalize(code or "")
    if normal is None:
        raise _missing()
    row = session.exec(
        select(FeedbackItem, Event.theme, Unit.name, District)
        .join(Event, col(Event.id) == FeedbackItem.event_id)
        .join(Unit, col(Unit.id) == FeedbackItem.unit_id)
        .join(District, col(District.id) == Unit.district_id)
        .where(FeedbackItem.receipt_code == normal)
    ).first()
    if row is None:
        raise _missing()
    item, theme, unit_name, district = row
    answered = item.state in ANSWERED
    rounds = list(
        session.exec(
            select(OpinionReply)
            .where(OpinionReply.feedback_item_id == item.id)
            .order_by(col(OpinionReply.round).desc())
            .limit(1)
        )
    )
    current = rounds[0] if rounds and answered else None
    rated = rounds[0] if rounds and rounds[0].rating else None
    label = STATUS_ZH.get(FeedbackState(item.state), item.state)
    if answered and item.told_at is None:
        label = "已答复，正在送达"
    return Receipt(
        code=grouped(item.receipt_code),
        status=item.state,
        status_label=label,
        content=item.content,
        unit_name=unit_name,
        event_theme=theme,
        district_name=district.name,
        office=districts.office_of(district),
        contact=districts.contact_of(district),
        collected_on=item.collected_on,
        due_on=item.due_on,
        due_provisional=item.due_provisional,
        answered_on=answered_day(item) if answered else None,
        answer=item.answer if answered else None,
        told_at=item.told_at if answered else None,
        told_via=TOLD_VIA_ZH.get(current.told_via or "") if current and item.told_at else None,
        rating=rated.rating if rated else None,
        rating_label=RATING_ZH.get(rated.rating or "") if rated else None,
        rated_at=rated.rated_at if rated else None,
        can_rate=bool(
            current and item.told_at and not current.rating and item.raised_by_invitee_id
        ),
        reopened=not answered and bool(rated and rated.rating == "dissatisfied"),
        appeal=_appeal(session, rated.appeal_state, district) if rated else None,
        steps=tuple(
            (local_date(s.at), s.text) for s in transfer_steps.steps(session, item, public=True)
        ),
    )


def answered_day(item: FeedbackItem) -> date | None:
    """The day the answer was given (answered_on), else the Shanghai day it was typed in (the
    UTC date of answered_at is the day before for answers typed before 08:00)."""
    if item.answered_on is not None:
        return item.answered_on
    return local_date(item.answered_at) if item.answered_at else None


# ---- printable slips (staff): one per recorded opinion, with the tracking link --------------


@dataclass(frozen=True)
class Slip:
    """What one printed receipt slip says: nothing about who raised the opinion."""

    item_id: int
    code: str
    url: str
    content: str
    unit_name: str
    event_theme: str
    collected_on: date | None
    due_on: date | None


SLIP_CONTENT_CHARS = 60  # the opinion's first characters, so the holder recognises their slip


def track_url(base_url: str, code: str) -> str:
    """The public tracking page for a receipt code on the service's public address."""
    return f"{base_url.rstrip('/')}/public/track?{urlencode({'code': grouped(code)})}"


def slips(session: Session, event_id: int, base_url: str, item_id: int | None = None) -> list[Slip]:
    """Slips for the event's opinions (or one of them) in the order recorded."""
    stmt = (
        select(FeedbackItem, Event.theme, Unit.name)
        .join(Event, col(Event.id) == FeedbackItem.event_id)
        .join(Unit, col(Unit.id) == FeedbackItem.unit_id)
        .where(FeedbackItem.event_id == event_id)
        .order_by(col(FeedbackItem.id))
    )
    if item_id is not None:
        stmt = stmt.where(FeedbackItem.id == item_id)
    out = []
    for item, theme, unit_name in session.exec(stmt).all():
        if not item.receipt_code:  # recorded before receipts existed: nothing to print
            continue
        text = " ".join(item.content.split())
        if len(text) > SLIP_CONTENT_CHARS:
            text = text[:SLIP_CONTENT_CHARS] + "…"
        out.append(
            Slip(
                item_id=item.id,  # type: ignore[arg-type]
                code=grouped(item.receipt_code),
                url=track_url(base_url, item.receipt_code),
                content=text,
                unit_name=unit_name,
                event_theme=theme,
                collected_on=item.collected_on,
                due_on=item.due_on,
            )
        )
    if item_id is not None and not out:
        raise NotFound(
            "feedback_not_found", f"意见建议 {item_id} 不存在", f"opinion {item_id} not found"
        )
    return out
