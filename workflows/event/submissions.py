"""Every submission of a summary (报送记录), read from the event's audit lines: the round, when it
was sent, the deadline it answered to (the original one for the first round, the rework's for
the others) and how late it was. The summary's own lateness is the first submission's against
the original due day: a return for rework and a timely resubmission do not make a late summary
on time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session
from sqlmodel import col, select

from models import TransitionLog
from workflows.workdays.deadlines import end_of_local_day

# The lines that set a summary deadline (hold, return_for_rework) or answer one.
TRIGGERS = ("hold", "submit_summary", "return_for_rework")


@dataclass(frozen=True)
class Submission:
    """One submission of an event's summary."""

    round: int
    submitted_at: datetime
    due_on: date | None
    due_at: datetime | None
    late_seconds: int
    log_id: int

    @property
    def late(self) -> bool:
        """At least a whole second after its deadline."""
        return self.late_seconds >= 1

    @property
    def late_hours(self) -> float:
        """Hours after its deadline (0 when on time)."""
        return round(self.late_seconds / 3600, 1)

    def as_dict(self) -> dict[str, Any]:
        return {
            "round": self.round,
            "submitted_at": self.submitted_at,
            "due_on": self.due_on,
            "due_at": self.due_at,
            "late": self.late,
            "late_hours": self.late_hours,
            "log_id": self.log_id,
        }


def _day(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) and value else None


def _moment(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def _walk(lines: Iterable[TransitionLog]) -> list[Submission]:
    """One event's audit lines (in order) → its submissions. A line that recorded its deadline
    says so itself; older lines take the deadline the hold or the rework before them set."""
    out: list[Submission] = []
    due_on: date | None = None
    for line in lines:
        data = line.data or {}
        if line.trigger != "submit_summary":
            due_on = _day(data.get("summary_due_on")) or due_on
            continue
        day = _day(data.get("due_on")) or due_on
        due_at = _moment(data.get("due_at")) or (end_of_local_day(day) if day else None)
        out.append(
            Submission(
                round=len(out) + 1,
                submitted_at=line.at,
                due_on=day,
                due_at=due_at,
                late_seconds=int(data.get("late_seconds") or 0),
                log_id=line.id or 0,
            )
        )
    return out


def history(session: Session, event_ids: Iterable[int]) -> dict[int, list[Submission]]:
    """Each event's submissions, first round first (events never submitted are absent)."""
    ids = sorted(set(event_ids))
    if not ids:
        return {}
    lines = session.execute(
        select(TransitionLog)
        .where(col(TransitionLog.event_id).in_(ids), col(TransitionLog.trigger).in_(TRIGGERS))
        .order_by(col(TransitionLog.event_id), col(TransitionLog.id))
    ).scalars()
    by_event: dict[int, list[TransitionLog]] = {}
    for line in lines:
        by_event.setdefault(line.event_id, []).append(line)
    found = {event_id: _walk(event_lines) for event_id, event_lines in by_event.items()}
    return {event_id: subs for event_id, subs in found.items() if subs}


def of_event(session: Session, event_id: int) -> list[Submission]:
    """One event's submissions, first round first."""
    return history(session, [event_id]).get(event_id, [])
