"""导入工作日安排 (the system administrator): upload a year's working-day file → preview →
confirm → the deadlines that moved.

The file is the one `openday calendar load` takes (YAML or JSON). The preview is the workflow's
own dry run (`work_calendar.load_file(dry_run=True)`, rolled back in a savepoint), so it lists
exactly the timers loading would move; the file waits in the upload store between the two steps.
"""

from __future__ import annotations

import re
from pathlib import PurePath
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, col, select
from starlette.datastructures import UploadFile

from models import CalendarDay, CalendarYear, Event, Unit
from pages.auth import FormDep, UserDep
from pages.render import FieldError, PageRoute, errors_of, render
from web.deps import ClockDep, SessionDep
from workflows.files.store import FileStore
from workflows.kernel.errors import DomainError
from workflows.workdays import loader as work_calendar

router = APIRouter(route_class=PageRoute, include_in_schema=False)
_KEY = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{64}$")
_NAME = re.compile(r"^calendar(\.[a-z]{1,7})?$")
RULE_LABELS = {"feedback_answer": "意见答复", "summary": "报送总结", "event_hold": "开展活动"}
KIND_LABELS = {"reminder": "提醒", "escalation": "催办"}
SHOWN = 500  # moved timers listed on the page (the count is always whole)


def _page(
    request: Request,
    session: Session,
    errors: list[FieldError] | None = None,
    result: work_calendar.LoadResult | None = None,
    key: str = "",
    filename: str = "",
) -> HTMLResponse:
    years = session.exec(select(CalendarYear).order_by(col(CalendarYear.year))).all()
    overrides = session.exec(
        select(CalendarDay)
        .where(col(CalendarDay.source).startswith("local override"))
        .order_by(col(CalendarDay.day))
    ).all()
    moved = list(result.moved[:SHOWN]) if result else []
    events = _events(session, {m.event_id for m in moved})
    return render(
        request,
        "workdays.html",
        errors=errors or [],
        years=years,
        overrides=overrides,
        result=result,
        moved=moved,
        events=events,
        rules=RULE_LABELS,
        kinds=KIND_LABELS,
        key=key,
        filename=filename,
    )


def _events(session: Session, ids: set[int | None]) -> dict[int | None, Any]:
    if not ids:
        return {}
    rows = session.exec(
        select(Event.id, Event.theme, Unit.name)
        .join(Unit, col(Unit.id) == Event.unit_id)
        .where(col(Event.id).in_(ids))
    ).all()
    return {event_id: (theme, unit) for event_id, theme, unit in rows}


@router.get("/admin/calendar")
def calendar_page(request: Request, user: UserDep, session: SessionDep) -> HTMLResponse:
    """The years loaded so far, and the upload form."""
    work_calendar.require_loader(user.actor)
    return _page(request, session)


@router.post("/admin/calendar")
def calendar_post(
    request: Request, form: FormDep, user: UserDep, session: SessionDep, clock: ClockDep
) -> Response:
    """Preview an uploaded file (nothing kept), or load a previewed one."""
    work_calendar.require_loader(user.actor)
    store = FileStore(request.app.state.settings.upload_dir)
    key = str(form.get("key", ""))
    filename = str(form.get("filename", ""))
    confirm = form.get("action") == "confirm" and _KEY.match(key) and _NAME.match(filename)
    data = b""
    if confirm:
        path = store.path(key)
        data = path.read_bytes() if path.is_file() else b""
    else:
        upload = form.get("file")
        if isinstance(upload, UploadFile) and upload.filename:
            data = upload.file.read(work_calendar.MAX_FILE_BYTES + 1)
            # The suffix tells YAML from JSON; the rest of a name is not needed (nor trusted).
            filename = "calendar" + PurePath(upload.filename).suffix.lower()[:8]
    if not data:
        return _page(
            request, session, [FieldError("请选择工作日安排文件（.yaml 或 .json）", "file")]
        )
    if len(data) > work_calendar.MAX_FILE_BYTES:
        return _page(request, session, [FieldError("文件过大，最大 1 MB", "file", 413)])
    try:
        if confirm:  # the system administrator's load goes into the audit with it
            work_calendar.require_loader(user.actor, session, clock.now())
        result = work_calendar.load_file(
            session, data, filename, clock.now(), user.actor.name, dry_run=not confirm
        )
        if confirm:
            session.commit()
    except DomainError as exc:
        session.rollback()
        return _page(request, session, errors_of(exc, {exc.code: "file"}))
    key = "" if confirm else store.put(data).key
    return _page(request, session, result=result, key=key, filename=filename)
