"""Rate limits of the public pages: per client address and per phone number.

Counted with the `limits` library where sign-in failures are (Redis in production, memory when
embedded). Phone numbers are counted by their keyed hash, never in clear. A store that is down
fails open, as sign-in throttling does, and says so in the log.
"""

from __future__ import annotations

import hashlib
import math
import time

import structlog
from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from workflows.errors import DomainError

log = structlog.get_logger("openday.throttle")


class TooManyRequests(DomainError):
    """Over a public rate limit: 429 with Retry-After."""

    status = 429

    def __init__(self, retry_after: int) -> None:
        minutes = max(1, math.ceil(retry_after / 60))
        super().__init__(
            "too_many_requests",
            f"操作过于频繁，请 {minutes} 分钟后再试",
            f"too many requests; try again in {minutes} minute(s)",
            details={"retry_after": retry_after},
        )
        self.retry_after = retry_after


class PublicThrottle:
    """Moving-window limits: `address` and `phone` for registration, `track` for receipts."""

    def __init__(
        self, storage_url: str, *, address: str, phone: str, track: str, namespace: str = ""
    ) -> None:
        self.limiter = MovingWindowRateLimiter(storage_from_string(storage_url))
        self.items: dict[str, RateLimitItem] = {
            "address": parse(address),
            "phone": parse(phone),
            "track": parse(track),
        }
        self.prefix = "openday-public-" + hashlib.sha256(namespace.encode()).hexdigest()[:12]

    def hit(self, kind: str, key: str) -> None:
        """Count one request; refuse (429) once the window is spent."""
        item = self.items[kind]
        try:
            if self.limiter.hit(item, f"{self.prefix}-{kind}", key):
                return
            reset = self.limiter.get_window_stats(item, f"{self.prefix}-{kind}", key).reset_time
        except Exception as exc:  # noqa: BLE001 - store down: the pages keep working, say so
            log.warning("public_throttle_unavailable", error=str(exc).splitlines()[0][:200])
            return
        raise TooManyRequests(max(1, math.ceil(reset - time.time())))


def from_settings(settings: object, namespace: str = "") -> PublicThrottle:
    """The throttle a Settings object describes."""
    return PublicThrottle(
        settings.effective_ratelimit_url.get_secret_value(),  # type: ignore[attr-defined]
        address=settings.public_limit_address,  # type: ignore[attr-defined]
        phone=settings.public_limit_phone,  # type: ignore[attr-defined]
        track=settings.track_limit_address,  # type: ignore[attr-defined]
        namespace=namespace,
    )
