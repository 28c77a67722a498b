"""Security headers on every response (pure ASGI, outermost in api.py).

Every answer: `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY` (and CSP
`frame-ancestors 'none'`), `Referrer-Policy: same-origin` and a Content-Security-Policy the pages
pass: scripts only from this server (htmx is a file under /assets, no inline script), styles
from this server plus inline style attributes (the board's bars, htmx's indicator style). The
offline /docs and /redoc pages carry FastAPI's inline bootstrap script, so those two get
'unsafe-inline' scripts; they show no user data. API answers are `Cache-Control: no-store`.
"""

from __future__ import annotations

from web.limits import ASGIApp, Message, Receive, Scope, Send

_BASE = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
PAGE_CSP = _BASE + "; script-src 'self'"
DOCS_CSP = _BASE + "; script-src 'self' 'unsafe-inline'; worker-src 'self' blob:"
_DOCS = ("/docs", "/redoc")
_NO_STORE = ("/api/", "/metrics", "/openapi.json", "/healthz", "/readyz")


def headers_for(path: str) -> list[tuple[bytes, bytes]]:
    """The security headers a response to `path` carries."""
    csp = DOCS_CSP if path.rstrip("/") in _DOCS else PAGE_CSP
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"same-origin"),
        (b"content-security-policy", csp.encode()),
    ]
    if path.startswith(_NO_STORE):
        headers.append((b"cache-control", b"no-store"))
    return headers


class SecurityHeaders:
    """Adds the headers a response has not set itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = headers_for(scope.get("path", ""))

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *((k, v) for k, v in extra if k not in present),
                ]
            await send(message)

        await self.app(scope, receive, with_headers)
