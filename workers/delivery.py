"""Delivering one notification through its channel, at most once per success.

A worker leases the row (state `sending`, lease_until) in its own short transaction, sends with
no transaction open (so a slow mail server never holds a database lock), then records the
outcome. A redelivered message finds the row `sent` and does nothing; a worker that died
mid-send leaves a lease that expires, after which the reconciler hands the row out again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_before_delay,
    wait_exponential,
)

from models import Notification, NotificationState
from models.db import session_scope
from workers.channels import LogChannel, Message, PermanentChannelError, TransientChannelError
from workers.runtime import Runtime
from workflows.event import invitations
from workflows.feedback import replies
from workflows.inbox import service as inbox
from workflows.kernel import jobs, tenancy
from workflows.public import notices as registrant_notices
from workflows.public.privacy import keys_from_settings

log = structlog.get_logger("openday.delivery")

# Retries back off 1 s, 2 s, 4 s … up to this cap (the actor's max_backoff).
RETRY_CAP_SECONDS = 600
# How long a higher level waits for the lower one to the same recipient to go out first.
ORDER_WAIT_MS = 2_000


class RetryLater(Exception):
    """A transient failure with attempts left: the actor lets dramatiq retry with backoff."""

    def __init__(self, notification_id: int, error: str, delay_ms: int | None = None) -> None:
        super().__init__(f"notification {notification_id}: {error}")
        self.delay_ms = delay_ms


@dataclass(frozen=True)
class Delivery:
    """What one delivery attempt did."""

    outcome: str  # sent | failed | retry | already_sent | already_failed | leased | missing
    attempts: int = 0
    # Outbox rows owed for the higher levels that waited for this one: the caller relays them.
    follow: tuple[int, ...] = ()


def message_of(row: Notification) -> Message:
    """The channel message for a notification row."""
    return Message(
        key=row.key,
        channel=row.channel,
        recipient=row.recipient,
        subject=row.title,
        body=row.body,
        data={
            "notification_id": row.id,
            "event_id": row.event_id,
            "unit_id": row.unit_id,
            "subject_type": row.subject_type,
            "subject_id": row.subject_id,
            "rule": row.rule,
            "kind": row.kind,
            "level": row.level,
        },
    )


def _same_item_and_recipient(row: Notification) -> tuple[Any, ...]:
    """Notifications of the same item, rule and kind to the same recipient on the same channel."""
    return (
        Notification.subject_type == row.subject_type,
        Notification.subject_id == row.subject_id,
        Notification.rule == row.rule,
        Notification.kind == row.kind,
        Notification.channel == row.channel,
        Notification.recipient == row.recipient,
    )


def _lower_level_owed(session: Session, row: Notification, now: datetime) -> int | None:
    """If a lower escalation level of the same item to the same recipient and channel is still
    waiting to be sent (pending or being sent): how long to wait for it at most, in ms.

    This wait is only the fallback: when the lower level's send is recorded, `_record` owes this
    level's delivery again at once (`_wake_higher`), so it follows within seconds, not after the
    lower level's send lease."""
    lower = session.exec(
        select(Notification.lease_until)
        .where(
            *_same_item_and_recipient(row),
            col(Notification.level) < row.level,
            col(Notification.state).in_([NotificationState.pending, NotificationState.sending]),
        )
        .order_by(sa.nulls_last(col(Notification.lease_until).desc()))
        .limit(1)
    ).all()
    if not lower:
        return None
    lease = lower[0]
    if lease is None or lease <= now:
        return ORDER_WAIT_MS
    # The lower level is backing off after a failure (or being sent): until then, and a second.
    return int((lease - now).total_seconds() * 1000) + 1000


def deliver_inline(rt: Runtime, rows: Iterable[Notification], now: datetime) -> None:
    """Send notifications on channels that cannot fail or block (the log) in the caller's
    transaction, rather than through a second message and two more transactions each (the
    bulk of a 10,000-timer burst)."""
    for row in rows:
        channel = rt.channels.get(row.channel) or LogChannel()
        channel.send(message_of(row))
        row.state, row.attempts, row.sent_at = NotificationState.sent, 1, now


def _resolved(
    session: Session, rt: Runtime, row: Notification, message: Message, now: datetime
) -> tuple[Message, bool]:
    """The message with a registrant's or invitee's phone or address, read only now (the row
    never holds it), and an invitation's attachments (.ics, QR); True when the contact is gone."""
    erased = False
    for prefix, address_of in (
        (registrant_notices.RECIPIENT_PREFIX, registrant_notices.address_of),
        (invitations.RECIPIENT_PREFIX, invitations.address_of),
    ):
        if message.recipient.startswith(prefix):
            address = address_of(
                session, message.recipient, message.channel, keys_from_settings(rt.settings)
            )
            erased = address is None
            message = replace(message, recipient=address or "")
    files = invitations.attachments_for(session, row, now)
    if files:
        message = replace(message, data={**message.data, "attachments": files})
    return message, erased


def _wake_higher(session: Session, row: Notification, now: datetime) -> tuple[int, ...]:
    """A level's send is settled (sent, or failed for good): owe again the deliveries of the
    higher levels of the same item to the same recipient that wait for it, in this transaction.
    A message that finds its row already sent does nothing, so a spare one is harmless."""
    if row.kind != "escalation":
        return ()
    higher = session.exec(
        select(Notification.id)
        .where(
            *_same_item_and_recipient(row),
            col(Notification.level) > row.level,
            Notification.state == NotificationState.pending,
        )
        .order_by(col(Notification.level))
    ).all()
    return tuple(
        jobs.owe_many(
            session, jobs.DELIVER_ACTOR, [[n] for n in higher], now, district_id=row.district_id
        )
    )


