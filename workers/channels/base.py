"""What every notification channel shares: the message, the failure classes, masking helpers.

A channel either delivers a message or raises a ChannelError saying whether retrying can help:
TransientChannelError (the worker retries with backoff) or PermanentChannelError (the worker
records the failure for supervisors). Error messages are Chinese because supervisors read them;
they never contain webhook secrets and show recipients masked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Message:
    """One notification for one recipient on one channel; `key` identifies it forever."""

    key: str
    channel: str
    recipient: str
    subject: str
    body: str
    data: dict[str, Any] = field(default_factory=dict)


class ChannelError(Exception):
    """A failed send; `permanent` says whether retrying cannot help, `code` names the cause."""

    def __init__(self, message: str, *, permanent: bool, code: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.code = code


class TransientChannelError(ChannelError):
    """Retry later: the server was busy, unreachable, slow or rate limiting."""

    def __init__(self, message: str, *, code: str = "", retry_after: float | None = None) -> None:
        super().__init__(message, permanent=False, code=code)
        self.retry_after = retry_after


class PermanentChannelError(ChannelError):
    """Retrying cannot help: the recipient, address or configuration is wrong."""

    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message, permanent=True, code=code)


@runtime_checkable
class Channel(Protocol):
    """Anything that can deliver a Message or raise a ChannelError."""

    name: str

    def send(self, message: Message) -> None:
        """Deliver the message, or raise TransientChannelError / PermanentChannelError."""
        ...


_EMAIL = re.compile(r"([A-Za-z0-9._%+\-]+)@([A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+)")
# Phone numbers only: mainland mobiles (1[3-9] + 9 digits, optionally +86) and landlines with an
# area code (0xx-xxxxxxxx). Ids, counters and keys made of other digit runs stay readable.
_DIGITS = re.compile(
    r"(?<![\dA-Za-z])(?:\+?86[- ]?)?(?:1[3-9]\d{9}|0\d{2,3}-?\d{7,8})(?![\dA-Za-z])"
)
_URL = re.compile(r"(https?://[^\s<>\"'，。）)]+)")


def _mask_email(match: re.Match[str]) -> str:
    local, domain = match.group(1), match.group(2)
    keep = 2 if len(local) > 2 else 1
    return f"{local[:keep]}***@{domain}"


def _mask_digits(match: re.Match[str]) -> str:
    digits = match.group(0)
    head, tail = (3, 4) if len(digits) >= 11 else (2, 2)
    return digits[:head] + "*" * (len(digits) - head - tail) + digits[-tail:]


def mask_text(text: str) -> str:
    """Mask e-mail addresses (`li***@example.org`), phone-like digits (`138****5678`), URLs."""
    pieces = _URL.split(text)  # odd indexes are the URLs
    for i, piece in enumerate(pieces):
        if i % 2:
            pieces[i] = mask_url(piece)
        else:
            pieces[i] = _DIGITS.sub(_mask_digits, _EMAIL.sub(_mask_email, piece))
    return "".join(pieces)


def mask_url(url: str) -> str:
    """A URL without its secrets: no user info, query values and token-like path parts `***`."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
    except ValueError:
        return "***"
    path = "/".join("***" if len(part) >= 16 else part for part in parts.path.split("/"))
    query = "&".join(f"{pair.split('=', 1)[0]}=***" for pair in parts.query.split("&") if pair)
    return f"{parts.scheme}://{host}{path}" + (f"?{query}" if query else "")


def mask_recipient(recipient: str) -> str:
    """A recipient fit for logs and errors: URLs lose their secrets, addresses are masked."""
    if re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*://", recipient):
        return mask_url(recipient)
    return mask_text(recipient)
