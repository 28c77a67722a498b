"""申请取消: the clerk asks to cancel an event (with a reason) on its own page; supervisors
decide on the same page or in the queue reachable from the board (取消申请), where they may also
mark an approved cancellation 不计扣分 later, or cancel directly. Every rule is in
workflows/event/cancellation.py; a refusal re-renders the page with its error summary."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, col, select

from models import CancellationRequest, CancellationState, Event
from pages import eventkit as kit
from pages.attempt import attempt
from pages.auth import FormDep, PageUser, UserDep
from pages.render import FieldError, PageRoute, redirect, render
from schemas.cancellations import CancellationIn
from web import forms
from web.deps import ClockDep, SessionDep
from workflows.event import cancellation
from workflows.event import machine as event_machine
from workflows.event.data import CANCEL_REASON_MIN
from workflows.kernel.errors import Forbidden

router = APIRouter(route_class=PageRoute, include_in_schema=False)
LABELS = {"reason": "取消理由", "note": "审批意见", "exempt_reason": "不计扣分理由"}
MISSING = {"reason": f"请填写取消理由（至少 {CANCEL_REASON_MIN} 个字）"}
RECENT = 50  # approved cancellations listed in the queue


def _fields(request_id: int | str) -> dict[str, str]:
    """Error codes and fields → the inputs of a decision form."""
    return {
        "note_required": f"note-{request_id}",
        "note": f"note-{request_id}",
        "exempt_reason_required": f"exempt-reason-{request_id}",
        "exempt_reason": f"exempt-reason-{request_id}",
        "reason_required": f"reason-{request_id}",
        "reason": f"reason-{request_id}",
        "validation_error": f"exempt-reason-{request_id}",
    }


def cancel_page(
    request: Request,
    session: Session,
    user: PageUser,
    event_id: int,
    errors: list[FieldError] | None = None,
    answers: dict[str, str] | None = None,
) -> HTMLResponse:
    """The event's cancellation: the request form, the pending request (and, for supervisors,
    its decision form), the last refusal, or the supervisor's direct cancellation."""
    ev = kit.view(session, user, event_id)
    latest = cancellation.latest_of(session, event_id)
    return render(
        request,
        "cancel.html",
        status=422 if errors else 200,
        ev=ev,
        latest=latest,
        open=ev.event.state in cancellation.OPEN_STATES,
        supervisor=user.actor.is_supervisor,
        errors=errors or [],
        answers=answers or {},
        minimum=CANCEL_REASON_MIN,
    )


@router.get("/events/{event_id}/cancel")
def cancel_get(request: Request, event_id: int, user: UserDep, session: SessionDep) -> HTMLResponse:
    """申请取消活动 (staff) or 取消活动 (supervisors)."""
    return cancel_page(request, session, user, event_id)


