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
from workers.middleware import LogContext


def make_broker(settings: Settings | None = None) -> dramatiq.Broker:
    """A broker for the configured URL (not installed globally)."""
    settings = settings or get_settings()
    broker: dramatiq.Broker
    if settings.redis_url:
        broker = RedisBroker(url=settings.redis_url)
    else:
        broker = StubBroker()
    broker.add_middleware(LogContext())
    return broker


def install_broker(settings: Settings | None = None) -> dramatiq.Broker:
    """Create the broker and make it dramatiq's global one."""
    global _installed
    broker = make_broker(settings)
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


def broker_reachable(broker: dramatiq.Broker) -> bool:
    """Whether the broker answers (always true in-process)."""
    if isinstance(broker, RedisBroker):
        try:
            return bool(broker.client.ping())
        except Exception:  # noqa: BLE001 - any failure means unreachable
            return False
    return True
