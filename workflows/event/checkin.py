"""Check-in at the door (issue 27): a code typed or scanned becomes attendance evidence.

Every invitee has a short code (a confirmed registrant's is their confirmation code), printed
with a QR code in the invitation. On the event's day the clerk's phone page takes codes; each
check-in is timestamped and audited. A code scanned twice, a code of another event, a check-in
before the day or after it, or once the hold is recorded: a clear message, audited, nothing
counted twice. The hold form's attendance is prefilled from check-ins (`prefill`); the clerk may
still change it, and the hold's audit line marks every row changed (`corrections`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from models import Event, EventState, Invitee
from models.codes import grouped, normalize
from workflows.kernel import audit
from workflows.kernel.clock import LOCAL_TZ, local_date
from workflows.kernel.daywords import window_zh
from workflows.kernel.errors import DomainError
from workflows.kernel.visibility import Actor

CODE_CHARS = 40  # what the input takes (a code is 10 characters, 11 grouped)


@dataclass(frozen=True)
class Scan:
    """What one scan did: `ok` checked someone in; otherwise `code` says why not."""

    ok: bool
    code: str  # checked_in | code_invalid | code_unknown | other_event | already | too_early |
    # too_late | not_open
    message: str  # Chinese, shown to the clerk
    name: str | None = None
    invitee_id: int | None = None
    at: datetime | None = None


# The English of each refusal (the API's message_en) and its HTTP status.
REFUSALS_EN = {
    "code_invalid": ("not a door code: 10 letters and digits, e.g. AB3DE-FG7HJ", 422),
    "code_unknown": ("no invitee of this event has this code", 404),
    "other_event": ("this code belongs to another event", 409),
    "already": ("already checked in; not counted twice", 409),
    "too_early": ("the event has not started; no check-in before its day", 409),
    "too_late": ("the event's day has passed; check-in is closed", 409),
    "not_open": ("the event is not invited or its hold is recorded; check-in is closed", 409),
}


def refusal_error(scan: Scan) -> DomainError:
    """A refused scan as the API's error: its stable code, Chinese and English, and status."""
    en, status = REFUSALS_EN[scan.code]
    details: dict[str, object] = {"field": "code"}
    if scan.invitee_id is not None:
        details["invitee_id"] = scan.invitee_id
    return DomainError(f"check_in_{scan.code}", scan.message, en, status=status, details=details)


def _at(moment: datetime | None) -> str:
    return moment.astimezone(LOCAL_TZ).strftime("%H:%M") if moment else ""


def _refusal(event: Event, now: datetime) -> Scan | None:
    """Why this event takes no check-ins now, if it takes none."""
    if event.state != EventState.invited:
        return Scan(False, "not_open", "活动尚未发出邀请或已登记举办，签到未开放")
    today, window = local_date(now), window_zh(event.date_earliest, event.date_latest)
    if today < event.date_earliest:
        return Scan(False, "too_early", f"活动尚未开始（活动日期：{window}），不能提前签到")
    if today > event.date_latest:
        return Scan(False, "too_late", f"活动日期（{window}）已过，不能再签到")
    return None


def _find(session: Session, event: Event, text: str) -> Scan | Invitee:
    code = normalize(text[:CODE_CHARS]) if text else None
    if code is None:
        return Scan(
            False, "code_invalid", "签到码格式不对：应为10位字母数字（如 AB3DE-FG7HJ），请核对"
        )
    invitee = session.exec(select(Invitee).where(Invitee.code == code).with_for_update()).first()
    if invitee is None:
        return Scan(False, "code_unknown", f"签到码 {grouped(code)} 不存在，请核对")
    if invitee.event_id != event.id:
        other = session.get(Event, invitee.event_id)
        theme = f"“{other.theme}”" if other else "另一场活动"
        return Scan(False, "other_event", f"签到码 {grouped(code)} 属于{theme}，不是本场活动")
    if not invitee.invited:
        return Scan(False, "code_unknown", f"{invitee.name} 不在本场活动的邀请名单上")
    if invitee.checked_in_at is not None:
        return Scan(
            False,
            "already",
            f"{invitee.name} 已于 {_at(invitee.checked_in_at)} 签到，不重复计数",
            invitee.name,
            invitee.id,
            invitee.checked_in_at,
        )
    return invitee


def check_in(session: Session, event: Event, text: str, actor: Actor, now: datetime) -> Scan:
    """Check in the person behind a typed or scanned code; every outcome is audited."""
    actor.require_write()
    found = _refusal(event, now) or _find(session, event, text)
    if isinstance(found, Scan):
        audit.record(
            session, actor, entity="check_in", entity_id=found.invitee_id,
            action="refused", now=now, unit_id=event.unit_id,
            after={"event_id": event.id, "reason": found.code, "code": (text or "")[:CODE_CHARS]},
        )  # fmt: skip
        return found
    found.checked_in_at = now
    audit.record(
        session, actor, entity="check_in", entity_id=found.id, action="checked_in",
        now=now, unit_id=event.unit_id, after={"event_id": event.id, "at": now},
    )  # fmt: skip
    return Scan(
        True, "checked_in", f"{found.name} 签到成功（{_at(now)}）", found.name, found.id, now
    )


@dataclass(frozen=True)
class Tally:
    """签到出席：n / m — check-ins against the invitees on the list."""

    checked_in: int
    invited: int

    @property
    def words(self) -> str:
        """签到出席：n / m."""
        return f"签到出席：{self.checked_in} / {self.invited}"


def tally(session: Session, event_id: int) -> Tally:
    """How many of the event's invitees checked in, of how many invited."""
    row = session.exec(
        select(
            func.count(col(Invitee.checked_in_at)),
            func.count(),
        ).where(Invitee.event_id == event_id, col(Invitee.invited))
    ).one()
    return Tally(int(row[0]), int(row[1]))


def tallies(session: Session, event_ids: list[int]) -> dict[int, Tally]:
    """Tally per event for a list (the spot-check queue), in one query."""
    if not event_ids:
        return {}
    rows = session.exec(
        select(Invitee.event_id, func.count(col(Invitee.checked_in_at)), func.count())
        .where(col(Invitee.event_id).in_(event_ids), col(Invitee.invited))
        .group_by(col(Invitee.event_id))
    ).all()
    return {r[0]: Tally(int(r[1]), int(r[2])) for r in rows}


def prefill(session: Session, event: Event) -> dict[int, bool]:
    """The hold form's attendance from check-ins: each invitee's id → checked in. Empty when
    nobody checked in (the form keeps its own defaults then)."""
    rows = session.exec(
        select(Invitee.id, Invitee.checked_in_at).where(
            Invitee.event_id == event.id, col(Invitee.invited)
        )
    ).all()
    if not any(at is not None for _, at in rows):
        return {}
    return {i: at is not None for i, at in rows if i is not None}


def corrections(session: Session, event: Event, attendance: dict[int, bool]) -> list[int]:
    """Invitees whose recorded attendance differs from their check-in (marked as corrected);
    none when nobody checked in."""
    checked = prefill(session, event)
    if not checked:
        return []
    return sorted(i for i, came in attendance.items() if i in checked and checked[i] != came)


def recent(session: Session, event: Event, limit: int = 20) -> list[Invitee]:
    """The latest check-ins, newest first (the check-in page's list)."""
    return list(
        session.exec(
            select(Invitee)
            .where(Invitee.event_id == event.id, col(Invitee.checked_in_at).is_not(None))
            .order_by(sa.desc(col(Invitee.checked_in_at)), sa.desc(col(Invitee.id)))
            .limit(limit)
        )
    )
