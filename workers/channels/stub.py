"""An in-memory channel for worker tests: records messages and fails on request."""

from __future__ import annotations

import threading
from collections import deque

from workers.channels.base import Message, PermanentChannelError, TransientChannelError


class StubChannel:
    """Records every delivered message in `sent`; `fail_next` makes the next sends raise."""

    def __init__(self, name: str = "stub") -> None:
        self.name = name
        self.sent: list[Message] = []
        self.attempts: list[Message] = []
        self._failures: deque[bool] = deque()
        self._lock = threading.Lock()

    def fail_next(self, n: int = 1, permanent: bool = False) -> None:
        """Make the next n sends raise (Permanent- or TransientChannelError), after any queued."""
        if n < 0:
            raise ValueError("n must not be negative")
        with self._lock:
            self._failures.extend([permanent] * n)

    def send(self, message: Message) -> None:
        """Record the message, or raise the next injected failure."""
        with self._lock:
            self.attempts.append(message)
            if self._failures:
                permanent = self._failures.popleft()
                if permanent:
                    raise PermanentChannelError("模拟的永久性发送失败", code="stub_permanent")
                raise TransientChannelError("模拟的暂时性发送失败", code="stub_transient")
            self.sent.append(message)

    @property
    def pending_failures(self) -> int:
        """How many injected failures are still queued."""
        with self._lock:
            return len(self._failures)
