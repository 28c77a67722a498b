"""督查看板 for district-office supervisors, one tab a page: the campaign's numbers, stage funnel
and overdue list (/board); 抽查 (/board/spot-checks); 延期申请; 现场走访; 逾期未整改; 偏差标记;
发送失败的通知. Each tab reads only its own rows; the tabs' bar says what waits behind each."""

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
from workflows.event import checkin, search
from workflows.feedback import extensions, lamps
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
    "board": "/board/spot-checks",  # a form the board itself once carried
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


def _campaign(request: Request, user: PageUser, session: Session) -> int | None:
    """The campaign a tab is about: the query's when the reader sees it, else the newest."""
    asked = _int(request.query_params.get("campaign"))
    return board_data.chosen_campaign(session, user.actor, asked)


def _tab(
    request: Request,
    user: PageUser,
    session: Session,
    clock: Any,
    name: str,
    errors: list[FieldError] | None = None,
    campaign_id: int | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render one of the board's tabs (board_<name>.html) under the tabs' bar, whose labels say
    what waits behind each; `campaign_id` as _campaign chose it."""
    _require(user)
    now = clock.now()
    return render(
        request,
        f"board_{name}.html",
        tab=name,
        campaign_id=campaign_id,
        waiting=board_data.tab_counts(session, user.actor, now, campaign_id),
        errors=errors or [],
        results=SPOT_RESULTS,
        levels=LEVELS,
        can_write=user.actor.is_supervisor,
        today=local_date(now),
        **context,
    )


def board_page(request: Request, user: PageUser, session: Session, clock: Any) -> HTMLResponse:
    """The board's first tab with the query's filters: the campaign's numbers and stage funnel,
    the overdue list's first page."""
    _require(user)
    q = request.query_params
    filters = board_data.OverdueFilters(
        unit=_int(q.get("unit")),
        kind=q.get("kind") if q.get("kind") in KINDS else None,
        level=_int(q.get("level")),
        q=search.normalize(q.get("q")),
    )
    now = clock.now()
    data = board_data.collect(session, user.actor, now, _int(q.get("campaign")), filters)
    return render(
        request,
        "board.html",
        tab="overdue",
        campaign_id=data.campaign_id,
        filters=vars(filters),
        overdue_query=urlencode({k: v for k, v in vars(filters).items() if v is not None}),
        rows=data.rows,
        overdue_lamp=lamps.overdue,  # every row is past its day: red, its days late
        funnel=data.funnel,
        top=max([s.reached for s in data.funnel] + [1]),
        kinds=KINDS,
        levels=LEVELS,
        numbers=data.numbers,
        waiting=data.numbers,
        today=local_date(now),
        units=data.units,
    )


@router.get("/board")
def board(request: Request, user: UserDep, session: SessionDep, clock: ClockDep) -> HTMLResponse:
    """The supervisor board."""
    return board_page(request, user, session, clock)


def spot_checks_page(
    request: Request,
    user: PageUser,
    session: Session,
    clock: Any,
    after: str = "",
    errors: list[FieldError] | None = None,
) -> HTMLResponse:
    """The 抽查 tab: every event waiting for its spot check, a page at a time, oldest first."""
    _require(user)
    found = board_data.spot_check_queue(session, PAGE // 2, after or None, scope(user.actor, None))
    ids = [e.id or 0 for e, _ in found.rows]
    store = FileStore(request.app.state.settings.upload_dir)
    return _tab(
        request, user, session, clock, "spot_checks", errors, _campaign(request, user, session),
        queue=found.rows,
        checks=evidence.check_events(session, ids, store),
        tallies=checkin.tallies(session, ids),
        after=after,
        next_after=found.next_after,
    )  # fmt: skip


@router.get("/board/spot-checks")
def spot_check_queue(
    request: Request,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
    after: Annotated[str, Query(max_length=200)] = "",
) -> HTMLResponse:
    """Every event waiting for its spot check, a page at a time."""
    return spot_checks_page(request, user, session, clock, after)


def extensions_page(
    request: Request,
    user: PageUser,
    session: Session,
    clock: Any,
    errors: list[FieldError] | None = None,
) -> HTMLResponse:
    """The 延期申请 tab: extension requests waiting for a decision."""
    _require(user)
    asked = board_data.pending_extensions(session, scope(user.actor, None))
    campaign_id = _campaign(request, user, session)
    return _tab(request, user, session, clock, "extensions", errors, campaign_id, asked=asked)


@router.get("/board/extensions")
def extensions_tab(
    request: Request, user: UserDep, session: SessionDep, clock: ClockDep
) -> HTMLResponse:
    """Extension requests waiting for a decision."""
    return extensions_page(request, user, session, clock)


def visits_page(
    request: Request,
    user: PageUser,
    session: Session,
    clock: Any,
    errors: list[FieldError] | None = None,
) -> HTMLResponse:
    """The 现场走访 tab: the visit form (for the first events waiting for their spot check and
    the latest checked) and the latest visits."""
    _require(user)
    units = scope(user.actor, None)
    campaign_id = _campaign(request, user, session)
    visitable, rounds = board_data.visit_choices(session, units)
    return _tab(
        request, user, session, clock, "visits", errors, campaign_id,
        visits=board_data.recent_visits(session, units),
        visitable=visitable,
        visit_rounds=rounds,
        office_zh=districts.campaign_office_words(session, campaign_id, user.actor.district_id),
    )  # fmt: skip


@router.get("/board/visits")
def visits_tab(
    request: Request, user: UserDep, session: SessionDep, clock: ClockDep
) -> HTMLResponse:
    """On-site visits: record one, see the latest."""
    return visits_page(request, user, session, clock)


@router.get("/board/rectifications")
def rectifications_tab(
    request: Request, user: UserDep, session: SessionDep, clock: ClockDep
) -> HTMLResponse:
    """Rectifications (of the campaign) past their due day with no report."""
    _require(user)
    campaign_id = _campaign(request, user, session)
    units = scope(user.actor, None)
    late = board_data.overdue_rectifications(session, clock.now(), campaign_id, units)
    return _tab(
        request, user, session, clock, "rectifications", None, campaign_id,
        rectifications_overdue=late,
    )  # fmt: skip


@router.get("/board/flags")
def flags_tab(
    request: Request, user: UserDep, session: SessionDep, clock: ClockDep
) -> HTMLResponse:
    """Events (of the campaign) whose record carries deviations flagged instead of refused."""
    _require(user)
    campaign_id = _campaign(request, user, session)
    flagged = board_data.flagged_events(session, campaign_id, scope(user.actor, None))
    return _tab(request, user, session, clock, "flags", None, campaign_id, flagged=flagged)


def failed_page(
    request: Request,
    user: PageUser,
    session: Session,
    clock: Any,
    errors: list[FieldError] | None = None,
) -> HTMLResponse:
    """The 发送失败的通知 tab: the latest notifications whose delivery failed."""
    _require(user)
    failed = board_data.failed_notifications(session, scope(user.actor, None))
    campaign_id = _campaign(request, user, session)
    return _tab(request, user, session, clock, "failed", errors, campaign_id, failed=failed)


@router.get("/board/failed")
def failed_tab(
    request: Request, user: UserDep, session: SessionDep, clock: ClockDep
) -> HTMLResponse:
    """Notifications whose delivery failed, each with 重新发送."""
    return failed_page(request, user, session, clock)


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
        return visits_page(request, user, session, clock, tried.errors)
    return redirect("/board/visits", f"已登记现场走访（{len(photos)} 张照片）")


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
        return extensions_page(request, user, session, clock, tried.errors)
    return redirect("/board/extensions", "已批准延期" if approve else "已驳回延期申请")


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
        return spot_checks_page(request, user, session, clock, errors=tried.errors)
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
        return spot_checks_page(request, user, session, clock, errors=tried.errors)
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
        return failed_page(request, user, session, clock, tried.errors)
    return redirect("/board/failed", "已重新发送")
