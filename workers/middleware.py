"""dramatiq middleware: every log line of a message names the message and its actor."""

from __future__ import annotations

from typing import Any

import dramatiq
import structlog


class LogContext(dramatiq.Middleware):
    """Binds message_id and actor to structlog's context while a message is processed."""

    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            message_id=message.message_id, actor=message.actor_name
        )

    def after_process_message(
        self, broker: dramatiq.Broker, message: Any, *, result: Any = None, exception: Any = None
    ) -> None:
        structlog.contextvars.clear_contextvars()

    after_skip_message = after_process_message
