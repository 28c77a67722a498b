"""Prometheus metrics: request and move counters in the API, timer lateness in the scheduler,
and state read at scrape time from the database and the broker (the source of truth).

The API exposes `/metrics`; with several uvicorn workers set PROMETHEUS_MULTIPROC_DIR so the
per-process counters are summed (prometheus_client's multiprocess mode). The scheduler serves
its own on OPENDAY_SCHEDULER_METRICS_PORT; `openday worker` turns on dramatiq's exporter (:9191).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import dramatiq
import structlog
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from models import Notification, NotificationState, Timer, TimerState
from workers.broker import broker_kind
from workflows.kernel import tenancy
from workflows.kernel.clock import Clock

log = structlog.get_logger("openday.metrics")

QUEUES = ("timers", "notifications")
# Owed and not yet sent: the outbox's age is the oldest of these (held digests wait on purpose).
UNSENT = (NotificationState.pending, NotificationState.sending)

REQUESTS = Counter(
    "openday_http_requests_total",
    "HTTP requests by route template, method and status.",
    ["route", "method", "status"],
)
REQUEST_SECONDS = Histogram(
    "openday_http_request_duration_seconds",
    "HTTP request duration by route template.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
MOVES = Counter(
    "openday_moves_total", "Workflow moves by trigger and outcome.", ["trigger", "outcome"]
)
TIMERS_FIRED = Counter("openday_timers_fired_total", "Timers claimed by this scheduler.")
TIMER_LATENESS = Histogram(
    "openday_timer_fire_lateness_seconds",
    "How late a timer was claimed after its moment.",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600, float("inf")),
)


def observe_fire(lateness_seconds: float) -> None:
    """Scheduler hook: one timer fired this late."""
    TIMERS_FIRED.inc()
    TIMER_LATENESS.observe(max(0.0, lateness_seconds))


class StateCollector(Collector):
    """Reads what is owed and pending from the database and the broker at scrape time."""

    def __init__(self, engine: Engine, clock: Clock, broker: dramatiq.Broker) -> None:
        self.engine = engine
        self.clock = clock
        self.broker = broker

    def collect(self) -> Iterator[Any]:
        now = self.clock.now()
        try:
            yield from self._database(now)
        except Exception as exc:  # a scrape must not fail the whole page
            log.warning("metrics_database_unavailable", error=str(exc).splitlines()[0])
            up = GaugeMetricFamily("openday_database_up", "Database reachable at scrape time.")
            up.add_metric([], 0)
            yield up
        try:
            yield from self._backups()
        except Exception as exc:
            log.warning("metrics_backups_unavailable", error=str(exc).splitlines()[0])
        try:
            yield from self._queues()
        except Exception as exc:
            log.warning("metrics_broker_unavailable", error=str(exc).splitlines()[0])

    def _database(self, now: datetime) -> Iterator[Any]:
        with Session(self.engine) as session:
            # The service's own gauges count every district's rows: a named city reading scope
            # (with none, row-level security would show the runtime role no row at all).
            tenancy.bind(session, tenancy.Tenant(scope=tenancy.CITY_READ))
            due = session.exec(
                select(Timer.rule, func.count(), func.min(Timer.due_at))
                .where(Timer.state == TimerState.pending, col(Timer.due_at) <= now)
                .group_by(Timer.rule)
            ).all()
            fired = session.exec(
                select(func.count()).select_from(Timer).where(Timer.state == TimerState.fired)
            ).one()
            notes = session.exec(
                select(Notification.channel, Notification.state, func.count()).group_by(
                    Notification.channel, Notification.state
                )
            ).all()
            unsent = session.exec(
                select(Notification.channel, func.min(Notification.created_at))
                .where(col(Notification.state).in_(UNSENT))
                .group_by(Notification.channel)
            ).all()
        up = GaugeMetricFamily("openday_database_up", "Database reachable at scrape time.")
        up.add_metric([], 1)
        yield up
        due_gauge = GaugeMetricFamily(
            "openday_timers_due", "Pending timers whose moment has passed.", labels=["rule"]
        )
        oldest = GaugeMetricFamily(
            "openday_timers_oldest_due_seconds",
            "Age of the oldest pending timer that is due (0 when none).",
            labels=["rule"],
        )
        for rule, count, earliest in due:
            due_gauge.add_metric([rule], count)
            oldest.add_metric([rule], max(0.0, (now - earliest).total_seconds()))
        yield due_gauge
        yield oldest
        handed = GaugeMetricFamily(
            "openday_timers_fired_unhandled", "Timers fired but not yet handled by a worker."
        )
        handed.add_metric([], fired)
        yield handed
        by_state = CounterMetricFamily(
            "openday_notifications",
            "Notifications by channel and state (sent and failed only ever grow).",
            labels=["channel", "state"],
        )
        for channel, state, count in notes:
            by_state.add_metric([channel, state], count)
        yield by_state
        outbox = GaugeMetricFamily(
            "openday_notifications_oldest_unsent_seconds",
            "Age of the oldest notification owed but not sent (pending or sending), by channel.",
            labels=["channel"],
        )
        for channel, created in unsent:
            outbox.add_metric([channel], max(0.0, (now - created).total_seconds()))
        yield outbox

    def _backups(self) -> Iterator[Any]:
        """The last successful and failed backups (0 when none) and the last archive's size."""
        from workflows.backup import nightly

        last = nightly.last_runs(self.engine)
        for name, run, what in (
            ("success", last.success, "Time of the last successful backup (0: none yet)."),
            ("failure", last.failure, "Time of the last failed backup (0: none yet)."),
        ):
            gauge = GaugeMetricFamily(f"openday_backup_last_{name}_timestamp_seconds", what)
            finished = run.finished_at if run is not None else None
            gauge.add_metric([], finished.timestamp() if finished is not None else 0)
            yield gauge
        size = GaugeMetricFamily(
            "openday_backup_last_size_bytes", "Size of the last successful backup archive."
        )
        size.add_metric([], (last.success.size_bytes or 0) if last.success is not None else 0)
        yield size

    def _queues(self) -> Iterator[Any]:
        depth = GaugeMetricFamily(
            "openday_queue_messages", "Messages waiting in the broker by queue.", labels=["queue"]
        )
        delayed = GaugeMetricFamily(
            "openday_queue_delayed_messages", "Delayed (retrying) messages.", labels=["queue"]
        )
        dead = GaugeMetricFamily(
            "openday_queue_dead_letters", "Messages dead-lettered by the broker.", labels=["queue"]
        )
        kind = broker_kind(self.broker)
        if kind == "redis":
            client, ns = self.broker.client, self.broker.namespace  # type: ignore[attr-defined]
            for q in QUEUES:
                depth.add_metric([q], client.hlen(f"{ns}:{q}.msgs"))
                delayed.add_metric([q], client.hlen(f"{ns}:{q}.DQ.msgs"))
                dead.add_metric([q], client.hlen(f"{ns}:{q}.XQ.msgs"))
        elif kind == "rabbitmq":
            for q in QUEUES:
                ready, waiting, dlq = self.broker.get_queue_message_counts(q)  # type: ignore[attr-defined]
                depth.add_metric([q], ready)
                delayed.add_metric([q], waiting)
                dead.add_metric([q], dlq)
        else:
            return
        yield depth
        yield delayed
        yield dead


def render(state: StateCollector) -> bytes:
    """The /metrics page: this process's (or all processes') counters plus the state."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
        registry.register(state)
        return generate_latest(registry)
    registry.register(state)
    return generate_latest(REGISTRY) + generate_latest(registry)
