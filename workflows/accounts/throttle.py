"""Sign-in throttling: failed passwords counted per account and per client address.

Counters live where every API process sees them (Redis in production, memory when embedded),
in a `limits` storage. Only failures count; a success clears the account's counter. Unknown
usernames count like known ones, so a 429 tells nothing either.

Time comes from the app's injected clock, not from the `limits` library's wall clock: the
windows are sliding-window counters (the `limits` library's "sliding window counter" scheme)
whose buckets are numbered by the injected time, and Retry-After is computed from it. While the
store is unreachable, counting goes on in this process's memory (`limits`' MemoryStorage), with
one warning per outage; the store is tried again every PROBE_SECONDS and used once it answers.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

import structlog
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, Storage, storage_from_string

from workflows.kernel.clock import Clock
from workflows.kernel.errors import DomainError

log = structlog.get_logger("openday.throttle")

T = TypeVar("T")

PROBE_SECONDS = 15  # while the store is down: how often to try it again
STORE_TIMEOUT = 1.0  # seconds a Redis connect or command may take before memory takes over


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


class FallbackStore:
    """The configured `limits` storage, or this process's memory while it cannot be reached.

    `name` tags the log lines (`<name>_store_down` once per outage, `<name>_store_back`).
    """

    def __init__(self, url: str, clock: Clock, name: str) -> None:
        options: dict[str, float] = {}
        if url.startswith(("redis://", "rediss://", "redis+unix://")):
            options = {"socket_connect_timeout": STORE_TIMEOUT, "socket_timeout": STORE_TIMEOUT}
        self.memory = MemoryStorage()
        primary = (
            self.memory if url.startswith("memory://") else storage_from_string(url, **options)
        )
        if not isinstance(primary, Storage):
            raise ValueError(f"not a synchronous limits storage: {url.split(':', 1)[0]}://")
        self.primary: Storage = primary
        self.clock = clock
        self.name = name
        self.down_since: datetime | None = None
        self.next_probe: datetime | None = None
        self._lock = threading.Lock()

    @property
    def degraded(self) -> bool:
        """True while counting in memory because the store is down."""
        return self.down_since is not None

    def run(self, action: Callable[[Storage], T]) -> T:
        """`action` on the store; on this process's memory while the store is down."""
        if self.primary is self.memory:
            return action(self.memory)
        now = self.clock.now()
        if self.next_probe is not None and now < self.next_probe:
            return action(self.memory)
        try:
            result = action(self.primary)
        except Exception as exc:  # noqa: BLE001 - any storage failure: count in memory
            with self._lock:
                if self.down_since is None:
                    self.down_since = now
                    log.warning(
                        f"{self.name}_store_down",
                        error=(str(exc).splitlines() or [type(exc).__name__])[0][:200],
                        fallback="memory (this process only) until the store answers again",
                    )
                self.next_probe = now + timedelta(seconds=PROBE_SECONDS)
            return action(self.memory)
        if self.down_since is not None:
            with self._lock:
                if self.down_since is not None:
                    log.info(
                        f"{self.name}_store_back",
                        down_seconds=round((now - self.down_since).total_seconds()),
                    )
                    self.down_since = None
                    self.next_probe = None
        return result


