"""dramatiq's Redis broker, with a socket timeout treated as a lost connection.

redis-py (since 6) gives every socket a 5 s timeout, and a Redis that stops answering (paused,
a network partition) raises `redis.TimeoutError`, which is not a `redis.ConnectionError`.
dramatiq's Redis consumer only turns the latter into its `ConnectionClosed` (dramatiq issue
894), so during such an outage every ack became "You've found a bug in Dramatiq" with a
traceback, the message stayed unacknowledged in the worker's acks set until the heartbeat
timeout let another worker take it (~100 s), and the consumer restarted with a traceback each
time. Here every broker call that times out or loses its connection raises `ConnectionClosed`,
which dramatiq handles: the consumer restarts quietly, acks are retried until Redis answers.

Each outage is logged once per process (a warning when the first call fails, an info line with
its length when a call succeeds again). After an outage each consumer hands back at once, on
its next poll, the messages its process holds in Redis's acks set but never received or has
dropped (a fetch whose answer was lost, the prefetch cache of a consumer dramatiq restarted),
instead of leaving them to the heartbeat timeout.

A message that fails while Redis is away is retried once Redis answers: dramatiq's Retries
middleware re-enqueues it with backoff, and that enqueue waits here (up to
`RETRY_ENQUEUE_PATIENCE`) instead of failing into "Unexpected failure in after_process_message"
with the retry lost.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any, cast

import dramatiq
import redis
import structlog
from dramatiq.broker import MessageProxy
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.errors import BrokerConnectionError, ConnectionClosed
from dramatiq.message import Message
from dramatiq.middleware import Retries
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

log = structlog.get_logger("openday.broker")


# How long a failed message's retry waits for Redis to answer before giving up (dramatiq then
# logs the failure and the message stays in the acks set, handed back after the outage).
RETRY_ENQUEUE_PATIENCE = 120.0


class _PatientBroker:
    """The broker as Retries sees it: an enqueue that fails on a lost connection is tried
    again every second until Redis answers (each try is a fresh copy: no partial state)."""

    def __init__(
        self, broker: dramatiq.Broker, patience: float, sleep: Callable[[float], None]
    ) -> None:
        self._broker, self._patience, self._sleep = broker, patience, sleep

    def __getattr__(self, name: str) -> Any:
        return getattr(self._broker, name)

    def enqueue(self, message: Message, *, delay: int | None = None) -> Message:
        for attempt in Retrying(
            retry=retry_if_exception_type(BrokerConnectionError),
            wait=wait_fixed(1),
            stop=stop_after_delay(self._patience),
            sleep=self._sleep,
            reraise=True,
        ):
            with attempt:
                return self._broker.enqueue(message, delay=delay)
        raise AssertionError("unreachable: tenacity re-raises the last error")


class PatientRetries(Retries):
    """dramatiq's Retries, whose re-enqueue of a failed message waits out a Redis outage."""

    def __init__(
        self,
        *,
        patience: float = RETRY_ENQUEUE_PATIENCE,
        sleep: Callable[[float], None] = time.sleep,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.patience, self.sleep = patience, sleep

    def after_process_message(
        self, broker: dramatiq.Broker, message: Any, *, result: Any = None, exception: Any = None
    ) -> None:
        patient = _PatientBroker(broker, self.patience, self.sleep)
        super().after_process_message(patient, message, result=result, exception=exception)


class ResilientRedisBroker(RedisBroker):
    """A RedisBroker whose calls fail with ConnectionClosed on a timeout or a lost connection."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.middleware = [PatientRetries() if type(m) is Retries else m for m in self.middleware]
        self._state_lock = threading.Lock()
        self._down_since: float | None = None
        self.outages = 0  # outages this process has seen end (consumers sweep after each)
        # Redis message ids a consumer of this process has handed to the worker and that are not
        # yet acked, nacked or requeued, per queue: what the acks set may rightly hold.
        self._held: defaultdict[str, set[str]] = defaultdict(set)
        self._consumed: set[str] = set()  # queues a consumer was made for in this process

    @property
    def consumer_class(self) -> type[_RedisConsumer]:
        return _SweepingConsumer

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000) -> Any:
        # dramatiq's consumer thread of this queue logs every failed ack and every consumer
        # restart while Redis is away; the outage is reported once, here, instead.
        logger = logging.getLogger(f"dramatiq.worker.ConsumerThread({queue_name})")
        if _QUIET not in logger.filters:
            logger.addFilter(_QUIET)
        with self._state_lock:
            restarted = queue_name in self._consumed
            self._consumed.add(queue_name)
            if restarted and queue_name.endswith(".DQ"):
                # dramatiq's consumer thread drops its in-memory delay queue when its consumer
                # fails with a connection error (the only reason it makes a new one here): the
                # delayed messages it held are held by nobody now, so the new consumer's sweep
                # hands them back to Redis instead of leaving them in the acks set.
                self._held[queue_name].clear()
        return super().consume(queue_name, prefetch, timeout)

    def _dispatch(self, command: str) -> Callable[..., Any]:
        call = super()._dispatch(command)

        def guarded(queue_name: str, *args: Any) -> Any:
            try:
                result = call(queue_name, *args)
            except (redis.TimeoutError, redis.ConnectionError) as exc:
                self._lost(command, exc)
                raise ConnectionClosed(exc) from None
            self._answered()
            return result

        return guarded

    def _lost(self, command: str, exc: BaseException) -> None:
        with self._state_lock:
            if self._down_since is not None:
                return
            self._down_since = time.monotonic()
        log.warning(
            "broker_connection_lost",
            pid=os.getpid(),
            command=command,
            error=f"{type(exc).__name__}: {exc}",
            note="retrying until Redis answers; unacknowledged messages are kept",
        )

    def _answered(self) -> None:
        if self._down_since is None:  # the common case: no lock
            return
        with self._state_lock:
            if self._down_since is None:
                return
            seconds = time.monotonic() - self._down_since
            self._down_since = None
            self.outages += 1
        log.info("broker_connection_restored", pid=os.getpid(), seconds=round(seconds, 1))

    def hold(self, queue_name: str, redis_id: str) -> None:
        self._held[queue_name].add(redis_id)

    def release(self, queue_name: str, redis_ids: Iterable[str]) -> None:
        self._held[queue_name].difference_update(redis_ids)

    def held(self, queue_name: str) -> set[str]:
        return set(self._held[queue_name])

    def acks_key(self, queue_name: str) -> str:
        return f"{self.namespace}:__acks__.{self.broker_id}.{queue_name}"


class _ConnectionNoise(logging.Filter):
    """Drops dramatiq's per-message and per-restart lines about a lost broker connection."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = str(record.msg)
        return not (
            text.startswith("Consumer encountered a connection error")
            or (text.startswith("Failed to post_process_message") and "connection error" in text)
        )


_QUIET = _ConnectionNoise()


class _SweepingConsumer(_RedisConsumer):
    """dramatiq's Redis consumer, keeping the broker's record of what it holds and handing back
    orphaned messages after an outage."""

    broker: ResilientRedisBroker

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._swept = -1  # a new consumer (dramatiq makes one after each outage) sweeps first

    def __next__(self) -> MessageProxy | None:
        if self._swept != self.broker.outages:
            self._sweep()
        message = super().__next__()
        if message is not None:
            self.broker.hold(self.queue_name, message.options["redis_message_id"])
        return message

    def ack(self, message: MessageProxy) -> None:
        try:
            super().ack(message)
        finally:
            self.broker.release(self.queue_name, [message.options["redis_message_id"]])

    def nack(self, message: MessageProxy) -> None:
        try:
            super().nack(message)
        finally:
            self.broker.release(self.queue_name, [message.options["redis_message_id"]])

    def requeue(self, messages: Iterable[MessageProxy]) -> None:
        messages = list(messages)
        super().requeue(messages)
        self.broker.release(self.queue_name, [m.options["redis_message_id"] for m in messages])

    def _sweep(self) -> None:
        """Requeue what this process's acks set holds for the queue but nobody here handles."""
        outages = self.broker.outages
        try:
            # dramatiq's client keeps replies as bytes (no decode_responses)
            members = cast(
                "set[bytes]", self.broker.client.smembers(self.broker.acks_key(self.queue_name))
            )
        except (redis.TimeoutError, redis.ConnectionError) as exc:
            self.broker._lost("sweep", exc)
            raise ConnectionClosed(exc) from None
        cached = {Message.decode(data).options["redis_message_id"] for data in self.message_cache}
        known = self.broker.held(self.queue_name) | cached
        orphans = sorted(m.decode() for m in members if m.decode() not in known)
        if orphans:
            self.broker.do_requeue(self.queue_name, *orphans)
            log.info("broker_messages_requeued", queue=self.queue_name, count=len(orphans))
        self._swept = outages
