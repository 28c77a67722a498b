"""What background jobs run against: one engine, one clock, the channels; built from settings.

Actors take ids and look everything else up here, so tests can install their own runtime
(a test database, a fixed clock, stub channels) with `set_runtime`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from models.db import make_engine
from settings import Settings, get_settings
from workers.channels import (
    Channel,
    LogChannel,
    LogSmsGateway,
    SmsChannel,
    SmtpChannel,
    WebhookChannel,
)
from workers.channels.webhook import WebhookFormat
from workflows.escalation.batch import NotifyConfig
from workflows.kernel.clock import Clock, clock_from_setting

WEBHOOK_FORMATS: tuple[WebhookFormat, ...] = ("json", "wecom", "dingtalk")


@dataclass
class Runtime:
    """The engine, clock and channels background work uses."""

    engine: Engine
    clock: Clock
    settings: Settings
    channels: dict[str, Channel] = field(default_factory=dict)

    @property
    def notify(self) -> NotifyConfig:
        """The channel settings the escalation rules read."""
        return notify_config(self.settings)


def notify_config(settings: Settings) -> NotifyConfig:
    """What the recipient rule needs to know of the settings, as plain values."""
    return NotifyConfig(
        email_enabled=bool(settings.smtp_host),
        supervisor_webhook_url=settings.supervisor_webhook_url,
        supervisor_webhook_format=settings.supervisor_webhook_format,
        office_email=settings.office_email,
        notify_log=settings.notify_log,
        board_url=settings.public_base + "/board",
    )


def build_channels(settings: Settings) -> dict[str, Channel]:
    """Channels by notification channel name: email, webhook_<format>, log."""
    channels: dict[str, Channel] = {
        f"webhook_{fmt}": WebhookChannel(format=fmt) for fmt in WEBHOOK_FORMATS
    }
    if settings.smtp_host:
        channels["email"] = SmtpChannel(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_sender,
            username=settings.smtp_username,
            password=(
                settings.smtp_password.get_secret_value() if settings.smtp_password else None
            ),
            starttls=settings.smtp_starttls,
            use_ssl=settings.smtp_ssl,
        )
    if settings.notify_log:
        channels["log"] = LogChannel()
    if settings.sms_channel == "log":  # registrants' SMS: logged, phone masked; nothing sent
        channels["sms"] = SmsChannel(LogSmsGateway())
    return channels


_lock = threading.Lock()
_runtime: Runtime | None = None


def runtime() -> Runtime:
    """The process's runtime, built from settings on first use."""
    global _runtime
    with _lock:
        if _runtime is None:
            settings = get_settings()
            _runtime = Runtime(
                engine=make_engine(settings.database_url.get_secret_value()),
                clock=clock_from_setting(settings.clock_start),
                settings=settings,
                channels=build_channels(settings),
            )
        return _runtime


def set_runtime(value: Runtime | None) -> None:
    """Install (or clear) the runtime; tests and `openday run` use this."""
    global _runtime
    with _lock:
        _runtime = value
