"""Ports for the servers and fakes that tests start.

Each pytest-xdist worker takes ports from its own block below the kernel's ephemeral range
(32768-60999 here), counting up. Asking the kernel for port 0 let two workers be handed the same
port a moment apart; the loser's server failed to bind while its test's /healthz probe was answered
by the winner's server, and the test went on against another test's data (seen once in CI).
"""

from __future__ import annotations

import itertools
import os
import socket

FIRST = 20_000
BLOCK = 1_000
BLOCKS = 12  # 20000-31999: below the ephemeral range, so no outgoing connection holds one

_counter = itertools.count()


def _worker_index() -> int:
    """0 for gw0 (and for a run without xdist), 1 for gw1, …"""
    name = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    digits = name.removeprefix("gw")
    return int(digits) % BLOCKS if digits.isdigit() else 0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on now and no other worker will hand out."""
    start = FIRST + _worker_index() * BLOCK
    for _ in range(BLOCK):
        port = start + next(_counter) % BLOCK
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue  # in use, or still closing: take the next one
            return port
    raise RuntimeError(f"no free port in {start}-{start + BLOCK - 1}")
