"""督查看板: a campaign's numbers and stage funnel, the overdue list, failed notifications and
the spot-check queue, for district-office supervisors."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session
from starlette.datastructures import UploadFile

from pages import eventkit as kit
from pages.attempt import attempt
from pages.auth import FormDep, PageUser, UserDep
from pages.render import FieldError, PageRoute, redirect, render
from schemas.extensions import DecisionIn
from schemas.visits import VisitIn
from web import forms
from web.deps import ClockDep, SessionDep, SettingsDep
from workflows.accounts import districts
from workflows.escalation import notifications
from workflows.event import cancellation, checkin, search
from workflows.feedback import extensions
from workflows.feedback.lamps import Lamps
from workflows.files.store import FileStore
from workflows.kernel.clock import local_date
from workflows.kernel.errors import DomainError, Forbidden
from workflows.kernel.visibility import scope
from workflows.oversight import evidence, visits
from workflows.reporting import board as board_data

router = APIRouter(route_class=PageRoute, include_in_schema=False)
KINDS = {"feedback_answer": "意见答复", "summary": "总结报送", "event_hold": "活动开展"}
LEVELS = {0: "未催办", 1: "1 级", 2: "2 级", 3: "3 级"}  # the 催办级别 filter's choices
SPOT_RESULTS = {"satisfactory": "合格", "needs_improvement": "需整改", "unsatisfactory": "不合格"}
PAGE = board_data.PAGE
BACK = {
    "board": "/board#spot-checks",
    "queue": "/board/spot-checks",
    "event": "/events/{id}/spot-check",  # the event's own spot-check page
}
# The Chinese names of the API models' fields, for the error summary.
VISIT = {
    "visited_on": "走访日期", "people": "走访人员", "findings": "走访发现",
    "spot_check_id": "关联的抽查轮次", "problem": "发现问题",
}  # fmt: skip
VISIT_MISSING = {"visited_on": "请填写走访日期", "people": "请填写走访人员"}
VISIT_FIELDS = {
    "visit_event_missing": "visit-event",
    "visited_on": "visit-date",
    "visit_in_future": "visit-date",
    "people": "visit-people",
    "findings": "visit-findings",
    "photo_not_image": "visit-photos",
    "visit_round_invalid": "visit-round",
    "visit_problem_without_findings": "visit-findings",
}
DECISION = {"new_due_on": "批准延至", "note": "审批意见"}


def _require(user: PageUser) -> None:
    if not user.is_supervisor:
        raise Forbidden("supervisor_required", f"仅{user.office_zh}督查人员可查看督查看板", "")


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def board_page(
    request: Request,
    user: PageUser,
    session: Session,
    clock: Any,
    errors: list[FieldError] | None = None,
) -> HTMLResponse:
    """Render the board with the query's filters."""
    _require(user)
    q = request.query_params
    filters = board_data.OverdueFilters(
        unit=_int(q.get("unit")),
        kind=q.get("kind") if q.get("kind") in KINDS else None,
        level=_int(q.get("level")),
        q=search.normalize(q.get("q")),
    )
    now = clock.now()
    store = FileStore(request.app.state.settings.upload_dir)
    data = board_data.collect(session, user.actor, now, store, _int(q.get("campaign")), filters)
    return render(
        request,
        "board.html",
        campaigns=data.campaigns,
        campaign_id=data.campaign_id,
        filters=vars(filters),
        overdue_query=urlencode({k: v for k, v in vars(filters).items() if v is not None}),
        rows=data.rows,
        lamps=Lamps(session, local_date(now)),
        funnel=data.funnel,
        top=max([s.reached for s in data.funnel] + [1]),
        queue=data.queue,
        queue_total=data.queue_total,
        checks=data.checks,
        tallies=checkin.tallies(session, [e.id or 0 for e, _ in data.queue]),
        failed=data.failed,
        kinds=KINDS,
        levels=LEVELS,
        results=SPOT_RESULTS,
        errors=errors or [],
        numbers=data.numbers,
        today=local_date(now),
        units=data.units,
        can_write=user.actor.is_supervisor,
        asked=data.asked,
        visits=data.visits,
        visitable=data.visitable,
        flagged=data.flagged,
        rectifications_overdue=data.rectifications_overdue,
        visit_rounds=data.visit_rounds,
        today_iso=local_date(now).isoformat(),
        cancel_waiting=len(cancellation.waiting(session, user.actor)),
        office_zh=districts.campaign_office_words(
            session, data.campaign_id, user.actor.district_id
        ),
    )


