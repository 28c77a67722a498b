"""A dramatiq broker module for the double-delivery fault test: the service's own broker (from
OPENDAY_BROKER_URL, installed before `workers.actors` declares its actors) plus a middleware
that delivers every message a second time.

    python -m dramatiq tests.faults.doubling workers.actors --processes 2 --threads 4

Each message a worker picks up is enqueued again before it is processed: half of the copies at
once (likely handled by another thread at the same moment), half 300 ms later (handled after
the original finished). Copies are marked and not copied again. Redis hashes
`fault:originals` and `fault:copies` (in the broker's database), counting by actor, let the
test prove that every message really was delivered twice.
"""

from __future__ import annotations

import random
from typing import Any

import dramatiq

from tests.faults.harness import DOUBLED_COPIES as COPIES
from tests.faults.harness import DOUBLED_ORIGINALS as ORIGINALS
from workers.broker import install_broker


class DeliverEveryMessageTwice(dramatiq.Middleware):
    """Before a message is processed, enqueue the same message (same id and arguments) again."""

    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        client = broker.client  # type: ignore[attr-defined]  # a RedisBroker
        if message.options.get("fault_copy"):
            client.hincrby(COPIES, message.actor_name, 1)
            return
        client.hincrby(ORIGINALS, message.actor_name, 1)
        copy = message.copy(options={"fault_copy": True})
        broker.enqueue(copy, delay=random.choice([None, 300]))


broker = install_broker()
broker.add_middleware(DeliverEveryMessageTwice())
