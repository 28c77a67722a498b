"""The configured broker: Redis when OPENDAY_REDIS_URL is set, in-process otherwise."""

from __future__ import annotations

import uuid

import dramatiq
import pytest
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker

from settings import Settings
from tests.conftest import REDIS_URL, unavailable
from workers.broker import broker_reachable, make_broker


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
