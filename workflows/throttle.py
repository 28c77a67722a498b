"""Sign-in throttling: failed passwords counted per account and per client address.

Counters live where every API process sees them (Redis in production, memory when embedded),
through the `limits` library's moving window. Only failures count; a success clears the
account's counter. Unknown usernames count like known ones, so a 429 tells nothing either.
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


class TooManyAttempts(DomainError):
    """Too many failed sign-ins: answered 429 with Retry-After."""

    status = 429

    def __init__(self, retry_after: int) -> None:
        minutes = max(1, math.ceil(retry_after / 60))
        super().__init__(
            "too_many_attempts",
            f"登录失败次数过多，请 {minutes} 分钟后再试",
            f"too many failed sign-ins; try again in {minutes} minute(s)",
            details={"retry_after": retry_after},
        )
        self.retry_after = retry_after


class LoginThrottle:
    """Per-account and per-address limits on failed sign-ins.

    `namespace` separates services (and test databases) sharing one Redis.
    """

    def __init__(
        self, storage_url: str, per_account: str, per_address: str, namespace: str = ""
    ) -> None:
        self.storage = storage_from_string(storage_url)
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.per_account: RateLimitItem = parse(per_account)
        self.per_address: RateLimitItem = parse(per_address)
        self.namespace = hashlib.sha256(namespace.encode()).hexdigest()[:12]

    def _keys(self, username: str, address: str) -> list[tuple[RateLimitItem, str, str]]:
        account = username.strip().lower()
        return [
            (self.per_account, f"openday-login-{self.namespace}-account", account),
            (self.per_address, f"openday-login-{self.namespace}-address", address),
        ]

    def check(self, username: str, address: str) -> None:
        """Refuse (429) when either counter is spent; fail open when the store is down."""
        try:
            for item, scope, key in self._keys(username, address):
                if not self.limiter.test(item, scope, key):
                    reset = self.limiter.get_window_stats(item, scope, key).reset_time
                    raise TooManyAttempts(max(1, math.ceil(reset - time.time())))
        except TooManyAttempts:
            raise
        except Exception as exc:  # noqa: BLE001 - Redis down: sign-in keeps working, say so
            log.warning("login_throttle_unavailable", error=str(exc).splitlines()[0][:200])

    def failed(self, username: str, address: str) -> None:
        """Count one failed sign-in against the account and the address."""
        try:
            for item, scope, key in self._keys(username, address):
                self.limiter.hit(item, scope, key)
        except Exception as exc:  # noqa: BLE001
            log.warning("login_throttle_unavailable", error=str(exc).splitlines()[0][:200])

    def succeeded(self, username: str) -> None:
        """A correct password clears the account's failures (not the address's)."""
        try:
            item, scope, key = self._keys(username, "")[0]
            self.limiter.clear(item, scope, key)
        except Exception as exc:  # noqa: BLE001
            log.warning("login_throttle_unavailable", error=str(exc).splitlines()[0][:200])
