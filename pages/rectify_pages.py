"""区政府办抽查 and its follow-up (整改, 强化督查，严格问责): every round with its rectification
notice, due day, the unit's report form, the supervisor's close or send-back
(workflows/oversight/rectification.py). The GET lives here too, so a refused POST re-renders
the same page with its errors."""

from __future__ import annotations

from datetime import date
from pathlib import PurePosixPath
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from sqlmodel import Session
from starlette.datastructures import UploadFile

from models import EventState, Rectification
from pages import eventkit as kit
from pages.attempt import attempt
from pages.auth import FormDep, PageUser, UserDep
from pages.progress import Due, due_of
from pages.render import FieldError, PageRoute, redirect, render
from web.deps import ClockDep, SessionDep, SettingsDep
from web.downloads import attachment
from workflows.event import checkin, history
from workflows.files.store import FileStore
from workflows.kernel.clock import local_date
from workflows.kernel.errors import DomainError
from workflows.kernel.visibility import is_own_unit
from workflows.oversight import rectification as rectify
from workflows.workdays.deadlines import load_calendar

router = APIRouter(route_class=PageRoute, include_in_schema=False)
SPOT_RESULTS = {"satisfactory": "合格", "needs_improvement": "需整改", "unsatisfactory": "不合格"}


def _fields(rid: int | str) -> dict[str, str]:
    """Which input each refusal points at."""
    return {
        "notice": f"notice-{rid}", "notice_missing": f"notice-{rid}",
        "notice_too_long": f"notice-{rid}", "report_missing": f"report-{rid}",
        "report_too_long": f"report-{rid}", "file_type_not_allowed": f"files-{rid}",
        "image_invalid": f"files-{rid}", "file_too_large": f"files-{rid}",
        "reasons_missing": f"reasons-{rid}", "reasons_too_long": f"reasons-{rid}",
    }  # fmt: skip


def _dues(rects: dict[int, Rectification], today: date, session: Session) -> dict[int, Due]:
    calendar = load_calendar(session)
    return {
        r.id: due_of("报送整改情况", r.due_on, today, calendar)  # type: ignore[misc]
        for r in rects.values()
        if r.state == rectify.S.issued
    }


def spot_check_view(
    request: Request,
    session: Session,
    user: PageUser,
    event_id: int,
    today: date,
    errors: list[FieldError] | None = None,
) -> HTMLResponse:
    """The page: rounds, their rectifications, the forms this person may use."""
    ev = kit.view(session, user, event_id)
    waiting = ev.event.state == EventState.summary_submitted
    rects = rectify.of_event(session, event_id)
    return render(
        request,
        "spot_check.html",
        ev=ev,
        rounds=history.spot_rounds(session, event_id),
        reworks=history.reworks(session, event_id),
        waiting=waiting,
        can_write=waiting and user.actor.is_supervisor,
        event=ev.event,
        unit_name=ev.unit_name,
        checks={},
        tallies={ev.event.id: checkin.tally(session, event_id)},
        results=SPOT_RESULTS,
        back="event",
        rects=rects,
        rect_files=rectify.files_of(session, [r.id for r in rects.values() if r.id]),
        dues=_dues(rects, today, session),
        states=rectify.STATES_ZH,
        is_supervisor=user.actor.is_supervisor,
        own_unit=user.actor.can_write and is_own_unit(user.actor, ev.event.unit_id),
        errors=errors or [],
    )


@router.get("/events/{event_id}/spot-check")
def spot_check_page(
    request: Request, event_id: int, user: UserDep, session: SessionDep, clock: ClockDep
) -> HTMLResponse:
    """区政府办抽查: every round's result and notes, who checked and when, every return for
    rework, each round's rectification; a supervisor finds the spot-check form here while the
    event waits for it."""
    return spot_check_view(request, session, user, event_id, local_date(clock.now()))


def _of_event(session: Session, user: PageUser, event_id: int, rectification_id: int) -> None:
    """The rectification must be the event's (the address names both), else 404."""
    rect = rectify.get(session, user.actor, rectification_id)
    if rect.event_id != event_id:
        raise rectify.not_found(rectification_id)


