"""Audit lines of writes that are not event moves (campaigns, units, …), and reading the trail.

Event moves and edits of what hangs on an event are in the transition log (the event's
history); everything else a person changes goes to the change log. Both are append-only.
"""

from __future__ import annotations

import heapq
from datetime import date, datetime, time
from enum import Enum
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from models import ChangeLog, Event, TransitionLog

if TYPE_CHECKING:  # accounts records its own audit lines: no import cycle at run time
    from workflows.accounts import Actor


def plain(value: Any) -> Any:
    """A value as JSON can hold it (dates and times as ISO text, enums as their value)."""
    if isinstance(value, (date, datetime, time)):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def record(
    session: Session,
    actor: Actor,
    *,
    entity: str,
    entity_id: int | None,
    action: str,
    now: datetime,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    unit_id: int | None = None,
) -> ChangeLog:
    """One audit line: who, when, what, before → after (only the fields that changed)."""
    before, after = plain(before or {}), plain(after or {})
    if before and after:
        changed = {k for k in after if before.get(k) != after.get(k)}
        before = {k: v for k, v in before.items() if k in changed}
        after = {k: v for k, v in after.items() if k in changed}
    line = ChangeLog(
        at=now,
        actor_id=actor.id,
        actor_name=actor.name,
        entity=entity,
        entity_id=entity_id,
        unit_id=unit_id,
        action=action,
        before=before,
        after=after,
    )
    session.add(line)
    return line


def snapshot(row: Any, fields: set[str] | list[str]) -> dict[str, Any]:
    """The named fields of a row, for before/after."""
    return {f: getattr(row, f) for f in fields}


def trail(
    session: Session,
    actor: Actor,
    *,
    entity: str | None,
    limit: int,
    offset: int,
) -> list[dict[str, Any]]:
    """Newest first: change-log lines and the edits and moves of events, as one list.

    Supervisors, admins and viewers read everything; unit staff their own unit's lines.
    """
    want = limit + offset
    changes = select(ChangeLog).order_by(col(ChangeLog.at).desc(), col(ChangeLog.id).desc())
    moves = (
        select(TransitionLog, Event.unit_id)
        .join(Event, Event.id == TransitionLog.event_id)  # type: ignore[arg-type]
        .order_by(col(TransitionLog.at).desc(), col(TransitionLog.id).desc())
    )
    if not actor.sees_all_units:
        changes = changes.where(ChangeLog.unit_id == actor.unit_id)
        moves = moves.where(Event.unit_id == actor.unit_id)
    sources: list[list[dict[str, Any]]] = []
    if entity in (None, "event"):
        sources.append(
            [
                {
                    "source": "event",
                    "at": t.at,
                    "actor_name": t.actor_name,
                    "entity": "event",
                    "entity_id": t.event_id,
                    "unit_id": unit_id,
                    "action": t.trigger,
                    "before": {"state": t.from_state},
                    "after": {"state": t.to_state, "version": t.version, **t.data},
                }
                for t, unit_id in session.exec(moves.limit(want)).all()
            ]
        )
    if entity != "event":
        if entity is not None:
            changes = changes.where(ChangeLog.entity == entity)
        sources.append(
            [
                {
                    "source": "change",
                    "at": c.at,
                    "actor_name": c.actor_name,
                    "entity": c.entity,
                    "entity_id": c.entity_id,
                    "unit_id": c.unit_id,
                    "action": c.action,
                    "before": c.before,
                    "after": c.after,
                }
                for c in session.exec(changes.limit(want)).all()
            ]
        )
    merged = heapq.merge(*sources, key=lambda r: r["at"], reverse=True)
    return list(merged)[offset : offset + limit]
