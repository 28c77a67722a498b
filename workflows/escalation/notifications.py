"""Notifications owed and sent; sending a failed one again."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from models import Notification, NotificationState
from workflows.escalation.digests import SUBJECT as DIGEST
from workflows.kernel import jobs, tenancy
from workflows.kernel.errors import Conflict, NotFound
from workflows.kernel.visibility import Actor, UnitScope, scope, unit_clause
from workflows.workdays.deadlines import wake_schedulers

S = TypeVar("S", bound=Any)
# A digest's items, as an alias made once: making one is costly (a mapper inspection each time)
# and the board asks for it on every view.
_ITEM = aliased(Notification, name="digest_item")


def visible_notifications(statement: S, scoped: UnitScope) -> S:
    """`statement` narrowed to the notifications of the units in `scoped` and, when it is
    narrowed, the digests (催办汇总, of no unit) whose every item is of those units: a district
    office sees and may resend a digest that carries only its own district's items, as every
    digest of a single-district install does; a digest mixing districts stays with the city."""
    clause = unit_clause(col(Notification.unit_id), scoped)
    if clause is None:
        return statement
    item = _ITEM
    foreign = sa.exists().where(
        col(item.digest_id) == col(Notification.id),
        sa.or_(col(item.unit_id).is_(None), sa.not_(unit_clause(col(item.unit_id), scoped))),
    )
    digest = sa.and_(
        col(Notification.subject_type) == DIGEST, col(Notification.unit_id).is_(None), ~foreign
    )
    return statement.where(sa.or_(clause, digest))


def retry_failed(
    session: Session, actor: Actor, notification_id: int, now: datetime
) -> Notification:
    """Owe a failed notification's delivery again (supervisors), e.g. after fixing an address."""
    actor.require_supervisor()
    # Another district's notification (or, for a district, one of no unit) is not found: the
    # rows the notifications list shows are the rows a retry may name.
    stmt = select(Notification).where(Notification.id == notification_id)
    unit_of = select(Notification.unit_id).where(Notification.id == notification_id)
    tenancy.before_lock(session, actor, unit_of)  # a city supervisor: its granted district
    row = session.exec(visible_notifications(stmt, scope(actor, None)).with_for_update()).first()
    if row is None:
        raise NotFound(
            "notification_not_found",
            f"通知 {notification_id} 不存在",
            f"notification {notification_id} not found",
        )
    # a city-level digest names no district: refused to a city supervisor
    tenancy.act_in(session, actor, row.unit_id).require_acting_supervisor()
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