@router.get("/board/spot-checks")
def spot_check_queue(
    request: Request,
    user: UserDep,
    session: SessionDep,
    after: Annotated[str, Query(max_length=200)] = "",
) -> HTMLResponse:
    """Every event waiting for its spot check, a page at a time (the board shows the first few)."""
    _require(user)
    found = board_data.spot_check_queue(session, PAGE // 2, after or None, scope(user.actor, None))
    checks = evidence.check_events(
        session, [e.id for e, _ in found.rows], FileStore(request.app.state.settings.upload_dir)
    )
    return render(
        request,
        "spot_checks.html",
        queue=found.rows,
        checks=checks,
        tallies=checkin.tallies(session, [e.id or 0 for e, _ in found.rows]),
        results=SPOT_RESULTS,
        can_write=user.actor.is_supervisor,
        after=after,
        next_after=found.next_after,
    )


@router.post("/board/visits")
def record_visit(
    request: Request,
    form: FormDep,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> Response:
    """Record an on-site visit (现场走访) with its photos."""
    photos = [f for f in form.getlist("photos") if isinstance(f, UploadFile) and f.filename]
    with attempt(session, VISIT_FIELDS) as tried:
        event_id = _int(str(form.get("event_id", "")))
        if event_id is None:
            raise DomainError("visit_event_missing", "请选择走访的活动", "", status=422)
        seen = forms.parse(VisitIn, form, labels=VISIT, missing=VISIT_MISSING)
        ev = kit.view(session, user, event_id)
        visit = visits.record(
            session,
            ev.event,
            visited_on=seen.visited_on,
            people=seen.people,
            findings=seen.findings,
            actor=user.actor,
            now=clock.now(),
            spot_check_id=seen.spot_check_id,
            problem=seen.problem,
        )
        for upload in photos:
            data = upload.file.read(settings.upload_max_bytes + 1)
            if len(data) > settings.upload_max_bytes:
                raise DomainError("photo_too_large", f"“{upload.filename}”过大", "", status=413)
            visits.add_photo(
                session,
                visit,
                filename=upload.filename or "",  # never empty: filtered above
                content_type=upload.content_type or "application/octet-stream",
                data=data,
                store=FileStore(settings.upload_dir),
                actor=user.actor,
                now=clock.now(),
            )
    if tried.errors:
        return board_page(request, user, session, clock, tried.errors)
    return redirect("/board#visits", f"已登记现场走访（{len(photos)} 张照片）")


@router.post("/board/extensions/{request_id}")
def decide_extension(
    request: Request,
    request_id: int,
    form: FormDep,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    """Approve an extension with a new due date, or refuse it."""
    approve = form.get("decision") == "approve"
    fields = {
        "extension_date_invalid": f"due-{request_id}",
        "new_due_on": f"due-{request_id}",
        "note": f"note-{request_id}",
    }
    with attempt(session, fields) as tried:
        decision = forms.parse(DecisionIn, form, labels=DECISION, approve=approve)
        extensions.decide(
            session,
            request_id,
            approve=decision.approve,
            new_due_on=decision.new_due_on,
            note=decision.note,
            actor=user.actor,
            now=clock.now(),
        )
    if tried.errors:
        return board_page(request, user, session, clock, tried.errors)
    return redirect("/board#extensions", "已批准延期" if approve else "已驳回延期申请")


@router.get("/board")
def board(request: Request, user: UserDep, session: SessionDep, clock: ClockDep) -> HTMLResponse:
    """The supervisor board."""
    return board_page(request, user, session, clock)


@router.post("/board/spot-check/{event_id}")
def spot_check(
    request: Request,
    event_id: int,
    form: FormDep,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    """Record a spot check's result and notes (the spot_check move)."""
    ev = kit.view(session, user, event_id, write=True)
    data = {
        "result": kit.text(form, "result"),
        "notes": kit.text(form, "notes"),
        "site_visit": form.get("site_visit") == "yes",
    }
    with attempt(session, {"result": f"result-{event_id}", "notes": f"notes-{event_id}"}) as tried:
        tried.moved(kit.fire(session, ev, "spot_check", form, user, clock.now(), data))
    if tried.errors:
        return board_page(request, user, session, clock, tried.errors)
    return redirect(
        BACK.get(str(form.get("back")), BACK["board"]).format(id=event_id),
        f"已记录抽查结果：{ev.event.theme}",
    )


@router.post("/board/rework/{event_id}")
def rework(
    request: Request,
    event_id: int,
    form: FormDep,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    """Send a submitted summary back for rework (return_for_rework), one reason per line."""
    ev = kit.view(session, user, event_id, write=True)
    reasons = [r.strip() for r in str(form.get("reasons", "")).splitlines() if r.strip()]
    with attempt(session, {"reasons": f"reasons-{event_id}"}) as tried:
        tried.moved(
            kit.fire(
                session, ev, "return_for_rework", form, user, clock.now(), {"reasons": reasons}
            )
        )
    if tried.errors:
        return board_page(request, user, session, clock, tried.errors)
    back = BACK.get(str(form.get("back")), BACK["board"]).format(id=event_id)
    return redirect(back, f"已退回整改：{ev.event.theme}")


@router.post("/board/notifications/{notification_id}/retry")
def retry(
    request: Request,
    notification_id: int,
    form: FormDep,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    """Owe a failed notification's delivery again."""
    with attempt(session) as tried:
        notifications.retry_failed(session, user.actor, notification_id, clock.now())
    if tried.errors:
        return board_page(request, user, session, clock, tried.errors)
    return redirect("/board#failed", "已重新发送")
