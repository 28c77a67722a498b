"""报送与公示 (issue 30): what the campaign's notice asks of an event before its day, on one page
for the unit and the district office — the plan (方案) filed, then approved or returned with a
reason; the public announcement (报名方式, 名额, 主题); the 公示 of its citizen representatives
(names masked). Supervisors also have the queue of plans waiting (/board/plans). Every rule is in
workflows/filing/; a refusal re-renders the page with its error summary."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from pages import eventkit as kit
from pages.attempt import attempt
from pages.auth import FormDep, PageUser, UserDep
from pages.render import FieldError, PageRoute, redirect, render
from web.deps import ClockDep, SessionDep
from workflows.event.moves import shown_name
from workflows.filing import overview, plans, publish
from workflows.kernel.errors import Forbidden

router = APIRouter(route_class=PageRoute, include_in_schema=False)
FIELDS = {
    "plan_invalid": "plan-text",
    "plan_not_required": "plan-text",
    "plan_not_open": "plan-text",
    "plan_approved": "plan-text",
    "note_invalid": "plan-note",
    "plan_not_submitted": "plan-note",
    "announcement_invalid": "how-to-register",
    "announcement_no_places": "how-to-register",
    "representatives_none": "publicise",
    "publication_closed": "how-to-register",
}


def filings_page(
    request: Request,
    session: Session,
    user: PageUser,
    event_id: int,
    errors: list[FieldError] | None = None,
    answers: dict[str, str] | None = None,
) -> HTMLResponse:
    """The event's filings: each asked one with its deadline, state and form."""
    ev = kit.view(session, user, event_id)
    items = {i.rule: i for i in overview.of_event(session, ev.event, ev.office_zh)}
    return render(
        request,
        "filings.html",
        status=max([e.status for e in errors or []] + [200]),
        ev=ev,
        items=items,
        names=publish.representatives(session, event_id),
        supervisor=user.actor.is_supervisor,
        can_write=user.actor.can_write,
        errors=errors or [],
        answers=answers or {},
        plan_min=plans.PLAN_MIN_CHARS,
        plan_max=plans.PLAN_MAX_CHARS,
    )


@router.get("/events/{event_id}/filings")
def filings_get(
    request: Request, event_id: int, user: UserDep, session: SessionDep
) -> HTMLResponse:
    """报送与公示."""
    return filings_page(request, session, user, event_id)


@router.post("/events/{event_id}/filings/plan")
def plan_post(
    request: Request, event_id: int, form: FormDep, user: UserDep, session: SessionDep,
    clock: ClockDep,
) -> Response:  # fmt: skip
    """The unit files (or revises) its plan for the district office's approval."""
    with attempt(session, FIELDS) as tried:
        ev = kit.view(session, user, event_id, write=True)
        plans.submit(
            session, ev.event, text=kit.text(form, "text")[: plans.PLAN_MAX_CHARS + 1],
            actor=user.actor, shown=shown_name(session, user.actor), now=clock.now(),
        )  # fmt: skip
    if tried.errors:
        answers = {"text": kit.text(form, "text")[: plans.PLAN_MAX_CHARS + 1]}
        return filings_page(request, session, user, event_id, tried.errors, answers)
    return redirect(f"/events/{event_id}/filings", f"活动方案已报送，待{ev.office_zh}审核")


@router.post("/events/{event_id}/filings/plan/decision")
def plan_decision(
    request: Request, event_id: int, form: FormDep, user: UserDep, session: SessionDep,
    clock: ClockDep,
) -> Response:  # fmt: skip
    """A supervisor approves the plan, or returns it with a reason."""
    approve = form.get("decision") == "approve"
    with attempt(session, FIELDS) as tried:
        ev = kit.view(session, user, event_id, write=True)
        plans.decide(
            session, ev.event, approve=approve, note=kit.text(form, "note")[:2000] or None,
            actor=user.actor, shown=shown_name(session, user.actor), now=clock.now(),
        )  # fmt: skip
    back = "/board/plans" if form.get("back") == "queue" else f"/events/{event_id}/filings"
    if tried.errors:
        if form.get("back") == "queue":
            return queue_page(request, session, user, tried.errors)
        answers = {"note": kit.text(form, "note")[:2000]}
        return filings_page(request, session, user, event_id, tried.errors, answers)
    return redirect(back, "活动方案已审核通过" if approve else "活动方案已退回修改")


@router.post("/events/{event_id}/filings/announcement")
def announcement_post(
    request: Request, event_id: int, form: FormDep, user: UserDep, session: SessionDep,
    clock: ClockDep,
) -> Response:  # fmt: skip
    """Publish the public announcement of the event."""
    how, note = kit.text(form, "how_to_register")[:600], kit.text(form, "text")[:2100]
    with attempt(session, FIELDS) as tried:
        ev = kit.view(session, user, event_id, write=True)
        publish.announce(
            session, ev.event, how_to_register=how, text=note, actor=user.actor,
            shown=shown_name(session, user.actor), now=clock.now(),
        )  # fmt: skip
    if tried.errors:
        answers = {"how_to_register": how, "text": note}
        return filings_page(request, session, user, event_id, tried.errors, answers)
    return redirect(f"/events/{event_id}/filings", "公开邀请公告已发布")


@router.post("/events/{event_id}/filings/representatives")
def representatives_post(
    request: Request, event_id: int, user: UserDep, session: SessionDep, clock: ClockDep
) -> Response:
    """Publish (公示) the citizen representatives now on the list, names masked."""
    with attempt(session, FIELDS) as tried:
        ev = kit.view(session, user, event_id, write=True)
        publish.publicise(
            session, ev.event, actor=user.actor, shown=shown_name(session, user.actor),
            now=clock.now(),
        )  # fmt: skip
    if tried.errors:
        return filings_page(request, session, user, event_id, tried.errors)
    return redirect(f"/events/{event_id}/filings", "市民代表名单已公示")


def queue_page(
    request: Request, session: Session, user: PageUser, errors: list[FieldError] | None = None
) -> HTMLResponse:
    """Plans waiting for the district office's decision, oldest first."""
    if not user.actor.sees_all_units:  # the board's readers (viewers, administrators) read it
        raise Forbidden(
            "supervisor_required",
            f"仅{user.office_zh}可查看待审核的活动方案",
            "only the district office sees the plans waiting for approval",
        )
    return render(
        request,
        "plans.html",
        can_decide=user.actor.is_supervisor and user.actor.can_write,
        status=max([e.status for e in errors or []] + [200]),
        waiting=plans.waiting(session, user.actor),
        errors=errors or [],
    )


@router.get("/board/plans")
def queue(request: Request, user: UserDep, session: SessionDep) -> HTMLResponse:
    """活动方案审核: the plans waiting, each with its approve / return form."""
    return queue_page(request, session, user)
