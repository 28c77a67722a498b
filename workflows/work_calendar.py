"""Loading working-day data (a newly published year, or a local override) into the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
import structlog
from sqlmodel import Session, col

from models import CalendarDay, CalendarYear
from workflows.deadlines import recompute_provisional
from workflows.workdays import parse_calendar_file

log = structlog.get_logger("openday.calendar")


@dataclass(frozen=True)
class LoadResult:
    """What a calendar file changed."""

    source: str
    complete_years: list[int]
    days: int
    recomputed: int


def load_file(
    session: Session, data: bytes, filename: str, now: datetime, actor_name: str
) -> LoadResult:
    """Store a calendar file's days, then recompute every open provisional deadline.

    A file that cannot be loaded raises :class:`workflows.workdays.CalendarFileError` (a
    ``DomainError`` with status 422) before anything is written.
    """
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
    log.info(
        "calendar_loaded",
        source=parsed.source,
        years=list(parsed.complete_years),
        days=len(parsed.days),
        recomputed=recomputed,
    )
    return LoadResult(parsed.source, list(parsed.complete_years), len(parsed.days), recomputed)
