"""Reminders and escalations owed and sent; resending a failed one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import col, select

from models import Notification, NotificationState
from schemas.common import Page
from schemas.deadlines import NotificationOut
from web.deps import API_PREFIX, ActorDep, ClockDep, PagingDep, SessionDep, fetch_page
from workflows.escalation import notifications
from workflows.kernel.visibility import scope

router = APIRouter(prefix=API_PREFIX + "/notifications", tags=["deadlines"])


@router.get("")
def list_notifications(
    actor: ActorDep,
    session: SessionDep,
    pg: PagingDep,
    state: Annotated[NotificationState | None, Query()] = None,
    event_id: int | None = None,
) -> Page[NotificationOut]:
    """Reminders and escalations owed and sent; `state=failed` shows what could not be
    delivered, `held` the digests waiting for their hour, `digested` the items inside them."""
    stmt = select(Notification).order_by(col(Notification.id).desc())
    stmt = notifications.visible_notifications(stmt, scope(actor, None))
    if state:
        stmt = stmt.where(Notification.state == state)
    if event_id is not None:
        stmt = stmt.where(Notification.event_id == event_id)
    rows, total = fetch_page(session, stmt, pg)
    return pg.page([NotificationOut.model_validate(n) for n in rows], total)


@router.post("/{notification_id}/retry")
def retry_notification(
    notification_id: int, actor: ActorDep, session: SessionDep, clock: ClockDep
) -> NotificationOut:
    """Send a failed notification again (supervisors), e.g. after fixing an address."""
    row = notifications.retry_failed(session, actor, notification_id, clock.now())
    session.commit()
    return NotificationOut.model_validate(row)
