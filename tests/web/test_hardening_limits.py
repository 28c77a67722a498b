"""Body limits: 413 while streaming, before authentication and parsing; uploads authenticated
before their bodies are read (issue 14)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from api import create_app
from settings import Settings
from tests.conftest import Walker, World, error_of
from web.limits import BodyLimit, route_kind
from workflows.kernel.clock import FixedClock


def test_route_kinds() -> None:
    assert route_kind("/api/v1/events/1/summary/attachments") == "api_upload"
    assert route_kind("/api/v1/campaigns/3/schedule-imports") == "api_upload"
    assert route_kind("/api/v1/calendar") == "api_upload"
    assert route_kind("/events/1/summary/photos") == "page_photos"
    assert route_kind("/admin/campaigns/2/import") == "page_upload"
    assert route_kind("/api/v1/auth/login") == "body"
    assert route_kind("/api/v1/events") == "body"


def test_declared_json_body_over_the_cap_is_413_before_parsing(walker: Walker) -> None:
    body = b'{"username": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = walker.client.post(
        "/api/v1/auth/login", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    error = error_of(response)
    assert error["code"] == "body_too_large"
    assert error["message"] and error["message_en"]
    assert response.headers["X-Request-ID"]


def test_chunked_json_body_is_counted(walker: Walker) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"username": "'
        for _ in range(40):
            yield b"x" * 64 * 1024
        yield b'"}'

    response = walker.client.post(
        "/api/v1/auth/login", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413, response.text
    assert error_of(response)["code"] == "body_too_large"


def test_small_json_still_works(walker: Walker) -> None:
    response = walker.client.post(
        "/api/v1/auth/login", json={"username": "housing", "password": "pw-housing"}
    )
    assert response.status_code == 200, response.text


def test_anonymous_upload_is_401_before_reading(walker: Walker, world: World) -> None:
    event = walker.create_event()
    url = f"/api/v1/events/{event['id']}/summary/attachments"
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic x"}):
        response = walker.client.post(
            url, files={"file": ("a.jpg", b"\xff\xd8\xff" + b"0" * 1000, "image/jpeg")},
            params={"expected_version": 1}, headers=headers,
        )  # fmt: skip
        assert response.status_code == 401, response.text
        assert error_of(response)["code"] == "not_authenticated"
        assert response.headers["WWW-Authenticate"] == "Bearer"


def test_upload_over_the_setting_is_413(walker: Walker, world: World) -> None:
    event, _ = walker.held_event()
    limit = walker.client.app.state.settings.upload_max_bytes  # type: ignore[attr-defined]
    response = walker.client.post(
        f"/api/v1/events/{event['id']}/summary/attachments",
        files={"file": ("big.jpg", b"\xff\xd8\xff" + b"0" * (limit + 100 * 1024), "image/jpeg")},
        params=walker.version_of(event["id"]),
        headers=world.headers["housing"],
    )
    assert response.status_code == 413
    assert error_of(response)["code"] == "body_too_large"


class _Stream:
    """An ASGI receive that would yield `total` bytes in 1 MB chunks; counts what was pulled."""

    def __init__(self, total: int, prefix: bytes = b"") -> None:
        self.left = total
        self.pulled = 0
        self.prefix = prefix

    async def __call__(self) -> dict[str, Any]:
        size = min(self.left, 1024 * 1024)
        self.left -= size
        self.pulled += size
        body, self.prefix = self.prefix + b"\0" * (size - len(self.prefix)), b""
        return {"type": "http.request", "body": body, "more_body": self.left > 0}


def _run_asgi(app: Any, path: str, headers: list[tuple[bytes, bytes]], stream: _Stream) -> list:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "method": "POST", "path": path, "raw_path": path.encode(),
        "query_string": b"", "headers": headers, "http_version": "1.1",
        "scheme": "http", "server": ("test", 80), "client": ("127.0.0.1", 1), "root_path": "",
    }  # fmt: skip
    asyncio.run(app(scope, stream, send))
    return sent


def test_2gb_chunked_upload_stops_at_the_cap(world: World, clock: FixedClock, tmp_path) -> None:
    """A 2 GB chunked upload with a valid token: 413 after ~upload_max_bytes, not 2 GB read."""
    settings = Settings(
        var_dir=tmp_path / "var", database_url="sqlite://", upload_max_bytes=4 << 20
    )
    app = create_app(settings=settings, engine=world.engine, clock=clock)
    token = world.headers["housing"]["Authorization"].encode()
    headers = [
        (b"content-type", b"multipart/form-data; boundary=xyz"),
        (b"transfer-encoding", b"chunked"),
        (b"authorization", token),
    ]
    part = b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n\r\n'
    stream = _Stream(2 << 30, part)
    # CPU time of this process, not the wall clock: `make test` runs beside other tests.
    started = time.process_time()
    sent = _run_asgi(app, "/api/v1/events/1/summary/attachments", headers, stream)
    elapsed = time.process_time() - started
    assert sent[0]["status"] == 413
    assert stream.pulled <= (4 << 20) + (2 << 20)
    assert elapsed < 2.0, elapsed


def test_2gb_declared_anonymous_upload_is_answered_without_reading(
    world: World, clock: FixedClock, tmp_path
) -> None:
    settings = Settings(var_dir=tmp_path / "var", database_url="sqlite://")
    app = create_app(settings=settings, engine=world.engine, clock=clock)
    for extra, status in (([], 413), ([(b"transfer-encoding", b"chunked")], 401)):
        headers = [(b"content-type", b"multipart/form-data; boundary=xyz"), *extra]
        if not extra:
            headers.append((b"content-length", str(2 << 30).encode()))
        stream = _Stream(2 << 30)
        sent = _run_asgi(app, "/api/v1/events/1/summary/attachments", headers, stream)
        assert sent[0]["status"] == status
        assert stream.pulled == 0


@pytest.mark.parametrize("value", ["abc", "-1", "99999999999999999999999"])
def test_bad_content_length_is_400(world: World, clock: FixedClock, tmp_path, value: str) -> None:
    settings = Settings(var_dir=tmp_path / "var", database_url="sqlite://")
    app = BodyLimit(lambda *a: None, settings, world.engine, clock)  # type: ignore[arg-type]
    sent = _run_asgi(app, "/api/v1/events", [(b"content-length", value.encode())], _Stream(10))
    assert sent[0]["status"] == 400
