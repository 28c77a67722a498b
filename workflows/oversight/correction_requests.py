"""Correction requests (更正申请, issue 24): past the unit's `correction_workdays`, a clerk no
longer corrects a recorded hold directly but asks; a supervisor approves (the change is applied
as the supervisor's correction, its audit line naming the request and who asked) or refuses
with a reason. A supervisor may still correct directly.

A request is general: a `kind` and a `payload` in the shape the kind's correction takes —
`attendance` ({"attendance": {invitee id: bool}}), `hold` (days, forms, who met the visitors),
`invitees` (the list after the hold) and `answer` ({"feedback_item_id", "answer",
"answered_on"}, workflows/feedback/corrections.py). Each request and each refusal leaves an
audit line in the event's history; nothing is applied until a supervisor approves.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlmodel import Session, col, select

from models import CorrectionRequest, CorrectionState, Event, FeedbackItem, TransitionLog, User
from models.db import lock_by_id
from workflows.event import corrections, held, history, record_corrections
from workflows.event.service import record_edit
from workflows.feedback import corrections as answer_corrections
from workflows.kernel import tenancy
from workflows.kernel.clock import local_date
from workflows.kernel.errors import Conflict, DomainError, Forbidden, NotFound
from workflows.kernel.visibility import (
    Actor,
    other_unit,
    require_own_unit,
    require_visible,
    require_write_somewhere,
    visible,
)

KINDS_ZH = {"attendance": "出席情况", "hold": "开展情况", "invitees": "受邀名单", "answer": "答复"}


class AttendanceFix(BaseModel):
    """Who attended, every invitee named."""

    model_config = ConfigDict(extra="forbid")
    attendance: dict[int, bool] = Field(min_length=1, max_length=1000)


class AnswerFix(BaseModel):
    """An opinion's answer or the day it was given."""

    model_config = ConfigDict(extra="forbid")
    feedback_item_id: int = Field(ge=1)
    answer: str | None = Field(default=None, min_length=1, max_length=10000)
    answered_on: Any = None


PAYLOADS: dict[str, type[BaseModel]] = {
    "attendance": AttendanceFix,
    "hold": record_corrections.HoldFix,
    "invitees": record_corrections.InviteesFix,
    "answer": AnswerFix,
}


def _not_found(request_id: int) -> NotFound:
    return NotFound(
        "correction_request_not_found",
        f"更正申请 {request_id} 不存在",
        f"correction request {request_id} not found",
    )


def check_payload(kind: str, payload: Any) -> BaseModel:
    """The payload as the kind's model, or 422 naming the field (Chinese and English)."""
    model = PAYLOADS.get(kind)
    if model is None:
        names = "、".join(KINDS_ZH.values())
        raise DomainError(
            "correction_kind_unknown",
            f"更正类别：未知的类别，可选：{names}",
            f"kind: unknown kind '{kind}'; known: {', '.join(PAYLOADS)}",
            status=422,
            details={"field": "kind", "known": list(PAYLOADS)},
        )
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "payload"
        raise DomainError(
            "correction_payload_invalid",
            f"更正内容（{KINDS_ZH[kind]}）有误：{_where_zh(err['loc'])}{_problem_zh(err)}",
            f"payload: {where}: {err['msg']}",
            status=422,
            details={"field": f"payload.{where}"},
        ) from None


FIELDS_ZH = {
    "held_on": "实际开展日期", "held_until": "最后开展日期", "forms_held": "实际开展形式",
    "met_by": "面对面沟通的负责人", "name": "姓名", "post": "职务", "attendance": "出席情况",
    "change": "更正的人员", "add": "补充的人员", "remove": "移出的人员", "category": "人员类别",
    "invitation": "邀请方式", "attended": "是否出席", "id": "人员", "feedback_item_id": "意见",
    "answer": "答复内容", "answered_on": "答复日期",
}  # fmt: skip
CATEGORIES_ZH = {"npc_deputy": "人大代表", "cppcc_member": "政协委员", "citizen": "市民代表"}
VALUES_ZH = {**held.FORM_LABELS_ZH, **held.POST_LABELS_ZH, **CATEGORIES_ZH}


def _where_zh(loc: Any) -> str:
    words = [f"第 {int(p) + 1} 项" if str(p).isdigit() else FIELDS_ZH.get(str(p), "内容")
             for p in loc]  # fmt: skip
    return "的".join(words) or "更正内容"


