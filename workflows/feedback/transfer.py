"""签收 and 转办: the unit holding an opinion signs for it, or transfers it with a reason to the
unit that must answer it; the receiving unit signs for it (accepting the transfer) or sends it
back with a reason, and a district supervisor decides that dispute.

The opinion's `unit_id` is the unit holding it; the event's unit keeps seeing it. Signing is due
within the campaign's `sign_workdays` of receiving it (or of a transfer), else a durable timer
escalates it to the holder (workflows/workdays/deadlines.py `arm_sign`). The answer's due day
never moves with a transfer; only a supervisor deciding a dispute may extend it. Every step is an
audit line on the opinion (`feedback.sign`, `feedback.transfer`, …) and reads in plain words on
the tracking page and the staff page (`steps`); the receiving unit and the supervisors hear of
transfers and disputes in their inbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlmodel import Session, col, select

from models import (
    OPEN_FEEDBACK_STATES,
    OPEN_TRANSFER_STATES,
    Campaign,
    Event,
    FeedbackItem,
    FeedbackState,
    FeedbackTransfer,
    TransferState,
    TransitionLog,
    Unit,
)
from workflows.accounts import districts
from workflows.campaign.rules import CampaignRules
from workflows.feedback import machine as feedback
from workflows.feedback import steps as steps_words
from workflows.feedback.steps import DECIDE, SEND_BACK, SIGN, TRANSFER
from workflows.inbox import service as inbox
from workflows.kernel import audit, tenancy
from workflows.kernel.clock import local_date
from workflows.kernel.daywords import day_zh
from workflows.kernel.errors import Conflict, DomainError, Forbidden, stale_version
from workflows.kernel.visibility import Actor, is_own_unit
from workflows.workdays import deadlines

Step = steps_words.Step
steps = steps_words.steps
REASON_MAX = 1000

Outcome = Literal["receiver", "sender"]  # who handles a disputed opinion


def _rules(session: Session, item: FeedbackItem) -> CampaignRules:
    event = session.get(Event, item.event_id)
    campaign = session.get(Campaign, event.campaign_id) if event else None
    return CampaignRules.of(campaign.rules if campaign else None)


def _unit_name(session: Session, unit_id: int) -> str:
    unit = session.get(Unit, unit_id)
    return unit.name if unit else f"单位{unit_id}"


def _check_version(item: FeedbackItem, expected: int | None) -> None:
    if expected is None:
        raise DomainError(
            "expected_version_required",
            "请提供意见的当前版本号",
            "expected_version is required: the opinion's version you saw",
            status=422,
        )
    if expected != item.version:
        v = stale_version("意见", "feedback item", item.version, expected)
        raise Conflict(v.code, v.message_zh, v.message_en, details=v.details)


def _require_open(item: FeedbackItem) -> None:
    if item.state not in OPEN_FEEDBACK_STATES:
        raise Conflict(
            "feedback_not_open",
            "意见已答复或办结，不能再签收或转办",
            "the opinion is answered or closed: nothing to sign for or transfer",
        )


def _reason(text: str | None, field: str = "reason") -> str:
    reason = (text or "").strip()
    if not reason:
        raise DomainError(
            "transfer_reason_missing",
            "请填写理由",
            "give the reason",
            status=422,
            details={"field": field},
        )
    if len(reason) > REASON_MAX:
        raise DomainError(
            "transfer_reason_too_long",
            f"理由不能超过 {REASON_MAX} 字",
            f"the reason is longer than {REASON_MAX} characters",
            status=422,
            details={"field": field, "max": REASON_MAX},
        )
    return reason


def open_transfer(session: Session, item_id: int, *, lock: bool = False) -> FeedbackTransfer | None:
    """The opinion's transfer still waiting for the receiving unit or a supervisor."""
    stmt = select(FeedbackTransfer).where(
        FeedbackTransfer.feedback_item_id == item_id,
        col(FeedbackTransfer.state).in_(OPEN_TRANSFER_STATES),
    )
    if lock:
        stmt = stmt.with_for_update()
    return session.exec(stmt).first()


