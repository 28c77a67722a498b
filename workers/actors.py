"""dramatiq actors. They take ids, re-check state in the database and are safe to run twice.

The broker is installed (from settings) before the actors are declared (dramatiq #214, #543).
`openday worker` runs `dramatiq workers.actors`; `openday run` drains them in-process.
"""

from __future__ import annotations

import os

import dramatiq
import structlog
from sqlmodel import Session

from models.db import session_scope
from settings import configure_logging
from workers import delivery
from workers.broker import ensure_broker
from workers.delivery import RETRY_CAP_SECONDS
from workers.relay import relay
from workers.runtime import Runtime, runtime
from workers.scheduler import dramatiq_sender
from workers.wake import install_wake_hook
from workflows import escalation
from workflows.jobs import DELIVER_ACTOR, HANDLE_TIMERS_ACTOR

log = structlog.get_logger("openday.actors")
configure_logging()  # in every dramatiq worker process, as the settings say
_broker = ensure_broker()
install_wake_hook()  # moves run here too (the mark_overdue of a fired timer, `openday run`)
if os.environ.get("OPENDAY_WORKER_METRICS") == "1":  # set by `openday worker` (dramatiq CLI)
    from dramatiq.middleware.prometheus import Prometheus

    _broker.add_middleware(Prometheus())


def _apply(session: Session, rt: Runtime, timer_id: int) -> escalation.Outcome:
    """The escalation rules applied to one fired timer, its log-channel notices sent inline."""
    now = rt.clock.now()
    outcome = escalation.handle_timer(session, timer_id, now, rt.notify)
    delivery.deliver_inline(rt, outcome.inline, now)
    return outcome


@dramatiq.actor(
    actor_name=HANDLE_TIMERS_ACTOR,
    queue_name="timers",
    max_retries=10,
    min_backoff=1_000,
    max_backoff=60_000,
)
def handle_timers(timer_ids: list[int]) -> None:
    """Apply a batch of fired timers in one transaction, each in a savepoint of its own (one
    that fails stays `fired` for the reconciler without holding back the rest), then relay."""
    rt = runtime()
    owed: list[int] = []
    with session_scope(rt.engine) as session:
        for timer_id in timer_ids:
            try:
                with session.begin_nested():
                    outcome = _apply(session, rt, timer_id)
                owed.extend(outcome.outbox_ids)
            except Exception:  # logged; the reconciler re-drives it later
                log.exception("timer_failed", timer_id=timer_id)
    if owed:
        relay(rt.engine, dramatiq_sender(), rt.clock.now(), only_ids=owed)


@dramatiq.actor(
    actor_name=DELIVER_ACTOR,
    queue_name="notifications",
    max_retries=50,  # the database's attempt count decides when to give up (delivery.py)
    min_backoff=1_000,
    max_backoff=RETRY_CAP_SECONDS * 1000,
)
def deliver_notification(notification_id: int) -> None:
    """Send one notification through its channel; transient failures retry with backoff."""
    try:
        delivery.deliver(runtime(), notification_id)
    except delivery.RetryLater as exc:
        raise dramatiq.Retry(str(exc), delay=exc.delay_ms) from exc