def _problem_zh(err: Any) -> str:
    if err["type"] == "enum":
        allowed = [VALUES_ZH.get(v, "其他") for v in VALUES_ZH if f"'{v}'" in str(err.get("ctx"))]
        return "：应为以下之一：" + "、".join(allowed)
    if err["type"] in ("date_from_datetime_parsing", "date_parsing", "date_type"):
        return "：日期格式不正确"
    if err["type"] == "missing":
        return "：必填"
    if err["type"] == "value_error":
        said = str(err.get("msg", "")).removeprefix("Value error, ").split(" / ")[0]
        return f"：{said}" if said and not said.isascii() else "：取值无效"
    return "：取值无效"


def submit(
    session: Session,
    event: Event,
    kind: str,
    payload: Any,
    reason: str,
    *,
    actor: Actor,
    now: datetime,
) -> CorrectionRequest:
    """A clerk's request to correct the event's record after the unit's correction days."""
    actor.require_write()
    require_own_unit(
        actor,
        event.unit_id,
        other_unit(
            "只能为本单位的活动提交更正申请（督查人员可直接更正）",
            "only the event's own unit may ask for a correction (supervisors correct directly)",
        ),
    )
    corrections.require_reason(reason)
    check_payload(kind, payload)
    found = corrections.window(session, event, local_date(now))
    if not found.open:
        raise Conflict(
            "attendance_not_recorded_yet",
            "活动尚未登记开展情况，无需更正",
            "the event's hold has not been recorded",
        )
    if found.unit_may and kind != "answer":
        raise Conflict(
            "correction_window_open",
            "仍在本单位可更正的期限内，请直接更正",
            "the unit may still correct this itself",
        )
    _no_pending(session, event, kind)
    request = CorrectionRequest(
        event_id=event.id,  # type: ignore[arg-type]
        unit_id=event.unit_id,
        kind=kind,
        payload=_plain(payload),
        reason=reason.strip(),
        requested_by=actor.id,
        requested_at=now,
    )
    session.add(request)
    session.flush()
    record_edit(
        session, event, "correction_request", expected_version=event.version, actor=actor,
        now=now, reason=request.reason, data={"request_id": request.id, "kind": kind},
    )  # fmt: skip
    return request


def _plain(payload: Any) -> dict[str, Any]:
    return {str(k): v for k, v in dict(payload).items()}


def _no_pending(session: Session, event: Event, kind: str) -> None:
    pending = session.exec(
        select(CorrectionRequest.id).where(
            CorrectionRequest.event_id == event.id,
            CorrectionRequest.kind == kind,
            CorrectionRequest.state == CorrectionState.pending,
        )
    ).first()
    if pending is not None:
        raise Conflict(
            "correction_request_pending",
            f"此活动已有一份待审批的{KINDS_ZH[kind]}更正申请（第 {pending} 号）",
            f"a {kind} correction request is already pending (#{pending})",
        )


def get(session: Session, actor: Actor, request_id: int) -> CorrectionRequest:
    """A request the caller may see (another unit's is not found)."""
    request = session.get(CorrectionRequest, request_id)
    require_visible(actor, None if request is None else request.unit_id, _not_found(request_id))
    assert request is not None
    return request


def decide(
    session: Session,
    actor: Actor,
    request_id: int,
    *,
    approve: bool,
    note: str,
    now: datetime,
) -> CorrectionRequest:
    """A supervisor approves (the change applied) or refuses (with a reason) a request."""
    require_write_somewhere(actor)  # a city supervisor holding some district's grant passes
    if not actor.is_supervisor:
        raise Forbidden(
            "supervisor_only", f"只有{actor.office_zh}督查人员可以审批更正申请", "supervisors only"
        )
    request = get(session, actor, request_id)
    actor = tenancy.act_in(session, actor, request.unit_id)  # only where granted
    actor.require_write()
    (event,) = lock_by_id(session, Event, [request.event_id])
    (request,) = lock_by_id(session, CorrectionRequest, [request_id])
    if request.state != CorrectionState.pending:
        raise Conflict(
            "correction_request_decided",
            "此更正申请已审批",
            "the correction request has already been decided",
        )
    if approve:
        _apply(session, event, request, actor, now)
    elif not note.strip():
        raise DomainError(
            "decision_note_missing",
            "不予批准的理由：请填写",
            "note: give the reason for refusing",
            status=422,
            details={"field": "note"},
        )
    else:
        record_edit(
            session, event, "correction_refused", expected_version=event.version,
            actor=actor, now=now, reason=None,
            data={"request_id": request.id, "kind": request.kind, "note": note.strip()},
        )  # fmt: skip
    request.state = CorrectionState.approved if approve else CorrectionState.refused
    request.decided_by, request.decided_at = actor.id, now
    request.decision_note = note.strip() or None
    session.flush()
    return request