def history(session: Session, item_id: int) -> list[FeedbackTransfer]:
    """Every transfer of an opinion, oldest first."""
    return list(
        session.exec(
            select(FeedbackTransfer)
            .where(FeedbackTransfer.feedback_item_id == item_id)
            .order_by(col(FeedbackTransfer.id))
        ).all()
    )


def _line(
    session: Session,
    item: FeedbackItem,
    trigger: str,
    actor: Actor,
    now: datetime,
    reason: str | None = None,
    **data: Any,
) -> TransitionLog:
    """The step's audit line on the opinion (after its change is flushed: the new version)."""
    session.flush()
    return audit.append(
        session,
        TransitionLog(
            event_id=item.event_id,
            feedback_item_id=item.id,
            trigger=trigger,
            from_state=item.state,
            to_state=item.state,
            version=item.version,
            actor_id=actor.id,
            actor_name=actor.name,
            at=now,
            reason=reason,
            data=data,
        ),
    )


def _hand_to(
    session: Session, item: FeedbackItem, unit_id: int, now: datetime, *, arm: bool = True
) -> None:
    """The opinion is held by `unit_id`, not signed for yet; it signs within the rule's days."""
    item.unit_id = unit_id
    item.signed_at = item.signed_by = None
    item.updated_at = now
    if arm:
        rules = _rules(session, item)
        calendar = deadlines.load_calendar(session)
        deadlines.arm_sign(session, item, local_date(now), rules, calendar, now)
    else:
        item.sign_due_on = None
        _cancel_sign(session, item)


def _cancel_sign(session: Session, item: FeedbackItem) -> None:
    assert item.id is not None
    deadlines.cancel(
        session, subject_type="feedback_item", subject_ids=[item.id], rule=deadlines.FEEDBACK_SIGN
    )


# --------------------------------------------------------------------------------------------
# The moves
# --------------------------------------------------------------------------------------------


def sign(
    session: Session,
    item: FeedbackItem,
    *,
    actor: Actor,
    now: datetime,
    expected_version: int | None,
) -> TransitionLog:
    """The holding unit's staff sign for the (locked) opinion; a transfer waiting for them is
    accepted by it. 403 `feedback_not_holder` for anyone else, nothing written."""
    actor.require_write()
    if not is_own_unit(actor, item.unit_id):
        raise Forbidden(
            "feedback_not_holder",
            "只有当前承办该意见的单位可以签收",
            "only the unit holding the opinion may sign for it",
        )
    _require_open(item)
    _check_version(item, expected_version)
    if item.signed_at is not None:
        raise Conflict(
            "feedback_already_signed", "该意见已签收", "the opinion is already signed for"
        )
    pending = open_transfer(session, item.id or 0, lock=True)
    if pending is not None and pending.state != TransferState.pending:
        raise Conflict(
            "transfer_disputed",
            f"该意见已退回，等待{districts.unit_office_for(session, actor, item.unit_id)}裁定",
            "the transfer was sent back and waits for a supervisor's decision",
        )
    late = item.sign_due_on is not None and local_date(now) > item.sign_due_on
    item.signed_at, item.signed_by, item.updated_at = now, actor.name[:100], now
    data: dict[str, Any] = {"unit_id": item.unit_id, "late": late}
    if pending is not None:
        pending.state, pending.accepted_by, pending.accepted_at = (
            TransferState.accepted,
            actor.name[:100],
            now,
        )
        data["transfer_id"] = pending.id
    _cancel_sign(session, item)
    data["unit"] = _unit_name(session, item.unit_id)
    return _line(session, item, SIGN, actor, now, **data)


