"""Request-body limits enforced while the body streams in, before authentication and parsing.

A pure ASGI middleware (outermost in api.py) that looks at each request before any route code:

- every body is capped by its route kind: uploads (summary attachments, schedule imports, the
  pages' photo and import forms) by `upload_max_bytes` plus room for the multipart envelope
  (the pages' photo form may carry `upload_max_files` files), every other body (JSON, sign-in
  and other forms) by `json_max_bytes`;
- a declared Content-Length over the cap is answered 413 before a byte is read; a chunked (or
  understated) body is counted as it arrives and answered 413 the moment it passes the cap —
  the route never sees the rest, nothing is spooled past the cap;
- an API upload is answered 401 before its body is read unless it carries a bearer token that
  belongs to an active account (the routes' dependencies check it again, with the role).

Answers use the service's one error shape, with the request id.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio.to_thread
from sqlmodel import Session

from workflows.accounts.service import authenticate_token
from workflows.kernel.clock import Clock

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MULTIPART_ROOM = 64 * 1024  # the envelope around an uploaded file: boundaries, headers, fields
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

# (pattern, kind): "api_upload" needs a valid bearer token before the body is read.
_UPLOAD_ROUTES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^/api/v1/events/[^/]+/summary/attachments/?$"), "api_upload"),
    (re.compile(r"^/api/v1/campaigns/[^/]+/schedule-imports/?$"), "api_upload"),
    (re.compile(r"^/api/v1/calendar/?$"), "api_upload"),
    (re.compile(r"^/api/v1/visits/[^/]+/photos/?$"), "api_upload"),
    (re.compile(r"^/api/v1/rectifications/[^/]+/files/?$"), "api_upload"),
    # The rectification report form sends its text and files together.
    (re.compile(r"^/events/[^/]+/rectifications/[^/]+/report/?$"), "page_photos"),
    # The summary page sends its text and photos as one form (issue 24), to either address.
    (re.compile(r"^/events/[^/]+/summary(/photos)?/?$"), "page_photos"),
    (re.compile(r"^/admin/campaigns/[^/]+/import/?$"), "page_upload"),
]


class BodyTooLarge(Exception):
    """Raised inside the wrapped receive once the body passes its cap."""


def route_kind(path: str) -> str:
    """'api_upload', 'page_photos', 'page_upload' or 'body' (everything else)."""
    for pattern, kind in _UPLOAD_ROUTES:
        if pattern.match(path):
            return kind
    return "body"


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _request_id(headers: dict[str, str]) -> str:
    given = headers.get("x-request-id", "")
    return given if _REQUEST_ID.match(given) else uuid.uuid4().hex


async def send_error(
    send: Send,
    status: int,
    code: str,
    zh: str,
    en: str,
    request_id: str,
    details: dict[str, Any] | None = None,
) -> None:
    """Answer with the shared error body (and the request id) straight from ASGI."""
    body = json.dumps(
        {"error": {"code": code, "message": zh, "message_en": en, "details": details or {}}},
        ensure_ascii=False,
    ).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-request-id", request_id.encode()),
        (b"connection", b"close"),
        (b"cache-control", b"no-store"),
        (b"x-content-type-options", b"nosniff"),
    ]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _too_large(limit: int) -> tuple[str, str, str, dict[str, Any]]:
    mb = max(1, limit // (1024 * 1024))
    return (
        "body_too_large",
        f"请求内容超过 {mb} MB 上限",
        f"the request body exceeds the {limit} byte limit",
        {"limit_bytes": limit},
    )


class BodyLimit:
    """The ASGI middleware; `settings` gives `upload_max_bytes`, `upload_max_files` and
    `json_max_bytes`, `engine` checks tokens of API uploads."""

    def __init__(self, app: ASGIApp, settings: Any, engine: Any, clock: Clock) -> None:
        self.app = app
        self.settings = settings
        self.engine = engine
        self.clock = clock

    def limit_for(self, kind: str) -> int:
        """The byte cap of a route kind."""
        s = self.settings
        if kind == "page_photos":
            return s.upload_max_bytes * s.upload_max_files + MULTIPART_ROOM
        if kind in ("api_upload", "page_upload"):
            return s.upload_max_bytes + MULTIPART_ROOM
        return s.json_max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        rid = _request_id(headers)
        kind = route_kind(scope.get("path", ""))
        limit = self.limit_for(kind)
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.isdigit() or len(declared) > 19:
                await send_error(
                    send, 400, "bad_content_length", "Content-Length 无效",
                    "invalid Content-Length", rid,
                )  # fmt: skip
                return
            if int(declared) > limit:
                await send_error(send, 413, *_too_large(limit)[:3], rid, _too_large(limit)[3])
                return
        if kind == "api_upload" and not await self._authenticated(headers):
            await send_error(
                send, 401, "not_authenticated",
                "未登录或令牌无效：上传前请在 Authorization 头中提供有效的 Bearer 令牌",
                "not authenticated: uploads need a valid Authorization: Bearer token", rid,
            )  # fmt: skip
            return
        await self._counted(scope, receive, send, limit, rid)

    async def _authenticated(self, headers: dict[str, str]) -> bool:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return False
        return await anyio.to_thread.run_sync(self._token_ok, token.strip())

    def _token_ok(self, token: str) -> bool:
        with Session(self.engine) as session:
            return authenticate_token(session, token, self.clock.now()) is not None

    async def _counted(
        self, scope: Scope, receive: Receive, send: Send, limit: int, rid: str
    ) -> None:
        received = 0
        answered = False

        async def counting_receive() -> Message:
            nonlocal received, answered
            if answered:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    answered = True
                    code, zh, en, details = _too_large(limit)
                    await send_error(send, 413, code, zh, en, rid, details)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not answered:
                await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not answered:
                raise
