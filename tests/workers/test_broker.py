"""The configured broker: Redis when OPENDAY_REDIS_URL is set, in-process otherwise."""

from __future__ import annotations

import uuid
from unittest import mock

import dramatiq
import pytest
from dramatiq.broker import MessageProxy
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.errors import ConnectionClosed
from dramatiq.middleware import Retries

from settings import Settings
from tests.conftest import REDIS_URL, unavailable
from workers.broker import broker_kind, broker_reachable, make_broker
from workers.redis_broker import PatientRetries, ResilientRedisBroker


@pytest.fixture
def redis_broker() -> RedisBroker:
    """A Redis broker on the configured server, in a private namespace."""
    if not REDIS_URL:
        unavailable("Redis", "OPENDAY_REDIS_URL is not set")
    broker = make_broker(Settings(redis_url=REDIS_URL))
    assert isinstance(broker, RedisBroker)
    if not broker_reachable(broker):
        unavailable("Redis", f"no answer at {REDIS_URL}")
    broker.namespace = f"openday-test-{uuid.uuid4().hex[:8]}"
    yield broker
    broker.flush_all()
    broker.close()


def test_without_redis_url_the_broker_is_in_process() -> None:
    """No OPENDAY_REDIS_URL means dramatiq's StubBroker, which is always reachable."""
    broker = make_broker(Settings(redis_url=None))
    assert isinstance(broker, StubBroker) and broker_reachable(broker)


def test_a_message_round_trips_through_redis(redis_broker: RedisBroker) -> None:
    """An actor's message goes through the real Redis server and a real dramatiq worker."""
    seen: list[int] = []

    @dramatiq.actor(broker=redis_broker, queue_name="roundtrip")
    def record(value: int) -> None:
        seen.append(value)

    worker = dramatiq.Worker(redis_broker, worker_timeout=100, worker_threads=1)
    worker.start()
    try:
        for value in (1, 2, 3):
            record.send(value)
        redis_broker.join("roundtrip", timeout=10_000)
        worker.join()
    finally:
        worker.stop()
    assert sorted(seen) == [1, 2, 3]


def test_unreachable_redis_is_reported(tmp_path) -> None:
    """readyz answers 503 broker_unavailable when Redis does not answer."""
    from fastapi.testclient import TestClient

    from api import create_app
    from models.db import make_engine

    broker = make_broker(Settings(redis_url="redis://127.0.0.1:1/0"))
    app = create_app(
        settings=Settings(var_dir=tmp_path),
        engine=make_engine(f"sqlite:///{tmp_path}/x.db"),
        broker=broker,
    )
    with TestClient(app) as client:
        r = client.get("/readyz")
    assert r.status_code == 503 and r.json()["error"]["code"] == "broker_unavailable"


RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


@pytest.fixture
def rabbitmq_broker():
    """The machine's RabbitMQ (guest/guest) through dramatiq's RabbitMQ broker."""
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    broker = make_broker(Settings(broker_url=RABBITMQ_URL))
    assert isinstance(broker, RabbitmqBroker)
    if not broker_reachable(broker):
        unavailable("RabbitMQ", f"no answer at {RABBITMQ_URL}")
    yield broker
    broker.close()


def test_amqp_url_selects_rabbitmq_and_a_message_round_trips(rabbitmq_broker) -> None:
    """OPENDAY_BROKER_URL=amqp://… runs the same actors on RabbitMQ."""
    seen: list[int] = []
    queue = f"openday-test-{uuid.uuid4().hex[:8]}"

    @dramatiq.actor(broker=rabbitmq_broker, queue_name=queue)
    def record(value: int) -> None:
        seen.append(value)

    worker = dramatiq.Worker(rabbitmq_broker, worker_timeout=100, worker_threads=1)
    worker.start()
    try:
        for value in (1, 2, 3):
            record.send(value)
        rabbitmq_broker.join(queue, timeout=10_000)
        worker.join()
    finally:
        worker.stop()
        rabbitmq_broker.channel.queue_delete(queue)
        rabbitmq_broker.channel.queue_delete(f"{queue}.DQ")
        rabbitmq_broker.channel.queue_delete(f"{queue}.XQ")
    assert sorted(seen) == [1, 2, 3]


def test_broker_url_wins_over_redis_url_and_bad_schemes_are_refused() -> None:
    """OPENDAY_BROKER_URL overrides OPENDAY_REDIS_URL; an unknown scheme is a clear error."""
    settings = Settings(broker_url="amqp://x", redis_url="redis://y")
    assert settings.effective_broker_url.get_secret_value() == "amqp://x"  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="unsupported broker URL scheme"):
        make_broker(Settings(broker_url="kafka://z"))


class _AwayThenBack:
    """A broker whose enqueue fails as a paused Redis does, `away` times, then answers."""

    def __init__(self, away: int) -> None:
        self.away, self.enqueued = away, []
        self.actor = dramatiq.Actor(lambda: None, actor_name="flaky", queue_name="default",
                                    priority=0, broker=StubBroker(), options={})  # fmt: skip

    def get_actor(self, name: str) -> dramatiq.Actor:
        return self.actor

    def enqueue(self, message: dramatiq.Message, *, delay: int | None = None) -> None:
        if self.away:
            self.away -= 1
            raise ConnectionClosed(TimeoutError("Timeout reading from socket"))
        self.enqueued.append((message.options["retries"], delay))


def _failed_message() -> MessageProxy:
    return MessageProxy(dramatiq.Message(queue_name="default", actor_name="flaky", args=(),
                                         kwargs={}, options={}))  # fmt: skip


def test_a_retry_waits_for_redis_to_answer_instead_of_being_lost() -> None:
    """A message that fails while Redis is away: its retry is enqueued once Redis answers
    (dramatiq's own Retries raised into "Unexpected failure in after_process_message")."""
    slept: list[float] = []
    broker, message = _AwayThenBack(away=3), _failed_message()
    PatientRetries(sleep=slept.append).after_process_message(
        broker, message, exception=RuntimeError("the database was away")
    )
    assert slept == [1, 1, 1]
    assert [retries for retries, _ in broker.enqueued] == [1]  # counted once, not per try
    assert broker.enqueued[0][1] > 0  # with dramatiq's backoff
    assert not message.failed


def test_a_retry_gives_up_after_its_patience() -> None:
    clock = iter(range(0, 1000, 30))
    broker = _AwayThenBack(away=100)
    retries = PatientRetries(patience=60, sleep=lambda _s: None)
    with mock.patch("time.monotonic", lambda: next(clock)), pytest.raises(ConnectionClosed):
        retries.after_process_message(broker, _failed_message(), exception=RuntimeError("x"))
    assert broker.enqueued == [] and broker.away < 100


def test_the_redis_broker_uses_the_patient_retries() -> None:
    broker = ResilientRedisBroker(url="redis://127.0.0.1:1/0")  # never connected to
    assert [type(m) for m in broker.middleware if isinstance(m, Retries)] == [PatientRetries]


def test_an_unreachable_redis_is_reported_as_such() -> None:
    """broker_reachable knows a Redis broker by its class without importing redis-py itself
    (workers/broker.py imports it only when a Redis URL is configured): nothing answers on
    port 1, so the broker is not reachable, and a StubBroker is of no remote kind."""
    broker = ResilientRedisBroker(url="redis://127.0.0.1:1/0", socket_timeout=1)
    assert broker_kind(broker) == "redis" and not broker_reachable(broker)
    assert broker_kind(StubBroker()) is None