class SlidingWindows:
    """Sliding-window counters over a FallbackStore, timed by the injected clock.

    A limit of N per W seconds keeps one counter per W-second bucket (numbered by the clock's
    time), and weighs the previous bucket by the part of it still inside the window:
    count = previous × (W − elapsed) / W + current. Two counters per key, so at most 2·N stored.
    """

    def __init__(self, store: FallbackStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def _where(self, item: RateLimitItem, scope: str, key: str) -> tuple[str, str, float, int]:
        period = item.get_expiry()
        moment = self.clock.now().timestamp()
        bucket = math.floor(moment / period)
        base = item.key_for(scope, key)
        return f"{base}/{bucket}", f"{base}/{bucket - 1}", moment - bucket * period, period

    @staticmethod
    def wait(limit: int, previous: int, current: int, elapsed: float, period: int) -> int | None:
        """Seconds until one more is allowed (None: allowed now)."""
        if previous * (period - elapsed) / period + current <= limit - 1:
            return None
        if current >= limit:  # not before the next bucket, whose previous is this one
            seconds = (period - elapsed) + period * (1 - (limit - 1) / current)
        else:  # once the previous bucket has faded enough
            seconds = period * (1 - (limit - 1 - current) / previous) - elapsed
        return max(1, math.ceil(seconds - 1e-9))

    def test(self, item: RateLimitItem, scope: str, key: str) -> int | None:
        """None when one more is allowed now, else the seconds to wait (nothing counted)."""
        current, previous, elapsed, period = self._where(item, scope, key)
        counts = self.store.run(lambda s: (s.get(previous), s.get(current)))
        return self.wait(item.amount, counts[0], counts[1], elapsed, period)

    def count(self, item: RateLimitItem, scope: str, key: str) -> None:
        """Count one."""
        current, _, _, period = self._where(item, scope, key)
        self.store.run(lambda s: s.incr(current, 2 * period))

    def acquire(self, item: RateLimitItem, scope: str, key: str) -> int | None:
        """Count one if allowed (None), else the seconds to wait (nothing counted). Counting
        first and taking it back keeps concurrent callers from passing the limit together."""
        current, previous, elapsed, period = self._where(item, scope, key)

        def attempt(s: Storage) -> int | None:
            earlier = s.get(previous)
            now_count = s.incr(current, 2 * period)
            waited = self.wait(item.amount, earlier, now_count - 1, elapsed, period)
            if waited is not None:
                s.incr(current, 2 * period, -1)
            return waited

        return self.store.run(attempt)

    def clear(self, item: RateLimitItem, scope: str, key: str) -> None:
        """Forget the key's counts."""
        current, previous, _, _ = self._where(item, scope, key)
        self.store.run(lambda s: (s.clear(current), s.clear(previous)))


class LoginThrottle:
    """Per-account and per-address limits on failed sign-ins.

    `namespace` separates services (and test databases) sharing one Redis; `clock` is the app's.
    """

    def __init__(
        self,
        storage_url: str,
        per_account: str,
        per_address: str,
        clock: Clock,
        namespace: str = "",
    ) -> None:
        self.store = FallbackStore(storage_url, clock, "login_throttle")
        self.windows = SlidingWindows(self.store, clock)
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
        """Refuse (429) when either counter is spent."""
        for item, scope, key in self._keys(username, address):
            waited = self.windows.test(item, scope, key)
            if waited is not None:
                raise TooManyAttempts(waited)

    def failed(self, username: str, address: str) -> None:
        """Count one failed sign-in against the account and the address."""
        for item, scope, key in self._keys(username, address):
            self.windows.count(item, scope, key)

    def sign_in(self, username: str, address: str, verify: Callable[[], T]) -> T:
        """Run `verify` (the password check) under the limits. A spent account counter refuses
        before the password is checked (the per-account lockout); a spent address counter
        refuses only a wrong password, so a correct one gets through: one person behind an
        office NAT cannot lock everyone behind it out. Failures count against both."""
        (account, account_scope, account_key), (per_address, scope, key) = self._keys(
            username, address
        )
        waited = self.windows.test(account, account_scope, account_key)
        if waited is not None:
            raise TooManyAttempts(waited)
        address_wait = self.windows.test(per_address, scope, key)
        try:
            result = verify()
        except DomainError:
            self.failed(username, address)
            if address_wait is not None:
                raise TooManyAttempts(address_wait) from None
            raise
        self.succeeded(username)
        return result

    def succeeded(self, username: str) -> None:
        """A correct password clears the account's failures (not the address's)."""
        item, scope, key = self._keys(username, "")[0]
        self.windows.clear(item, scope, key)
