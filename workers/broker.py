"""The dramatiq broker, chosen by settings and installed before any actor module is imported.

Redis when OPENDAY_REDIS_URL is set; otherwise dramatiq's in-process StubBroker, which `make run`
drains with a worker thread in the same process (dramatiq issues #214, #543: set the broker
first, then import actors).
"""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker

from settings import Settings, get_settings


def make_broker(settings: Settings | None = None) -> dramatiq.Broker:
    """A broker for the configured URL (not installed globally)."""
    settings = settings or get_settings()
    if settings.redis_url:
        return RedisBroker(url=settings.redis_url)
    return StubBroker()


def install_broker(settings: Settings | None = None) -> dramatiq.Broker:
    """Create the broker and make it dramatiq's global one."""
    broker = make_broker(settings)
    dramatiq.set_broker(broker)
    return broker


def broker_reachable(broker: dramatiq.Broker) -> bool:
    """Whether the broker answers (always true in-process)."""
    if isinstance(broker, RedisBroker):
        try:
            return bool(broker.client.ping())
        except Exception:  # noqa: BLE001 - any failure means unreachable
            return False
    return True
