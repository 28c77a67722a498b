"""Notifications owed and sent; sending a failed one again."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from models import Notification, NotificationState
from workflows.kernel import jobs
from workflows.kernel.errors import Conflict, NotFound
from workflows.kernel.visibility import Actor, visible
from workflows.workdays.deadlines import wake_schedulers


def retry_failed(
    session: Session, actor: Actor, notification_id: int, now: datetime
) -> Notification:
    """Owe a failed notification's delivery again (supervisors), e.g. after fixing an address."""
    actor.require_acting_supervisor()
    # Another district's notification (or, for a district, one of no unit) is not found: the
    # rows the notifications list shows are the rows a retry may name.
    stmt = select(Notification).where(Notification.id == notification_id)
    row = session.exec(visible(stmt, actor, Notification.unit_id).with_for_update()).first()
    if row is None:
        raise NotFound(
            "notification_not_found",
            f"通知 {notification_id} 不存在",
            f"notification {notification_id} not found",
        )
    if row.state != NotificationState.failed:
        raise Conflict(
            "notification_not_failed",
            f"通知状态为 {row.state}，只有发送失败的通知可以重发",
            f"only failed notifications can be retried (this one is {row.state})",
        )
    row.state, row.attempts, row.lease_until = NotificationState.pending, 0, None
    jobs.owe_delivery(session, notification_id, now)
    wake_schedulers(session)  # the relay picks the message up at once
    session.flush()
    return row