def transfer(
    session: Session,
    item: FeedbackItem,
    *,
    to_unit_id: int,
    reason: str,
    actor: Actor,
    now: datetime,
    expected_version: int | None,
) -> FeedbackTransfer:
    """Transfer the (locked) opinion to the unit that must answer it, with a reason: the
    holding unit's staff or a supervisor. The answer's due day stays as it is."""
    actor.require_write()
    if not (is_own_unit(actor, item.unit_id) or actor.is_supervisor):
        raise Forbidden(
            "feedback_not_holder",
            f"只有当前承办该意见的单位或{districts.unit_office_for(session, actor, item.unit_id)}"
            "可以转办",
            "only the unit holding the opinion or a supervisor may transfer it",
        )
    _require_open(item)
    why = _reason(reason)
    if to_unit_id == item.unit_id:
        raise DomainError(
            "transfer_same_unit",
            "不能转办给当前承办单位自己",
            "the opinion is already with that unit",
            status=422,
            details={"field": "to_unit_id"},
        )
    target = session.get(Unit, to_unit_id)
    holder = session.get(Unit, item.unit_id)
    if target is None or holder is None or target.district_id != holder.district_id:
        # Another district's unit is unknown here, as one that does not exist.
        raise DomainError(
            "transfer_unit_unknown",
            f"单位 {to_unit_id} 不存在",
            f"no unit {to_unit_id}",
            status=422,
            details={"field": "to_unit_id"},
        )
    _check_version(item, expected_version)
    if open_transfer(session, item.id or 0, lock=True) is not None:
        raise Conflict(
            "transfer_pending",
            "该意见已有未办结的转办",
            "the opinion has a transfer still waiting",
        )
    return _record_transfer(session, item, target, why, actor, now)


def _record_transfer(
    session: Session, item: FeedbackItem, target: Unit, why: str, actor: Actor, now: datetime
) -> FeedbackTransfer:
    source = item.unit_id
    row = FeedbackTransfer(
        feedback_item_id=item.id,  # type: ignore[arg-type]
        event_id=item.event_id,
        from_unit_id=source,
        to_unit_id=target.id,  # type: ignore[arg-type]
        reason=why,
        transferred_by=actor.name[:100],
        transferred_at=now,
    )
    session.add(row)
    _hand_to(session, item, target.id, now)  # type: ignore[arg-type]
    session.flush()
    names = {"from_unit": _unit_name(session, source), "to_unit": target.name}
    _line(session, item, TRANSFER, actor, now, why, transfer_id=row.id, **names,
          from_unit_id=source, to_unit_id=target.id, sign_due_on=str(item.sign_due_on))  # fmt: skip
    inbox.post(
        session, "transfer", subject_type="feedback_item", subject_id=item.id,  # type: ignore[arg-type]
        event_id=item.event_id, unit_id=target.id, now=now, round=str(row.id),
        title=f"【转办】{names['from_unit']}转来意见（编号 {item.id}），请于 "
        f"{day_zh(item.sign_due_on)}前签收",
        body=f"转办理由：{why}\n\n意见内容：{item.content}\n\n答复期限：{day_zh(item.due_on)}",
    )  # fmt: skip
    return row


def send_back(
    session: Session, item: FeedbackItem, *, reason: str, actor: Actor, now: datetime
) -> FeedbackTransfer:
    """The receiving unit's staff send a transfer back with a reason: the opinion returns to
    the unit that sent it, unsigned and with no sign-for clock, until a supervisor decides."""
    actor.require_write()
    refusal = Forbidden(
        "feedback_not_holder",
        "只有接收转办的单位可以退回",
        "only the unit the opinion was transferred to may send it back",
    )
    if actor.sees_all_units:  # a unit's act: district accounts decide instead
        raise refusal
    row = open_transfer(session, item.id or 0, lock=True)
    if row is None or row.state != TransferState.pending:
        raise Conflict(
            "transfer_not_pending", "没有待签收的转办可退回", "no transfer waiting to be sent back"
        )
    if not is_own_unit(actor, row.to_unit_id):
        raise refusal
    why = _reason(reason)
    row.state = TransferState.returned
    row.returned_reason, row.returned_by, row.returned_at = why, actor.name[:100], now
    _hand_to(session, item, row.from_unit_id, now, arm=False)
    names = {
        "from_unit": _unit_name(session, row.from_unit_id),
        "to_unit": _unit_name(session, row.to_unit_id),
    }
    _line(session, item, SEND_BACK, actor, now, why, transfer_id=row.id, **names)
    inbox.post(
        session, "transfer_dispute", subject_type="feedback_item", subject_id=item.id,  # type: ignore[arg-type]
        event_id=item.event_id, unit_id=row.from_unit_id, now=now, round=str(row.id),
        title=f"【转办退回】{names['to_unit']}退回{names['from_unit']}转办的意见"
        f"（编号 {item.id}），请裁定",
        body=f"转办理由：{row.reason}\n退回理由：{why}\n\n意见内容：{item.content}",
    )  # fmt: skip
    return row


