"""Cancellation as a request (申请取消, issue 25), modelled on extensions
(workflows/feedback/extensions.py): unit staff ask with a reason; the event stays where it is
while the request waits; a district-office supervisor approves (the `cancel` move, which
records who asked, who decided and both reasons) or refuses with a reason the clerk sees. A
supervisor may also cancel directly (the same move, recorded as a direct cancellation).

An approved cancellation stays in the report with its reason and costs what not holding costs
(workflows/reporting/reports.py counts it as not held once its last day has passed) unless the
supervisor marks it 不计扣分 (exempt) with a reason, when approving or later; every step leaves
an audit line in the event's history.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from models import (
    CancellationRequest,
    CancellationState,
    Event,
    EventState,
    Unit,
)
from workflows.event import machine
from workflows.event.data import CANCEL_REASON_MIN
from workflows.event.moves import shown_name
from workflows.inbox import service as inbox
from workflows.kernel import audit, tenancy
from workflows.kernel.daywords import day_zh
from workflows.kernel.errors import Conflict, DomainError, NotFound
from workflows.kernel.visibility import Actor, require_visible, visible

OPEN_STATES = (EventState.planned, EventState.invited)
STATE_ZH: dict[str, str] = {
    CancellationState.pending: "取消申请待审批",
    CancellationState.approved: "已批准取消",
    CancellationState.refused: "取消申请未获批准",
}


def _reason(value: str | None, field: str, label: str, what: str) -> str:
    """A reason of at least CANCEL_REASON_MIN characters, or 422 naming the field."""
    text = (value or "").strip()
    if len(text) < CANCEL_REASON_MIN:
        raise DomainError(
            f"{field}_required",
            f"{label}：请说明{what}（至少 {CANCEL_REASON_MIN} 个字）",
            f"{field}: a reason of at least {CANCEL_REASON_MIN} characters is required",
            status=422,
            details={"field": field, "min_length": CANCEL_REASON_MIN},
        )
    return text


_line = audit.event_line  # an audit line about the event that leaves its version as it is


def request(
    session: Session, event: Event, *, reason: str, actor: Actor, now: datetime
) -> CancellationRequest:
    """Ask to cancel a (locked) event not yet held; one request waits at a time."""
    actor.require_write()
    text = _reason(reason, "reason", "取消理由", "取消活动的理由")
    if event.state not in OPEN_STATES:
        label = machine.STATE_LABELS_ZH.get(event.state, event.state)
        raise Conflict(
            "cancellation_not_open",
            f"活动{label}，不能申请取消（只有尚未开展的活动可以取消）",
            f"an event in state '{event.state}' cannot be cancelled; only one not yet held",
            details={"state": event.state},
        )
    if pending_of(session, [event.id or 0]):
        raise Conflict(
            "cancellation_pending",
            "此活动已有待审批的取消申请",
            "a cancellation request for this event is already pending",
        )
    row = CancellationRequest(
        event_id=event.id,  # type: ignore[arg-type]
        unit_id=event.unit_id,
        reason=text,
        requested_by=actor.id,
        requested_by_name=shown_name(session, actor),
        requested_at=now,
    )
    session.add(row)
    session.flush()
    _line(session, event, "cancel_request", actor, now, text, {"request_id": row.id})
    inbox.post(
        session, "cancel_request", subject_type="cancellation", subject_id=row.id,  # type: ignore[arg-type]
        event_id=event.id, unit_id=event.unit_id, now=now,
        title=f"【取消申请】{event.theme}（应于{day_zh(event.date_latest)}前开展）",
        body=f"申请人：{row.requested_by_name}\n取消理由：{text}",
    )  # fmt: skip
    return row


def get(
    session: Session, actor: Actor, request_id: int, *, lock: bool = False
) -> CancellationRequest:
    """A cancellation request the caller may see, or 404."""
    stmt = select(CancellationRequest).where(CancellationRequest.id == request_id)
    if lock:
        unit_of = select(CancellationRequest.unit_id).where(CancellationRequest.id == request_id)
        tenancy.before_lock(session, actor, unit_of)
        stmt = stmt.with_for_update()
    row = session.exec(stmt).first()
    require_visible(
        actor,
        None if row is None else row.unit_id,
        NotFound(
            "cancellation_not_found",
            f"取消申请 {request_id} 不存在",
            f"cancellation request {request_id} not found",
        ),
    )
    assert row is not None
    return row


def _locked_event(session: Session, event_id: int) -> Event:
    return session.exec(select(Event).where(Event.id == event_id).with_for_update()).one()


def decide(
    session: Session,
    request_id: int,
    *,
    approve: bool,
    note: str | None,
    exempt: bool,
    exempt_reason: str | None,
    actor: Actor,
    now: datetime,
) -> CancellationRequest:
    """A supervisor approves (the event is cancelled; optionally 不计扣分 with a reason) or
    refuses with a reason the clerk sees."""
    actor.require_supervisor()
    row = get(session, actor, request_id, lock=True)
    event = _locked_event(session, row.event_id)
    actor = tenancy.act_in(session, actor, event.unit_id)  # a city supervisor: a granted district
    actor.require_acting_supervisor()
    if row.state != CancellationState.pending:
        raise Conflict(
            "cancellation_decided",
            f"此取消申请已审批（{STATE_ZH.get(row.state, row.state)}）",
            "this cancellation request has already been decided",
            details={"state": row.state},
        )
    if not approve:
        text = _reason(note, "note", "不予批准的理由", "不予批准的理由")
        row.state = CancellationState.refused
        row.decided_by, row.decided_at = actor.id, now
        row.decided_by_name = shown_name(session, actor)
        row.decision_note = text
        session.flush()
        data = {"request_id": row.id, "requested_by": row.requested_by_name}
        _line(session, event, "cancel_refused", actor, now, text, data)
        inbox.post(
            session, "cancel_decision", subject_type="event", subject_id=event.id,  # type: ignore[arg-type]
            event_id=event.id, unit_id=event.unit_id, now=now, round=str(row.id),
            title=f"【取消申请未批准】{event.theme}：活动照常进行",
            body=f"不予批准的理由：{text}\n申请理由：{row.reason}",
        )  # fmt: skip
        return row
    if exempt:
        exempt_reason = _reason(exempt_reason, "exempt_reason", "不计扣分理由", "不计扣分的理由")
    machine.fire(
        session,
        event,
        "cancel",
        expected_version=event.version,
        actor=actor,
        now=now,
        reason=row.reason,
        data={"note": note, "exempt": exempt, "exempt_reason": exempt_reason},
    )
    session.refresh(row)
    return row


def set_exempt(
    session: Session,
    request_id: int,
    *,
    exempt: bool,
    reason: str | None,
    actor: Actor,
    now: datetime,
) -> CancellationRequest:
    """A supervisor marks an approved cancellation 不计扣分 (with a reason), or takes the mark
    back (with a reason too): audited either way."""
    actor.require_supervisor()
    row = get(session, actor, request_id, lock=True)
    event = _locked_event(session, row.event_id)
    actor = tenancy.act_in(session, actor, event.unit_id)  # a city supervisor: a granted district
    actor.require_acting_supervisor()
    if row.state != CancellationState.approved:
        raise Conflict(
            "cancellation_not_approved",
            "只有已批准的取消可以标记不计扣分",
            "only an approved cancellation can be exempted",
            details={"state": row.state},
        )
    text = _reason(reason, "reason", "理由", "不计扣分的理由" if exempt else "恢复扣分的理由")
    if row.exempt == exempt:
        said = "已标记不计扣分" if exempt else "本来就计扣分"
        raise Conflict(
            "cancellation_exempt_unchanged",
            f"此取消{said}",
            "the cancellation is already " + ("exempt" if exempt else "counted"),
        )
    row.exempt, row.exempt_reason = exempt, text
    row.exempt_by_name, row.exempt_at = shown_name(session, actor), now
    session.flush()
    _line(
        session, event, "cancel_exempt", actor, now, text, {"request_id": row.id, "exempt": exempt}
    )
    return row


def pending_of(session: Session, event_ids: Iterable[int]) -> dict[int, CancellationRequest]:
    """The pending request of each event that has one."""
    ids = list(event_ids)
    if not ids:
        return {}
    rows = session.exec(
        select(CancellationRequest).where(
            col(CancellationRequest.event_id).in_(ids),
            CancellationRequest.state == CancellationState.pending,
        )
    ).all()
    return {r.event_id: r for r in rows}


def latest_of(session: Session, event_id: int) -> CancellationRequest | None:
    """The event's latest request (pending, approved or refused), for its page."""
    return session.exec(
        select(CancellationRequest)
        .where(CancellationRequest.event_id == event_id)
        .order_by(col(CancellationRequest.id).desc())
    ).first()


def listing(
    session: Session, actor: Actor, *, state: str | None = None, event_id: int | None = None
) -> Any:
    """The select of requests the caller may see (newest first), with the event's theme and
    the unit's name; narrowed by state and event."""
    stmt = (
        select(CancellationRequest, Event.theme, Unit.name)
        .join(Event, col(Event.id) == CancellationRequest.event_id)
        .join(Unit, col(Unit.id) == CancellationRequest.unit_id)
        .order_by(col(CancellationRequest.id).desc())
    )
    stmt = visible(stmt, actor, CancellationRequest.unit_id)
    if state:
        stmt = stmt.where(CancellationRequest.state == state)
    if event_id is not None:
        stmt = stmt.where(CancellationRequest.event_id == event_id)
    return stmt


def waiting(session: Session, actor: Actor) -> list[tuple[CancellationRequest, str, str]]:
    """Every pending request the caller may see, oldest first (the supervisors' queue)."""
    stmt = listing(session, actor, state=CancellationState.pending).order_by(None)
    rows = session.exec(stmt.order_by(col(CancellationRequest.id))).all()
    return [(r, theme, unit) for r, theme, unit in rows]
