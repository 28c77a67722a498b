"""Extensions (申请延期): a unit asks, before an opinion's answer falls due, for more time;
a district-office supervisor approves with a new due date or refuses. Once per opinion by
default (campaign setting `extensions_per_item`)."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Session, col, func, select

from models import (
    OPEN_FEEDBACK_STATES,
    Campaign,
    Event,
    ExtensionRequest,
    ExtensionState,
    FeedbackItem,
)
from workflows.campaign.rules import CampaignRules
from workflows.feedback import machine as feedback
from workflows.inbox import service as inbox
from workflows.kernel import tenancy
from workflows.kernel.clock import local_date
from workflows.kernel.daywords import day_zh
from workflows.kernel.errors import Conflict, DomainError, NotFound
from workflows.kernel.visibility import Actor, require_visible
from workflows.workdays import deadlines


def _rules(session: Session, event_id: int) -> CampaignRules:
    event = session.get(Event, event_id)
    assert event is not None
    campaign = session.get(Campaign, event.campaign_id)
    assert campaign is not None
    return CampaignRules.of(campaign.rules)


def request(
    session: Session,
    item: FeedbackItem,
    *,
    reason: str,
    requested_due_on: date | None,
    actor: Actor,
    now: datetime,
) -> ExtensionRequest:
    """Ask for more time on a (locked) open opinion, before its answer falls due."""
    actor.require_write()
    if item.state not in OPEN_FEEDBACK_STATES or item.due_on is None or item.due_at is None:
        raise Conflict(
            "extension_not_open",
            "只有待答复的意见可以申请延期",
            "only an opinion waiting for its answer can get an extension",
        )
    if now >= item.due_at:
        raise Conflict(
            "extension_too_late",
            f"答复期限 {item.due_on.isoformat()} 已过，不能再申请延期",
            f"the answer was due {item.due_on.isoformat()}; too late to ask for an extension",
            details={"due_on": item.due_on.isoformat()},
        )
    if requested_due_on is not None and requested_due_on <= item.due_on:
        raise DomainError(
            "extension_date_not_later",
            f"申请的新期限 {requested_due_on.isoformat()} 须晚于原期限 {item.due_on.isoformat()}",
            f"the requested date {requested_due_on.isoformat()} must be after "
            f"{item.due_on.isoformat()}",
            status=422,
        )
    earlier = list(
        session.exec(select(ExtensionRequest).where(ExtensionRequest.feedback_item_id == item.id))
    )
    if any(r.state == ExtensionState.pending for r in earlier):
        raise Conflict(
            "extension_pending", "已有待审批的延期申请", "an extension request is already pending"
        )
    allowed = _rules(session, item.event_id).extensions_per_item
    if len(earlier) >= allowed:
        raise Conflict(
            "extension_limit_reached",
            f"每条意见最多申请延期 {allowed} 次",
            f"at most {allowed} extension request(s) per opinion",
            details={"allowed": allowed},
        )
    row = ExtensionRequest(
        feedback_item_id=item.id,  # type: ignore[arg-type]
        event_id=item.event_id,
        unit_id=item.unit_id,
        reason=reason,
        old_due_on=item.due_on,
        requested_due_on=requested_due_on,
        requested_by=actor.id,
        requested_at=now,
    )
    session.add(row)
    _tell_request(session, row, item, now)
    return row


def _tell_request(
    session: Session, row: ExtensionRequest, item: FeedbackItem, now: datetime
) -> None:
    """The supervisors hear of the request in their inbox."""
    session.flush()
    wanted = f"，希望延至 {day_zh(row.requested_due_on)}" if row.requested_due_on else ""
    inbox.post(
        session, "ext_request", subject_type="extension", subject_id=row.id,  # type: ignore[arg-type]
        event_id=item.event_id, unit_id=item.unit_id, now=now,
        title=f"【延期申请】意见（编号 {item.id}）原定 {day_zh(item.due_on)} 前答复{wanted}",
        body=f"申请理由：{row.reason}\n\n意见内容：{item.content}",
    )  # fmt: skip


def get(session: Session, actor: Actor, request_id: int, *, lock: bool = False) -> ExtensionRequest:
    """An extension request the caller may see, or 404."""
    stmt = select(ExtensionRequest).where(ExtensionRequest.id == request_id)
    if lock:  # a city supervisor acting by a grant: the row's district is bound first
        unit_of = select(ExtensionRequest.unit_id).where(ExtensionRequest.id == request_id)
        tenancy.before_lock(session, actor, unit_of)
        stmt = stmt.with_for_update()
    row = session.exec(stmt).first()
    require_visible(
        actor,
        None if row is None else row.unit_id,
        NotFound(
            "extension_not_found",
            f"延期申请 {request_id} 不存在",
            f"extension request {request_id} not found",
        ),
    )
    assert row is not None
    return row


def decide(
    session: Session,
    request_id: int,
    *,
    approve: bool,
    new_due_on: date | None,
    note: str | None,
    actor: Actor,
    now: datetime,
) -> ExtensionRequest:
    """A supervisor approves (with a new due date, default the one asked for) or refuses."""
    actor.require_supervisor()
    row = get(session, actor, request_id, lock=True)
    actor = tenancy.act_in(session, actor, row.unit_id)  # a city supervisor: where granted
    actor.require_acting_supervisor()
    if row.state != ExtensionState.pending:
        raise Conflict(
            "extension_decided",
            "此延期申请已审批",
            "this extension request has already been decided",
        )
    row.decided_by, row.decided_at, row.decision_note = actor.id, now, note
    if not approve:
        row.state = ExtensionState.refused
        session.flush()
        _tell_decision(session, row, now)
        return row
    due = new_due_on or row.requested_due_on
    if due is None or due <= row.old_due_on or due < local_date(now):
        raise DomainError(
            "extension_date_invalid",
            f"新期限须晚于原期限 {row.old_due_on.isoformat()}，且不早于今天",
            f"the new due date must be after {row.old_due_on.isoformat()} and not before today",
            status=422,
        )
    item = session.exec(
        select(FeedbackItem).where(FeedbackItem.id == row.feedback_item_id).with_for_update()
    ).one()
    if item.state not in OPEN_FEEDBACK_STATES:
        raise Conflict("extension_not_open", "意见已答复，无需延期", "the opinion is answered")
    feedback.fire(session, item, "extend", actor=actor, now=now, system=True)
    rules = _rules(session, item.event_id)
    deadlines.arm_feedback_item(
        session, item, rules, deadlines.load_calendar(session), now, due_on=due
    )
    row.state, row.new_due_on = ExtensionState.approved, due
    session.flush()
    _tell_decision(session, row, now)
    return row


def _tell_decision(session: Session, row: ExtensionRequest, now: datetime) -> None:
    """The unit's staff hear the decision in their inbox."""
    what = f"意见（编号 {row.feedback_item_id}）"
    if row.state == ExtensionState.approved:
        title = f"【延期申请已批准】{what}延至 {day_zh(row.new_due_on)}"
    else:
        title = f"【延期申请未批准】{what}仍应于 {day_zh(row.old_due_on)} 前答复"
    inbox.post(
        session, "ext_decision", subject_type="feedback_item", subject_id=row.feedback_item_id,
        event_id=row.event_id, unit_id=row.unit_id, now=now, round=str(row.id), title=title,
        body=f"审批意见：{row.decision_note or '（无）'}\n申请理由：{row.reason}",
    )  # fmt: skip


def pending_for(session: Session, item_ids: list[int]) -> dict[int, str]:
    """The latest extension state of each opinion that has one."""
    if not item_ids:
        return {}
    latest = (
        select(ExtensionRequest.feedback_item_id, func.max(ExtensionRequest.id))
        .where(col(ExtensionRequest.feedback_item_id).in_(item_ids))
        .group_by(col(ExtensionRequest.feedback_item_id))
    )
    ids = [i for _, i in session.exec(latest).all()]
    rows = session.exec(select(ExtensionRequest).where(col(ExtensionRequest.id).in_(ids))).all()
    return {r.feedback_item_id: r.state for r in rows}
