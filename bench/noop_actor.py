"""A no-op dramatiq actor: the floor for draining messages (bench/timers.py).

    BENCH_NOOP_BROKER_URL=redis://127.0.0.1:6379/11 \
        .venv/bin/python -m dramatiq noop_actor --path bench --processes 2 --threads 8

Same dramatiq, same Redis broker class, same process and thread counts as `openday worker`; the
actor does nothing, so draining N messages measures the broker and dramatiq alone.
"""

from __future__ import annotations

import os

import dramatiq
from dramatiq.brokers.redis import RedisBroker

QUEUE = "noop_bench"

broker = RedisBroker(url=os.environ["BENCH_NOOP_BROKER_URL"])
dramatiq.set_broker(broker)


@dramatiq.actor(queue_name=QUEUE, max_retries=0)
def noop(i: int) -> None:
    """Nothing at all."""
