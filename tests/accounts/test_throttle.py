"""Throttle windows and Retry-After come from the injected clock; a store that is down does not
switch throttling off (this process's memory counts meanwhile, one warning per outage, back on
Redis when it answers)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from api import create_app
from settings import Settings
from tests.conftest import REDIS_URL, REQUIRE_SERVICES, World
from workflows.accounts import throttle as throttle_module
from workflows.accounts.throttle import (
    PROBE_SECONDS,
    LoginThrottle,
    SlidingWindows,
    TooManyAttempts,
)
from workflows.kernel.clock import FixedClock
from workflows.public.throttle import PublicThrottle, TooManyRequests

API = "/api/v1"
# 2031-03-02 01:00:00 UTC is the start of a 15-minute bucket; 100 s into it.
START = datetime(2031, 3, 2, 1, 0, 0, tzinfo=UTC)


class Recorder:
    """Stands in for the throttle module's structlog logger."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []

    def warning(self, event: str, **kw: Any) -> None:
        self.lines.append(("warning", event, kw))

    def info(self, event: str, **kw: Any) -> None:
        self.lines.append(("info", event, kw))

    def events(self) -> list[str]:
        return [event for _, event, _ in self.lines]


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    found = Recorder()
    monkeypatch.setattr(throttle_module, "log", found)
    return found


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---- the window arithmetic ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "previous", "current", "elapsed", "expected"),
    [
        (10, 0, 9, 100, None),  # one more fits
        (10, 0, 10, 100, 800 + 90),  # rest of this bucket, then 10 × (900 − e)/900 ≤ 9
        (10, 10, 0, 0, 90),  # the previous bucket's 10 must fade to 9
        (10, 10, 0, 90, None),
        (10, 10, 5, 450, 540 - 450),  # 10 × (900 − e)/900 + 5 ≤ 9 from e = 540
        (1, 0, 1, 0, 1800),  # one per window: both buckets must have passed
    ],
)
def test_wait_is_the_time_until_one_more_fits(
    limit: int, previous: int, current: int, elapsed: float, expected: int | None
) -> None:
    assert SlidingWindows.wait(limit, previous, current, elapsed, 900) == expected


# ---- Retry-After from the injected clock ----------------------------------------------------


@pytest.fixture
def clock() -> FixedClock:  # overrides conftest's: a moment far from the wall clock
    return FixedClock(START + timedelta(seconds=100))


@pytest.fixture
def throttled_client(engine: Engine, clock: FixedClock, tmp_path: Any) -> Iterator[TestClient]:
    """The API with its throttle on the run's Redis when there is one, else memory."""
    settings = Settings(
        var_dir=tmp_path / "var",
        database_url="sqlite://",
        redis_url=REDIS_URL or None,
        lockout_failures=0,  # the throttle alone (the account lockout: test_security_rules.py)
    )
    app = create_app(settings=settings, engine=engine, clock=clock)
    with TestClient(app, client=(f"192.0.2.{uuid.uuid4().hex[:8]}", 1)) as client:
        yield client


def _login(client: TestClient, username: str, password: str) -> Any:
    return client.post(f"{API}/auth/login", json={"username": username, "password": password})


def test_retry_after_is_derived_from_the_injected_clock(
    throttled_client: TestClient, clock: FixedClock, world: World
) -> None:
    """The clock is years from the wall clock: Retry-After follows it to the second, and moving
    it (nothing else) opens the account again."""
    client = throttled_client
    assert [_login(client, "housing", "wrong-one").status_code for _ in range(10)] == [401] * 10
    refused = _login(client, "housing", "pw-housing")
    # 800 s left in this bucket, then 90 s until its 10 failures weigh 9 in the next one.
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "890"
    assert refused.json()["error"]["details"]["retry_after"] == 890
    clock.advance(timedelta(seconds=500))
    assert _login(client, "housing", "pw-housing").headers["Retry-After"] == "390"
    clock.advance(timedelta(seconds=389))
    assert _login(client, "housing", "pw-housing").headers["Retry-After"] == "1"
    clock.advance(timedelta(seconds=1))
    assert _login(client, "housing", "pw-housing").status_code == 200


def test_public_limit_retry_after_from_the_clock(recorder: Recorder) -> None:
    clock = FixedClock(START + timedelta(minutes=20))  # 20 minutes into an hour's bucket
    limiter = PublicThrottle(
        "memory://", address="3/hour", phone="3/hour", track="3/hour", clock=clock
    )
    for _ in range(3):
        limiter.hit("address", "198.51.100.7")
    with pytest.raises(TooManyRequests) as refused:
        limiter.hit("address", "198.51.100.7")
    # 40 minutes to the bucket's end, then until 3 × (3600 − e)/3600 ≤ 2: e = 1200 s.
    assert refused.value.retry_after == 40 * 60 + 1200
    limiter.hit("address", "198.51.100.8")  # another address is not affected
    clock.advance(timedelta(seconds=40 * 60 + 1200))
    limiter.hit("address", "198.51.100.7")  # and refusals were not counted
    assert recorder.lines == []  # memory:// is not a store that can be down


