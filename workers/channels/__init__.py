"""Notification channels the workers call: SMTP e-mail, webhooks, SMS (a gateway interface with
a log gateway), log, and a stub.

Construction is explicit (no factory reading settings): the worker builds the channels it needs
and looks them up by `Message.channel`.
"""

from workers.channels.base import (
    Channel,
    ChannelError,
    Message,
    PermanentChannelError,
    TransientChannelError,
    mask_recipient,
    mask_text,
    mask_url,
)
from workers.channels.log_channel import LogChannel
from workers.channels.sms import LogSmsGateway, SmsChannel, SmsGateway
from workers.channels.smtp import SmtpChannel, message_id_for
from workers.channels.stub import StubChannel
from workers.channels.webhook import WebhookChannel

__all__ = [
    "Channel",
    "ChannelError",
    "LogChannel",
    "LogSmsGateway",
    "Message",
    "PermanentChannelError",
    "SmsChannel",
    "SmsGateway",
    "SmtpChannel",
    "StubChannel",
    "TransientChannelError",
    "WebhookChannel",
    "mask_recipient",
    "mask_text",
    "mask_url",
    "message_id_for",
]