def _apply(
    session: Session, event: Event, request: CorrectionRequest, actor: Actor, now: datetime
) -> TransitionLog:
    asker = session.get(User, request.requested_by) if request.requested_by else None
    extra = {
        "request_id": request.id,
        "requested_by": (asker.display_name or asker.username) if asker else None,
        "requested_at": request.requested_at.isoformat(),
    }
    fix = check_payload(request.kind, request.payload)
    return APPLY[request.kind](session, event, fix, request.reason, actor, now, extra)


Apply = Callable[[Session, Event, Any, str, Actor, datetime, dict[str, Any]], TransitionLog]


def _attendance(
    session: Session, event: Event, fix: Any, reason: str, actor: Actor, now: datetime,
    extra: dict[str, Any],
) -> TransitionLog:  # fmt: skip
    return corrections.correct_attendance(
        session, event, fix.attendance, reason, expected_version=event.version, actor=actor,
        now=now, extra=extra,
    )  # fmt: skip


def _hold(
    session: Session, event: Event, fix: Any, reason: str, actor: Actor, now: datetime,
    extra: dict[str, Any],
) -> TransitionLog:  # fmt: skip
    return record_corrections.correct_hold(
        session, event, fix, reason, expected_version=event.version, actor=actor, now=now,
        extra=extra,
    )  # fmt: skip


def _invitees(
    session: Session, event: Event, fix: Any, reason: str, actor: Actor, now: datetime,
    extra: dict[str, Any],
) -> TransitionLog:  # fmt: skip
    return record_corrections.correct_invitees(
        session, event, fix, reason, expected_version=event.version, actor=actor, now=now,
        extra=extra,
    )  # fmt: skip


def _answer(
    session: Session, event: Event, fix: Any, reason: str, actor: Actor, now: datetime,
    extra: dict[str, Any],
) -> TransitionLog:  # fmt: skip
    (item,) = lock_by_id(session, FeedbackItem, [fix.feedback_item_id]) or (None,)
    if item is None or item.event_id != event.id:
        raise NotFound("feedback_item_not_found", "意见不存在", "feedback item not found")
    change = answer_corrections.AnswerCorrection(
        answer=fix.answer, answered_on=fix.answered_on, reason=reason
    )
    return answer_corrections.apply(session, item, change, actor=actor, now=now, extra=extra)


APPLY: dict[str, Apply] = {
    "attendance": _attendance,
    "hold": _hold,
    "invitees": _invitees,
    "answer": _answer,
}


def pending(session: Session, actor: Actor) -> list[CorrectionRequest]:
    """Requests waiting for a decision, oldest first (staff: their unit's)."""
    stmt = select(CorrectionRequest).where(CorrectionRequest.state == CorrectionState.pending)
    stmt = visible(stmt, actor, CorrectionRequest.unit_id)
    return list(session.exec(stmt.order_by(col(CorrectionRequest.id))).all())


def of_event(session: Session, event: Event) -> list[CorrectionRequest]:
    """An event's requests, latest first."""
    return list(
        session.exec(
            select(CorrectionRequest)
            .where(CorrectionRequest.event_id == event.id)
            .order_by(col(CorrectionRequest.id).desc())
        ).all()
    )


def describe(request: CorrectionRequest) -> str:
    """What a request asks, in words, for the pages."""
    return f"{KINDS_ZH.get(request.kind, request.kind)}更正：{request.reason}"


def change_zh(request: CorrectionRequest) -> str:
    """The change a request asks for, in words (for the supervisor deciding it)."""
    p = request.payload or {}
    if request.kind == "hold":
        parts = []
        if p.get("held_on") or p.get("held_until"):
            parts.append(f"开展日期：{history.days_held_zh(p.get('held_on'), p.get('held_until'))}")
        if "forms_held" in p:
            parts.append(f"开展形式：{history.forms_zh(p.get('forms_held') or [])}")
        if "met_by" in p:
            parts.append(f"面对面沟通的负责人：{history.met_by_zh(p.get('met_by') or [])}")
        return "；".join(parts)
    if request.kind == "attendance":
        came = sum(1 for v in (p.get("attendance") or {}).values() if v)
        return f"出席人数改为 {came} 人"
    if request.kind == "answer":
        return f"意见 {p.get('feedback_item_id', '')} 的答复" + (
            f"，答复日期改为{history.day_zh(p['answered_on'])}" if p.get("answered_on") else ""
        )
    return "受邀名单更正"
