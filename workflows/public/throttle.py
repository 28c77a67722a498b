"""Rate limits of the public pages: per client address and per phone number.

Counted where sign-in failures are (Redis in production, memory when embedded), with the same
sliding windows timed by the app's injected clock (workflows/accounts/throttle.py). Phone numbers
are counted by their keyed hash, never in clear. While the store is down, counting goes on in this
process's memory, with one warning per outage.
"""

from __future__ import annotations

import hashlib
import math

from limits import RateLimitItem, parse

from workflows.accounts.throttle import FallbackStore, SlidingWindows
from workflows.kernel.clock import Clock
from workflows.kernel.errors import DomainError
from workflows.public import registration
from workflows.public.privacy import Keys


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
    """Limits: `address` and `phone` for registration, `track` for receipts."""

    def __init__(
        self,
        storage_url: str,
        *,
        address: str,
        phone: str,
        track: str,
        clock: Clock,
        namespace: str = "",
    ) -> None:
        self.clock = clock
        self.store = FallbackStore(storage_url, clock, "public_throttle")
        self.windows = SlidingWindows(self.store, clock)
        self.items: dict[str, RateLimitItem] = {
            "address": parse(address),
            "phone": parse(phone),
            "track": parse(track),
        }
        self.prefix = "openday-public-" + hashlib.sha256(namespace.encode()).hexdigest()[:12]

    def hit(self, kind: str, key: str) -> None:
        """Count one request; refuse (429) once the window is spent (a refusal is not counted)."""
        waited = self.windows.acquire(self.items[kind], f"{self.prefix}-{kind}", key)
        if waited is not None:
            raise TooManyRequests(waited)

    def refusal(self, kind: str, source: str, seconds: int) -> tuple[int, int]:
        """Count one refused link of `kind` from `source` in the current fixed window of
        `seconds`: (its number in this window, the count of the window before, read only for
        the first of a window). The audit writes a line for the first only."""
        slot = int(self.clock.now().timestamp()) // seconds
        key = f"{self.prefix}-refused-{kind}-{source}"
        count = int(self.store.run(lambda s: s.incr(f"{key}-{slot}", seconds * 2)))
        if count != 1:
            return count, 0
        return count, int(self.store.run(lambda s: s.get(f"{key}-{slot - 1}")) or 0)

    def first_use(self, key: str, seconds: int) -> bool:
        """Record `key` as used for `seconds`; True only the first time (a spent token)."""
        used = self.store.run(lambda s: s.incr(f"{self.prefix}-used-{key}", seconds))
        return used == 1


def from_settings(settings: object, clock: Clock, namespace: str = "") -> PublicThrottle:
    """The throttle a Settings object describes, timed by `clock` (the app's)."""
    return PublicThrottle(
        settings.effective_ratelimit_url.get_secret_value(),  # type: ignore[attr-defined]
        address=settings.public_limit_address,  # type: ignore[attr-defined]
        phone=settings.public_limit_phone,  # type: ignore[attr-defined]
        track=settings.track_limit_address,  # type: ignore[attr-defined]
        clock=clock,
        namespace=namespace,
    )


def count_person(limiter: PublicThrottle, keys: Keys, address: str, phone: str) -> None:
    """Count a registration, look-up or cancellation per client address and per phone number
    (by its keyed hash; a phone the registration refuses still counts, as typed)."""
    limiter.hit("address", address)
    try:
        phone = registration.clean_phone(phone)
    except DomainError:
        phone = phone.strip()  # the workflow refuses it; it still counts
    limiter.hit("phone", keys.digest("phone", phone))