# ---- a store that is down -------------------------------------------------------------------


def test_redis_down_counts_in_memory_with_one_warning(recorder: Recorder) -> None:
    """A Redis URL on a closed port: throttling still refuses the 4th failure, from memory,
    and the outage is one warning however many sign-ins pass meanwhile."""
    clock = FixedClock(START)
    limiter = LoginThrottle(
        f"redis://127.0.0.1:{_closed_port()}/0", "3/minute", "100/minute", clock=clock
    )
    started = time.monotonic()
    for _ in range(3):
        limiter.check("alice", "198.51.100.1")
        limiter.failed("alice", "198.51.100.1")
    with pytest.raises(TooManyAttempts) as refused:
        limiter.check("alice", "198.51.100.1")
    assert refused.value.retry_after == 60 + 20  # from the clock, as with Redis
    limiter.check("bob", "198.51.100.1")
    clock.advance(timedelta(seconds=PROBE_SECONDS + 1))  # Redis tried again: still down
    limiter.check("bob", "198.51.100.1")
    assert time.monotonic() - started < 10, "an unreachable store must not stall sign-in"
    assert recorder.events() == ["login_throttle_store_down"]
    assert limiter.store.degraded


@pytest.fixture
def private_redis() -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """A redis-server of this test's own on a free port (the shared one is never touched)."""
    binary = shutil.which("redis-server")
    if binary is None:
        if REQUIRE_SERVICES:
            pytest.fail("redis-server is not installed (OPENDAY_REQUIRE_SERVICES=1)")
        pytest.skip("redis-server is not installed")
    port = _closed_port()
    command = [
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield port, server
    finally:
        server.terminate()
        server.wait(10)


def _wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"redis-server did not listen on {port}")


def test_back_on_redis_when_it_returns(
    recorder: Recorder, private_redis: tuple[int, subprocess.Popen[bytes]]
) -> None:
    """Down (the private server stopped): memory, one warning. Up again: after the probe
    interval of the injected clock, counts go to Redis again and one info line says so."""
    import redis

    port, server = private_redis
    _wait_for_port(port)
    clock = FixedClock(START)
    limiter = LoginThrottle(f"redis://127.0.0.1:{port}/0", "3/minute", "100/minute", clock=clock)
    limiter.failed("carol", "198.51.100.2")
    direct = redis.Redis(port=port)
    assert any(b"carol" in key for key in direct.keys("*")), "counted in Redis"

    server.terminate()
    server.wait(10)
    for _ in range(3):
        limiter.failed("dave", "198.51.100.2")
    with pytest.raises(TooManyAttempts):
        limiter.check("dave", "198.51.100.2")
    assert recorder.events() == ["login_throttle_store_down"]

    restarted = subprocess.Popen(
        [shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind",
         "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_for_port(port)
        limiter.failed("erin", "198.51.100.2")  # before the probe is due: still memory
        assert not any(b"erin" in key for key in direct.keys("*"))
        clock.advance(timedelta(seconds=PROBE_SECONDS))
        limiter.failed("erin", "198.51.100.2")
        assert any(b"erin" in key for key in direct.keys("*")), "counted in Redis again"
        assert recorder.events() == ["login_throttle_store_down", "login_throttle_store_back"]
        assert not limiter.store.degraded
        # Another outage is another single warning.
        restarted.terminate()
        restarted.wait(10)
        limiter.failed("erin", "198.51.100.2")
        limiter.failed("erin", "198.51.100.2")
        assert recorder.events()[-1] == "login_throttle_store_down"
        assert recorder.events().count("login_throttle_store_down") == 2
    finally:
        restarted.terminate()
        restarted.wait(10)
        direct.close()


def test_the_sign_in_page_shares_the_api_throttle(
    throttled_client: TestClient, clock: FixedClock, world: World
) -> None:
    """Failures through the page and the API count together; the page answers 429 with the
    clock's Retry-After and the Chinese message, and signs in once the window allows."""
    from tests.pages.test_pages import csrf_of

    client = throttled_client

    def page_login(password: str) -> Any:
        form = client.get("/login")
        data = {"csrf": csrf_of(form.text), "username": "housing", "password": password}
        return client.post("/login", data=data, follow_redirects=False)

    assert [page_login("wrong-one").status_code for _ in range(5)] == [401] * 5
    assert [_login(client, "housing", "wrong-two").status_code for _ in range(5)] == [401] * 5
    refused = page_login("pw-housing")
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "890"
    assert "登录失败次数过多" in refused.text
    assert _login(client, "housing", "pw-housing").status_code == 429
    clock.advance(timedelta(seconds=890))
    assert page_login("pw-housing").status_code == 303  # signed in, on to the start page