def _deliver_to_inbox(session: Session, row: Notification, now: datetime) -> Delivery:
    """An inbox notification (a digest, a resend): its message is a row, written here."""
    inbox.deliver(session, [row], now)
    row.state, row.sent_at, row.lease_until, row.last_error = (
        NotificationState.sent,
        now,
        None,
        None,
    )
    row.attempts += 1
    return Delivery("sent", row.attempts, _wake_higher(session, row, now))


def deliver(rt: Runtime, notification_id: int, tenant: tenancy.Tenant = tenancy.JOBS) -> Delivery:
    """Send one notification if it is still owed; raise RetryLater on a transient failure.
    `tenant`: the message's district (a notification of another district is `missing`)."""
    now = rt.clock.now()
    with session_scope(rt.engine, tenant=tenant) as session:
        row = session.exec(
            select(Notification).where(Notification.id == notification_id).with_for_update()
        ).first()
        if row is None:
            return Delivery("missing")
        if row.state in (NotificationState.sent, NotificationState.failed):
            return Delivery(f"already_{row.state}", row.attempts)  # already_sent | already_failed
        if row.state == NotificationState.sending and row.lease_until and row.lease_until > now:
            return Delivery("leased", row.attempts)
        if row.channel == inbox.INBOX:
            return _deliver_to_inbox(session, row, now)
        wait_ms = _lower_level_owed(session, row, now) if row.level > 1 else None
        if wait_ms is not None:
            # Both levels of a backdated item owed at once: level 2 never overtakes level 1 to
            # the same recipient. No attempt is spent; dramatiq brings the message back.
            raise RetryLater(notification_id, "a lower level is still owed", wait_ms)
        row.state = NotificationState.sending
        row.attempts += 1
        row.lease_until = now + timedelta(seconds=rt.settings.delivery_lease_seconds)
        attempts = row.attempts
        message = message_of(row)
        message, erased = _resolved(session, rt, row, message, now)
    channel = rt.channels.get(message.channel)
    error: str | None = None
    permanent = False
    retry_ms: int | None = None
    try:
        if channel is None:
            raise PermanentChannelError(f"channel {message.channel!r} is not configured")
        if erased:
            raise PermanentChannelError("报名人的联系方式已清除或不存在", code="recipient_erased")
        channel.send(message)
    except PermanentChannelError as exc:
        error, permanent = str(exc), True
    except TransientChannelError as exc:
        error = str(exc)
        if exc.retry_after:
            retry_ms = int(exc.retry_after * 1000)
    # The message went out: record it even through a database blip, for as long as the lease
    # holds (with 5 s to spare) — giving up early would make the reconciler send it again.
    recording = Retrying(
        retry=retry_if_exception_type(OperationalError),
        wait=wait_exponential(multiplier=0.5, max=5.0),  # 0.5 s, 1 s, 2 s, 4 s, 5 s …
        stop=stop_before_delay(rt.settings.delivery_lease_seconds - 5),
        before_sleep=partial(_log_record_retry, notification_id),
        reraise=True,
    )
    return recording(_record, rt, notification_id, attempts, error, permanent, retry_ms, tenant)


def _log_record_retry(notification_id: int, attempt: RetryCallState) -> None:
    error = attempt.outcome.exception() if attempt.outcome else None
    log.warning(
        "notification_record_retry",
        notification_id=notification_id,
        error=str(error).splitlines()[0],
    )


def _record(
    rt: Runtime,
    notification_id: int,
    attempts: int,
    error: str | None,
    permanent: bool,
    retry_ms: int | None,
    tenant: tenancy.Tenant,
) -> Delivery:
    now = rt.clock.now()
    with session_scope(rt.engine, tenant=tenant) as session:
        row = session.exec(
            select(Notification).where(Notification.id == notification_id).with_for_update()
        ).one()
        row.lease_until = None
        if error is None:
            row.state, row.sent_at, row.last_error = NotificationState.sent, now, None
            replies.on_sent(session, row, now)  # an answer reaching its citizen meets the clock
            log.info("notification_sent", notification_id=row.id, channel=row.channel)
            return Delivery("sent", attempts, _wake_higher(session, row, now))
        row.last_error = error[:2000]
        if permanent or attempts >= rt.settings.delivery_max_attempts:
            row.state = NotificationState.failed
            replies.on_failed(session, row, now)  # nothing else reaches the citizen: a letter
            follow = _wake_higher(session, row, now)
            log.warning(
                "notification_failed",
                notification_id=row.id,
                channel=row.channel,
                attempts=attempts,
                permanent=permanent,
                error=error,
            )
            return Delivery("failed", attempts, follow)
        row.state = NotificationState.pending
        # Not before the retry is due: the reconciler leaves it alone until then (it re-drives
        # only rows whose lease lapsed), so an outage does not burn attempts faster.
        wait = retry_ms / 1000 if retry_ms else min(RETRY_CAP_SECONDS, 2**attempts)
        row.lease_until = now + timedelta(seconds=wait)
    log.info("notification_retry", notification_id=notification_id, attempts=attempts, error=error)
    raise RetryLater(notification_id, error, retry_ms)
