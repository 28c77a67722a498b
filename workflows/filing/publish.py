"""What an event publishes on the public pages before its day, when the notice asks for it:
the announcement (公告) of a publicly invited event — theme, places, 报名方式 — and the 公示 of
the selected citizen representatives, with masked names only (张**), never a phone or an ID
number. Publishing again replaces what was published (a new round); each publication leaves an
audit line and ends its deadline's 催办.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from models import (
    Event,
    EventFiling,
    EventState,
    FilingKind,
    FilingState,
    Invitee,
    InviteeCategory,
    Unit,
)
from workflows.filing import timers
from workflows.filing.plans import line, of
from workflows.kernel.errors import Conflict, DomainError, NotFound
from workflows.kernel.visibility import Actor
from workflows.public.privacy import mask_name

HOW_MAX_CHARS = 500
TEXT_MAX_CHARS = 2000
OPEN_STATES = (EventState.planned, EventState.invited)


def _open(event: Event) -> None:
    if event.state not in OPEN_STATES:
        raise Conflict(
            "publication_closed",
            "活动已开展或已取消，不能再发布公告或公示",
            f"an event in state '{event.state}' publishes nothing more",
            details={"state": event.state},
        )


def _store(
    session: Session, event: Event, kind: str, body: dict[str, Any], shown: str, now: datetime
) -> EventFiling:
    row = of(session, event.id or 0, kind)
    if row is None:
        row = EventFiling(
            event_id=event.id, unit_id=event.unit_id, kind=kind,  # type: ignore[arg-type]
            state=FilingState.published, submitted_at=now,
        )  # fmt: skip
        session.add(row)
    else:
        row.round += 1
    row.state, row.body, row.submitted_by_name, row.submitted_at = (
        FilingState.published, body, shown, now,
    )  # fmt: skip
    session.flush()
    return row


def announce(
    session: Session,
    event: Event,
    *,
    how_to_register: str,
    text: str | None,
    actor: Actor,
    shown: str,
    now: datetime,
) -> EventFiling:
    """Publish (or republish) the public announcement of a (locked, visible) event that takes
    public registration: its theme and places as they stand, how to register, a note."""
    actor.require_write()
    _open(event)
    if event.public_places <= 0:
        raise Conflict(
            "announcement_no_places",
            "此活动未开放公开报名（公开名额为 0），无需发布公开邀请公告",
            "this event takes no public registration (0 public places)",
        )
    how = (how_to_register or "").strip()
    note = (text or "").strip()
    if not 2 <= len(how) <= HOW_MAX_CHARS or len(note) > TEXT_MAX_CHARS:
        raise DomainError(
            "announcement_invalid",
            f"请填写报名方式（2–{HOW_MAX_CHARS} 个字），公告说明不超过 {TEXT_MAX_CHARS} 个字",
            f"how_to_register: 2–{HOW_MAX_CHARS} characters; text at most {TEXT_MAX_CHARS}",
            status=422,
            details={"field": "how_to_register" if not 2 <= len(how) <= HOW_MAX_CHARS else "text"},
        )
    body = {
        "theme": event.theme, "places": event.public_places, "how_to_register": how,
        "text": note, "location": event.location or "",
    }  # fmt: skip
    row = _store(session, event, FilingKind.announcement, body, shown, now)
    timers.cancel(session, event.id or 0, timers.ANNOUNCEMENT)
    line(session, event, "announcement_publish", actor, now, None, {"round": row.round, **body})
    return row


def representatives(session: Session, event_id: int) -> list[str]:
    """The masked names of the event's invited citizen representatives, in list order."""
    names = session.exec(
        select(Invitee.name)
        .where(
            Invitee.event_id == event_id,
            col(Invitee.invited),
            Invitee.category == InviteeCategory.citizen,
        )
        .order_by(col(Invitee.id))
    ).all()
    return [mask_name(n) for n in names]


def publicise(
    session: Session, event: Event, *, actor: Actor, shown: str, now: datetime
) -> EventFiling:
    """Publish (公示) the citizen representatives now on the list, masked."""
    actor.require_write()
    _open(event)
    names = representatives(session, event.id or 0)
    if not names:
        raise DomainError(
            "representatives_none",
            "邀请名单中还没有市民代表，请先添加市民代表再公示",
            "the invitee list has no citizen representatives to publish",
            status=422,
        )
    body = {"names": names, "count": len(names)}
    row = _store(session, event, FilingKind.representatives, body, shown, now)
    timers.cancel(session, event.id or 0, timers.REPRESENTATIVES)
    line(session, event, "representatives_publish", actor, now, None, {"round": row.round, **body})
    return row


def published(session: Session, event_id: int) -> dict[str, EventFiling]:
    """What the event has published, by kind (for its public page)."""
    rows = session.exec(
        select(EventFiling).where(
            EventFiling.event_id == event_id, EventFiling.state == FilingState.published
        )
    ).all()
    return {r.kind: r for r in rows}


def public_view(session: Session, event_id: int) -> tuple[Event, str, dict[str, EventFiling]]:
    """An event's published announcement and 公示 for citizens, with its unit's name; 404 when
    it has published nothing or was cancelled."""
    row = session.exec(
        select(Event, Unit.name)
        .join(Unit, col(Unit.id) == Event.unit_id)
        .where(Event.id == event_id, Event.state != EventState.cancelled)
    ).first()
    found = published(session, event_id) if row is not None else {}
    if row is None or not found:
        raise NotFound(
            "publicity_not_found",
            "该活动没有发布公告或公示",
            "this event has published no announcement or 公示",
        )
    return row[0], row[1], found
