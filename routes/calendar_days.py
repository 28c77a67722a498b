"""The working-day calendar: loading a year's arrangement, counting working days."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, File, Query, UploadFile

from schemas.common import EARLIEST_DATE, LATEST_DATE
from schemas.deadlines import CalendarLoadOut, WorkdaysOut
from web.deps import API_PREFIX, ActorDep, ClockDep, SessionDep
from web.uploads import read_upload
from workflows.workdays import loader as work_calendar
from workflows.workdays.deadlines import load_calendar

router = APIRouter(prefix=API_PREFIX + "/calendar", tags=["deadlines"])
MAX_CALENDAR_FILE = work_calendar.MAX_FILE_BYTES


@router.post("", status_code=201)
def load_calendar_file(
    file: Annotated[UploadFile, File(description="JSON or YAML working-day arrangement")],
    actor: ActorDep,
    session: SessionDep,
    clock: ClockDep,
) -> CalendarLoadOut:
    """Load a newly published year or a local override (the system administrator); open
    provisional deadlines are recomputed and their old and new due dates logged."""
    work_calendar.require_loader(actor, session, clock.now())
    data = read_upload(file, MAX_CALENDAR_FILE, "file_too_large", "文件", "file")
    result = work_calendar.load_file(
        session, data, file.filename or "calendar.json", clock.now(), actor.name
    )
    session.commit()
    return CalendarLoadOut(
        source=result.source,
        complete_years=result.complete_years,
        days=result.days,
        recomputed=result.recomputed,
    )


@router.get("/workdays")
def count_workdays(
    actor: ActorDep,
    session: SessionDep,
    start: Annotated[date, Query(ge=EARLIEST_DATE, le=LATEST_DATE)],
    n: Annotated[int, Query(ge=1, le=1000)],
) -> WorkdaysOut:
    """The date N working days after START (counting from the next day)."""
    result = load_calendar(session).add_workdays(start, n)
    return WorkdaysOut(
        start=start,
        n=n,
        due_on=result.day,
        provisional=result.provisional,
        missing_years=list(result.missing_years),
    )
