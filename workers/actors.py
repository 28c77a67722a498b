"""dramatiq actors. They take ids, re-check state in the database and are safe to run twice.

The broker is installed (from settings) before the actors are declared (dramatiq #214, #543).
`openday worker` runs `dramatiq workers.actors`; `openday run` drains them in-process.
"""

from __future__ import annotations

import os

import dramatiq
import structlog
from dramatiq.errors import BrokerConnectionError
from sqlalchemy.exc import OperationalError

from models.db import session_scope
from settings import configure_logging
from workers import delivery
from workers.broker import ensure_broker
from workers.delivery import RETRY_CAP_SECONDS
from workers.relay import relay
from workers.runtime import Runtime, runtime
from workers.scheduler import dramatiq_sender
from workers.wake import install_wake_hook
from workflows.escalation import service as escalation
from workflows.kernel import jobs, tenancy
from workflows.kernel.jobs import DELIVER_ACTOR, HANDLE_TIMERS_ACTOR

log = structlog.get_logger("openday.actors")
configure_logging()  # in every dramatiq worker process, as the settings say
_broker = ensure_broker()
install_wake_hook()  # moves run here too (the mark_overdue of a fired timer, `openday run`)
if os.environ.get("OPENDAY_WORKER_METRICS") == "1":  # set by `openday worker` (dramatiq CLI)
    from dramatiq.middleware.prometheus import Prometheus

    _broker.add_middleware(Prometheus())


def _tenant(actor: str, district: object, subject: object) -> tenancy.Tenant:
    """The message's tenant; a message naming no district is logged and refused (no retry:
    dramatiq dead-letters it), before any transaction opens, so nothing is written."""
    try:
        return jobs.tenant_of(actor, district)
    except jobs.Refused:
        log.error("job_message_refused", actor=actor, subject=subject, district=repr(district),
                  reason="no district")  # fmt: skip
        raise


@dramatiq.actor(
    actor_name=HANDLE_TIMERS_ACTOR,
    queue_name="timers",
    max_retries=10,
    min_backoff=1_000,
    max_backoff=60_000,
    throws=(jobs.Refused,),
)
def handle_timers(timer_ids: list[int], district: int | str | None = None) -> None:
    """Apply a batch of fired timers set-based in one transaction, write its log-channel
    notices, commit, then relay what it owes. A batch that fails is applied again with a
    transaction per timer instead, so one bad timer cannot hold back the rest; one that still
    fails stays `fired` for the scheduler's reconciler. The database being away is no timer's
    fault: dramatiq retries the whole message with backoff.

    `district` (appended by the relay): the timers' district, whose tenant the transaction
    binds (a timer of another district is not seen), or jobs.CITY_WIDE for digests' timers."""
    tenant = _tenant(HANDLE_TIMERS_ACTOR, district, timer_ids)
    rt = runtime()
    try:
        owed = _apply(rt, timer_ids, tenant)
    except OperationalError:
        raise
    except Exception:
        log.exception("timer_batch_failed", timers=len(timer_ids))
        owed = []
        for timer_id in timer_ids:
            try:
                owed += _apply(rt, [timer_id], tenant)
            except Exception:  # logged; the reconciler re-drives it later
                log.exception("timer_failed", timer_id=timer_id)
    if owed:
        try:
            relay(rt.engine, dramatiq_sender(), rt.clock.now(), only_ids=owed)
        except BrokerConnectionError:
            # The timers are applied and committed; their outbox rows stay and the scheduler's
            # relay sends them once the broker answers (the broker has logged the outage).
            pass


def _apply(rt: Runtime, timer_ids: list[int], tenant: tenancy.Tenant) -> list[int]:
    """The escalation rules applied to fired timers in one transaction; returns outbox ids."""
    with session_scope(rt.engine, tenant=tenant) as session:
        now = rt.clock.now()
        outcome = escalation.handle_timers(session, timer_ids, now, rt.notify)
        delivery.deliver_inline(rt, outcome.inline, now)
    return outcome.outbox_ids


@dramatiq.actor(
    actor_name=DELIVER_ACTOR,
    queue_name="notifications",
    max_retries=50,  # the database's attempt count decides when to give up (delivery.py)
    min_backoff=1_000,
    max_backoff=RETRY_CAP_SECONDS * 1000,
    throws=(jobs.Refused,),
)
def deliver_notification(notification_id: int, district: int | str | None = None) -> None:
    """Send one notification through its channel; transient failures retry with backoff.
    `district`: the notification's (its transaction's tenant), or jobs.CITY_WIDE."""
    tenant = _tenant(DELIVER_ACTOR, district, notification_id)
    rt = runtime()
    try:
        done = delivery.deliver(rt, notification_id, tenant)
    except delivery.RetryLater as exc:
        raise dramatiq.Retry(str(exc), delay=exc.delay_ms) from exc
    if done.follow:
        # The higher levels that waited for this one go now, not after a retry's delay; if the
        # broker is away the scheduler's relay sends them later.
        try:
            relay(rt.engine, dramatiq_sender(), rt.clock.now(), only_ids=done.follow)
        except BrokerConnectionError:
            pass