@router.get("/events/{event_id}/rectifications/{rectification_id}/files/{file_id}")
def file_get(
    event_id: int,
    rectification_id: int,
    file_id: int,
    user: UserDep,
    session: SessionDep,
    settings: SettingsDep,
) -> FileResponse:
    """A file of the unit's rectification report: the unit's own and the district office's
    accounts; 404 for any other unit."""
    _of_event(session, user, event_id, rectification_id)
    row = rectify.get_file(session, user.actor, rectification_id, file_id)
    suffix = PurePosixPath(row.filename).suffix.lstrip(".")
    ext = "".join(c for c in suffix if c.isascii() and c.isalnum()) or "bin"
    ascii_name = f"rectification-{rectification_id}-{file_id}.{ext}"
    return FileResponse(
        FileStore(settings.upload_dir).path(row.storage_key),
        media_type=row.content_type,
        headers={"Content-Disposition": attachment(ascii_name, row.filename)},
    )


def _back(event_id: int) -> str:
    return f"/events/{event_id}/spot-check"


@router.post("/events/{event_id}/rectifications")
def issue(
    request: Request,
    event_id: int,
    form: FormDep,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    """下发整改通知 on a round found lacking."""
    kit.view(session, user, event_id)
    check_id = kit.text(form, "check_id")
    with attempt(session, _fields(check_id)) as tried:
        if not check_id.isdigit():
            raise DomainError("spot_check_not_found", "请选择抽查轮次", "", status=422)
        rectify.issue(
            session, int(check_id), notice=kit.text(form, "notice")[:10001] or None,
            actor=user.actor, now=clock.now(),
        )  # fmt: skip
    if tried.errors:
        return spot_check_view(
            request, session, user, event_id, local_date(clock.now()), tried.errors
        )
    return redirect(_back(event_id), "已下发整改通知")


def _uploads(form: Any) -> list[UploadFile]:
    return [f for f in form.getlist("files") if isinstance(f, UploadFile) and f.filename]


@router.post("/events/{event_id}/rectifications/{rectification_id}/report")
def report(
    request: Request,
    event_id: int,
    rectification_id: int,
    form: FormDep,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> Response:
    """报送整改情况: the text and its files in one form."""
    files = _uploads(form)
    with attempt(session, _fields(rectification_id)) as tried:
        _of_event(session, user, event_id, rectification_id)
        for upload in files:
            data = upload.file.read(settings.upload_max_bytes + 1)
            if len(data) > settings.upload_max_bytes:
                raise DomainError("file_too_large", f"“{upload.filename}”过大", "", status=413)
            rectify.add_file(
                session, rectification_id, filename=upload.filename or "", data=data,
                store=FileStore(settings.upload_dir), actor=user.actor, now=clock.now(),
            )  # fmt: skip
        rectify.report(
            session,
            rectification_id,
            text=kit.text(form, "report")[:10001],
            actor=user.actor,
            now=clock.now(),
        )
    if tried.errors:
        return spot_check_view(
            request, session, user, event_id, local_date(clock.now()), tried.errors
        )
    return redirect(_back(event_id), f"已报送整改情况（{len(files)} 个附件）")


@router.post("/events/{event_id}/rectifications/{rectification_id}/decision")
def decide(
    request: Request,
    event_id: int,
    rectification_id: int,
    form: FormDep,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    """审核整改情况: close it (销号) or send it back with reasons."""
    close = form.get("decision") == "close"
    with attempt(session, _fields(rectification_id)) as tried:
        _of_event(session, user, event_id, rectification_id)
        if close:
            rectify.close(session, rectification_id, actor=user.actor, now=clock.now())
        else:
            reasons = kit.text(form, "reasons")[:2001]
            rectify.send_back(
                session, rectification_id, reasons=reasons, actor=user.actor, now=clock.now()
            )
    if tried.errors:
        return spot_check_view(
            request, session, user, event_id, local_date(clock.now()), tried.errors
        )
    return redirect(_back(event_id), "整改通知已销号" if close else "已退回整改情况")
