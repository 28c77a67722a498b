"""SMS to registrants: a channel over an SMS gateway interface, and a gateway that only logs.

`SmsChannel` turns a notification into one text message for one mainland mobile number and
hands it to an `SmsGateway`; a provider (an operator's or a cloud SMS service) is another
gateway. `LogSmsGateway` is the one the service ships: it writes the message to the log with
the phone masked (138****5678), and sends nothing anywhere (OPENDAY_SMS_CHANNEL=log).
"""

from __future__ import annotations

import re
from typing import Protocol, runtime_checkable

import structlog

from workers.channels.base import Message, PermanentChannelError, mask_text

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
SMS_MAX_CHARS = 500  # a long message is sent as several concatenated segments (67 each)
SIGNATURE = "【政府开放日】"


def mask_phone(phone: str) -> str:
    """138****5678."""
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) >= 7 else "***"


@runtime_checkable
class SmsGateway(Protocol):
    """Anything that can send one text to one mobile number, or raise a ChannelError."""

    def send_sms(self, phone: str, text: str, key: str) -> None:
        """Send `text` to `phone`; `key` identifies the notification (for de-duplication)."""
        ...


class LogSmsGateway:
    """Logs `sms_sent` with the key, the masked phone and the text; sends nothing."""

    def send_sms(self, phone: str, text: str, key: str) -> None:
        """One info line, phone masked, phone-like digits in the text masked too."""
        structlog.get_logger("openday.sms").info(
            "sms_sent",
            key=mask_text(key),
            recipient=mask_phone(phone),
            chars=len(text),
            text=mask_text(text),
        )


class SmsChannel:
    """The `sms` notification channel: checks the number and length, then uses the gateway."""

    name = "sms"

    def __init__(self, gateway: SmsGateway) -> None:
        self.gateway = gateway

    def send(self, message: Message) -> None:
        """Send the message body as one SMS (with the service's signature)."""
        phone = re.sub(r"[\s-]", "", message.recipient).removeprefix("+86")
        if not _MOBILE.match(phone):
            raise PermanentChannelError(
                f"短信收件人不是有效的手机号码：{mask_text(message.recipient) or '（空）'}",
                code="invalid_recipient",
            )
        text = SIGNATURE + message.body.strip()
        if len(text) > SMS_MAX_CHARS:
            raise PermanentChannelError(
                f"短信过长（{len(text)} 字，最多 {SMS_MAX_CHARS} 字）", code="too_long"
            )
        self.gateway.send_sms(phone, text, message.key)