@router.post("/events/{event_id}/cancel/request")
def cancel_request(
    request: Request,
    event_id: int,
    form: FormDep,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    """The clerk asks to cancel, with a reason; the event stays where it is."""
    with attempt(session, {"reason_required": "reason", "reason": "reason"}) as tried:
        asked = forms.parse(CancellationIn, form, labels=LABELS, missing=MISSING)
        ev = kit.view(session, user, event_id, write=True)
        cancellation.request(
            session, ev.event, reason=asked.reason, actor=user.actor, now=clock.now()
        )
    if tried.errors:
        answers = {"reason": kit.text(form, "reason")}
        return cancel_page(request, session, user, event_id, tried.errors, answers)
    return redirect(f"/events/{event_id}", f"已提交取消申请，待{ev.office_zh}审批")


def _decision(form: Any) -> dict[str, Any]:
    exempt = form.get("exempt") == "yes"
    return {
        "approve": form.get("decision") == "approve",
        "note": kit.text(form, "note") or None,
        "exempt": exempt,
        "exempt_reason": kit.text(form, "exempt_reason") or None,
    }


@router.post("/events/{event_id}/cancel")
def cancel_direct(
    request: Request,
    event_id: int,
    form: FormDep,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    """A supervisor cancels directly (the cancel move), with a reason, optionally 不计扣分."""
    decision = _decision(form)
    with attempt(session, _fields("direct")) as tried:
        if not user.actor.is_supervisor:
            refusal = f"仅{user.office_zh}督查人员可以直接取消活动"
            raise Forbidden("supervisor_required", refusal, "")
        ev = kit.view(session, user, event_id, write=True)
        tried.moved(
            event_machine.fire(
                session,
                ev.event,
                "cancel",
                expected_version=kit.version_of(form),
                actor=user.actor,
                now=clock.now(),
                reason=kit.text(form, "reason") or None,
                data={k: decision[k] for k in ("note", "exempt", "exempt_reason")},
            )
        )
    if tried.errors:
        answers = {k: kit.text(form, k) for k in ("reason", "note", "exempt_reason")}
        return cancel_page(request, session, user, event_id, tried.errors, answers)
    return redirect(f"/events/{event_id}", "活动已取消")


@router.post("/board/cancellations/{request_id}")
def decide(
    request: Request,
    request_id: int,
    form: FormDep,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    """Approve (optionally 不计扣分) or refuse a request, from the queue or the event's page."""
    decision = _decision(form)
    with attempt(session, _fields(request_id)) as tried:
        row = cancellation.decide(
            session, request_id, **decision, actor=user.actor, now=clock.now()
        )
    back_to_event = form.get("back") == "event"
    if tried.errors:
        answers = {k: kit.text(form, k) for k in ("note", "exempt_reason")}
        if back_to_event:
            event_id = cancellation.get(session, user.actor, request_id).event_id
            return cancel_page(request, session, user, event_id, tried.errors, answers)
        return queue_page(request, session, user, tried.errors)
    done = "已批准取消" if decision["approve"] else "已驳回取消申请"
    return redirect(f"/events/{row.event_id}" if back_to_event else "/board/cancellations", done)


@router.post("/board/cancellations/{request_id}/exemption")
def exemption(
    request: Request,
    request_id: int,
    form: FormDep,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    """Mark an approved cancellation 不计扣分, or take the mark back, with a reason."""
    exempt = form.get("exempt") == "yes"
    with attempt(session, _fields(request_id)) as tried:
        cancellation.set_exempt(
            session,
            request_id,
            exempt=exempt,
            reason=kit.text(form, "reason") or None,
            actor=user.actor,
            now=clock.now(),
        )
    if tried.errors:
        return queue_page(request, session, user, tried.errors)
    return redirect(
        "/board/cancellations#decided", "已标记不计扣分" if exempt else "已恢复按未开展计扣分"
    )


def _decided(session: Session, user: PageUser) -> list[tuple[CancellationRequest, str, str]]:
    """The latest approved cancellations, newest first."""
    stmt = cancellation.listing(session, user.actor, state=CancellationState.approved)
    return [(r, theme, unit) for r, theme, unit in session.exec(stmt.limit(RECENT)).all()]


def queue_page(
    request: Request, session: Session, user: PageUser, errors: list[FieldError] | None = None
) -> HTMLResponse:
    """The supervisors' queue: every pending request, then approved cancellations (viewers of
    the board read it without the forms)."""
    if not user.is_supervisor:
        raise Forbidden("supervisor_required", f"仅{user.office_zh}督查人员可审批取消申请", "")
    waiting = cancellation.waiting(session, user.actor)
    dates = {
        e.id: e
        for e in session.exec(
            select(Event).where(col(Event.id).in_([r.event_id for r, _, _ in waiting]))
        ).all()
    }
    return render(
        request,
        "cancellations.html",
        status=422 if errors else 200,
        waiting=[(r, theme, unit, dates.get(r.event_id)) for r, theme, unit in waiting],
        decided=_decided(session, user),
        can_decide=user.actor.is_supervisor,
        errors=errors or [],
        minimum=CANCEL_REASON_MIN,
    )


@router.get("/board/cancellations")
def queue(request: Request, user: UserDep, session: SessionDep) -> HTMLResponse:
    """取消申请: pending requests with their decision forms; approved cancellations."""
    return queue_page(request, session, user)