@dataclass(frozen=True)
class Decision:
    """A supervisor's decision of a disputed transfer."""

    outcome: Outcome  # receiver: the unit it was transferred to handles it; sender: back
    note: str | None = None
    new_due_on: date | None = None  # extend the answer's due day (else it stays)


def decide(
    session: Session, item: FeedbackItem, decision: Decision, *, actor: Actor, now: datetime
) -> FeedbackTransfer:
    """A supervisor decides a sent-back transfer: the chosen unit holds the opinion and signs
    for it within the rule's days; the due day moves only when the decision extends it."""
    actor.require_supervisor()
    actor = tenancy.act_in(session, actor, item.unit_id)  # a city supervisor: where granted
    actor.require_acting_supervisor()
    row = open_transfer(session, item.id or 0, lock=True)
    if row is None or row.state != TransferState.returned:
        raise Conflict(
            "transfer_not_disputed", "没有待裁定的转办争议", "no sent-back transfer to decide"
        )
    _require_open(item)
    if decision.new_due_on is not None:
        _extend(session, item, decision.new_due_on, actor, now)
    receiver = decision.outcome == "receiver"
    row.state = TransferState.upheld if receiver else TransferState.overruled
    row.decided_by, row.decided_at = actor.name[:100], now
    row.decision_note, row.new_due_on = decision.note, decision.new_due_on
    holder = row.to_unit_id if receiver else row.from_unit_id
    _hand_to(session, item, holder, now)
    unit = _unit_name(session, holder)
    _line(session, item, DECIDE, actor, now, decision.note, transfer_id=row.id,
          outcome=decision.outcome, unit=unit, unit_id=holder,
          new_due_on=decision.new_due_on.isoformat() if decision.new_due_on else None)  # fmt: skip
    extended = f"，答复期限延至 {day_zh(item.due_on)}" if decision.new_due_on else ""
    for unit_id in (row.from_unit_id, row.to_unit_id):
        inbox.post(
            session, "transfer_decided", subject_type="feedback_item", subject_id=item.id,  # type: ignore[arg-type]
            event_id=item.event_id, unit_id=unit_id, now=now, round=f"{row.id}:{unit_id}",
            title=f"【转办裁定】意见（编号 {item.id}）由{unit}办理{extended}",
            body=f"裁定意见：{decision.note or '（无）'}\n\n意见内容：{item.content}",
        )  # fmt: skip
    return row


def _extend(session: Session, item: FeedbackItem, due: date, actor: Actor, now: datetime) -> None:
    """A decision's new due day: later than the current one and not before today."""
    if item.due_on is None or due <= item.due_on or due < local_date(now):
        current = item.due_on.isoformat() if item.due_on else "-"
        raise DomainError(
            "transfer_due_invalid",
            f"新的答复期限须晚于原期限 {current}，且不早于今天",
            f"the new due day must be after {current} and not before today",
            status=422,
            details={"field": "new_due_on"},
        )
    if item.state == FeedbackState.overdue:
        feedback.fire(session, item, "extend", actor=actor, now=now, system=True)
    rules = _rules(session, item)
    deadlines.arm_feedback_item(
        session, item, rules, deadlines.load_calendar(session), now, due_on=due
    )
