"""A channel that only writes a log line: for development, demos and as a last-resort fallback."""

from __future__ import annotations

import structlog

from workers.channels.base import Message, mask_recipient, mask_text


class LogChannel:
    """Logs `notification_sent` with the key, channel, subject and a masked recipient."""

    name = "log"

    def send(self, message: Message) -> None:
        """Write one info line; never raises a ChannelError (no personal data is logged)."""
        # A fresh proxy each time: structlog.testing.capture_logs still sees it after the
        # process-wide configuration cached other loggers.
        structlog.get_logger("openday.notifications").info(
            "notification_sent",
            key=mask_text(message.key),
            channel=message.channel,
            recipient=mask_recipient(message.recipient),
            subject=message.subject,
        )
