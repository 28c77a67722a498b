"""The dramatiq broker, chosen by URL and installed before any actor module is imported.

OPENDAY_BROKER_URL (or OPENDAY_REDIS_URL): `redis://…` gives dramatiq's Redis broker (with a
socket timeout handled as a lost connection: workers/redis_broker.py), `amqp://…`
its RabbitMQ broker; unset gives the in-process StubBroker, which `make run` drains with a
worker thread in the same process (dramatiq issues #214, #543: set the broker first, then import
actors).
"""

from __future__ import annotations

import sys

import dramatiq
from dramatiq.brokers.stub import StubBroker

from settings import Settings, get_settings
from workers.middleware import LogContext

# The Redis and RabbitMQ brokers are imported only when their URL is configured: redis-py and
# pika cost ~150 ms and several MB at every start of the embedded default, which uses neither.
REDIS_MODULE = "dramatiq.brokers.redis"
RABBITMQ_MODULE = "dramatiq.brokers.rabbitmq"


def make_broker(settings: Settings | None = None) -> dramatiq.Broker:
    """A broker for the configured URL (not installed globally)."""
    settings = settings or get_settings()
    secret = settings.effective_broker_url
    url = secret.get_secret_value() if secret is not None else None
    broker: dramatiq.Broker
    if not url:
        broker = StubBroker()
    elif url.startswith(("amqp://", "amqps://")):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        # Publisher confirms: send() returns once RabbitMQ has the message, not before.
        broker = RabbitmqBroker(url=url, confirm_delivery=True)
    elif url.startswith(("redis://", "rediss://", "unix://")):
        from workers.redis_broker import ResilientRedisBroker

        # A Redis that stops answering is a lost connection, not a dramatiq bug (issue 894).
        broker = ResilientRedisBroker(url=url)
    else:
        raise ValueError(f"unsupported broker URL scheme: {url.split(':', 1)[0]!r}")
    broker.add_middleware(LogContext())
    return broker


def install_broker(settings: Settings | None = None) -> dramatiq.Broker:
    """Create the broker and make it dramatiq's global one."""
    return use_broker(make_broker(settings))


def use_broker(broker: dramatiq.Broker) -> dramatiq.Broker:
    """Make `broker` dramatiq's global one, the one actor modules declare their actors on
    (tests bring their own StubBroker)."""
    global _installed
    dramatiq.set_broker(broker)
    _installed = broker
    return broker


_installed: dramatiq.Broker | None = None


def ensure_broker() -> dramatiq.Broker:
    """The global broker, installed from settings on first call (actor modules call this)."""
    global _installed
    if _installed is None:
        _installed = install_broker()
    return _installed


def broker_kind(broker: dramatiq.Broker) -> str | None:
    """ "redis" or "rabbitmq" for dramatiq's brokers of those kinds (subclasses too), else None.
    A broker class whose module was never imported cannot be the broker's class, so this never
    imports redis-py or pika itself."""
    for kind, module in (("redis", REDIS_MODULE), ("rabbitmq", RABBITMQ_MODULE)):
        loaded = sys.modules.get(module)
        base = getattr(loaded, "RedisBroker" if kind == "redis" else "RabbitmqBroker", None)
        if base is not None and isinstance(broker, base):
            return kind
    return None


def broker_reachable(broker: dramatiq.Broker) -> bool:
    """Whether the broker answers (always true in-process)."""
    kind = broker_kind(broker)
    try:
        if kind == "redis":
            return bool(broker.client.ping())  # type: ignore[attr-defined]
        if kind == "rabbitmq":
            return bool(broker.connection.is_open)  # type: ignore[attr-defined]
    except Exception:  # any failure means unreachable
        return False
    return True
