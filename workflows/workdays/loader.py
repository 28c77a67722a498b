"""Loading working-day data (a newly published year, or a local override) into the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
import structlog
from sqlmodel import Session, col

from models import CalendarDay, CalendarYear
from workflows.accounts import duties
from workflows.kernel.errors import Forbidden
from workflows.kernel.visibility import Actor
from workflows.workdays.days import parse_calendar_file
from workflows.workdays.deadlines import TimerChange, forget_calendar, recompute_provisional

# The largest working-day file taken (a year is a few hundred lines).
MAX_FILE_BYTES = 1024 * 1024

log = structlog.get_logger("openday.calendar")


@dataclass(frozen=True)
class LoadResult:
    """What a calendar file changed."""

    source: str
    complete_years: list[int]
    days: int
    recomputed: int
    # Every pending timer the recompute moved: old and new moment (not in the API's answer).
    moved: list[TimerChange] = field(default_factory=list, repr=False)
    dry_run: bool = False


def require_loader(
    actor: Actor, session: Session | None = None, now: datetime | None = None
) -> None:
    """Only the system administrator (and the console) loads working-day data (it moves every
    unit's deadlines; 三员分立: the calendar is a system duty): the other administrators 403
    `separation_of_duties`, everyone else `admin_required`. With a session the load is about
    to happen and the duty line goes into the audit with it."""
    if duties.require_if_administrator(session, actor, duties.Duty.calendar, now):
        return
    if not actor.is_console:
        raise Forbidden(
            "admin_required", "仅系统管理员可以导入工作日安排", "system administrators only"
        )


def load_file(
    session: Session,
    data: bytes,
    filename: str,
    now: datetime,
    actor_name: str,
    *,
    dry_run: bool = False,
) -> LoadResult:
    """Store a calendar file's days, then recompute every open provisional deadline.

    A file that cannot be loaded raises :class:`workflows.workdays.CalendarFileError` (a
    ``DomainError`` with status 422) before anything is written. A dry run does all of it in a
    savepoint and rolls it back: the result lists what loading would move, nothing stays.
    """
    if dry_run:
        nested = session.begin_nested()
        try:
            result = _load(session, data, filename, now, actor_name, log_it=False)
        finally:
            nested.rollback()
            forget_calendar(session)  # the cache may hold the rolled-back days
        return LoadResult(**{**result.__dict__, "dry_run": True})
    return _load(session, data, filename, now, actor_name, log_it=True)


def _load(
    session: Session, data: bytes, filename: str, now: datetime, actor_name: str, *, log_it: bool
) -> LoadResult:
    parsed = parse_calendar_file(data, filename)  # CalendarFileError is a DomainError (422)
    for year in parsed.complete_years:
        # A year is replaced as a whole (a corrected notice may drop a day), local overrides stay.
        session.execute(
            sa.delete(CalendarDay).where(
                col(CalendarDay.day) >= date(year, 1, 1),
                col(CalendarDay.day) <= date(year, 12, 31),
                ~col(CalendarDay.source).startswith("local override"),
            )
        )
        year_row = session.get(CalendarYear, year)
        if year_row is None:
            session.add(CalendarYear(year=year, source=parsed.source, loaded_at=now))
        else:
            year_row.source, year_row.loaded_at = parsed.source, now
    session.flush()
    for rule in parsed.days:
        row = session.get(CalendarDay, rule.day)
        if row is None:
            session.add(
                CalendarDay(
                    day=rule.day,
                    workday=rule.workday,
                    source=rule.source,
                    reason=rule.reason,
                    loaded_at=now,
                )
            )
        else:
            row.workday, row.source, row.reason, row.loaded_at = (
                rule.workday,
                rule.source,
                rule.reason,
                now,
            )
    session.flush()
    recomputed = recompute_provisional(session, now, actor_name)
    if log_it:
        log.info(
            "calendar_loaded",
            source=parsed.source,
            years=list(parsed.complete_years),
            days=len(parsed.days),
            recomputed=recomputed.deadlines,
            timers_moved=len(recomputed.moved),
        )
    return LoadResult(
        parsed.source,
        list(parsed.complete_years),
        len(parsed.days),
        recomputed.deadlines,
        list(recomputed.moved),
    )
