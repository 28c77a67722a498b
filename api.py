"""The HTTP service's assembly: settings, logging, middleware, error handlers and routers.

`create_app()` builds an app around an engine, a clock and a broker (injectable for tests); the
module attribute `app`, which `uvicorn api:app` imports, is built on first access, so importing
this module has no side effects. Routes live in routes/, their models in schemas/, every rule in
workflows/.
"""

from __future__ import annotations

import gc
import re
import time
import uuid
from typing import Any

import dramatiq
import structlog
from fastapi import Depends, FastAPI
from sqlalchemy.engine import Engine

import pages
import routes
from models.db import make_engine
from schemas.common import ErrorOut
from settings import Settings, configure_logging, get_settings
from web import errors
from web.headers import SecurityHeaders
from web.limits import ASGIApp, BodyLimit, Message, Receive, Scope, Send
from web.ranges import bounded_ints
from workers.broker import make_broker
from workers.metrics import REQUEST_SECONDS, REQUESTS, StateCollector
from workers.wake import install_wake_hook
from workflows.kernel.clock import Clock, clock_from_setting

# A caller's request id is kept only when short and plain; otherwise a fresh one is made.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def create_app(
    settings: Settings | None = None,
    engine: Engine | None = None,
    clock: Clock | None = None,
    broker: dramatiq.Broker | None = None,
) -> FastAPI:
    """Build the FastAPI app around an engine, a clock and a broker (injectable for tests)."""
    settings = settings or get_settings()
    app = FastAPI(
        title="政府开放日 Open Day service",
        version="0.2.0",
        description="Runs a district's 政府开放日 campaign: events, invitees, feedback, "
        "summaries, spot checks. Errors: `{error: {code, message, message_en, details}}`.",
        responses={status: {"model": ErrorOut} for status in (401, 403, 404, 409, 422)},
        # Before any other dependency: integer path/query parameters within 64 bits, else 422.
        dependencies=[Depends(bounded_ints)],
        docs_url=None,  # served offline by pages/apidocs.py (no CDN)
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine or make_engine(settings.database_url.get_secret_value())
    app.state.clock = clock or clock_from_setting(settings.clock_start)
    app.state.broker = broker or make_broker(settings)
    app.state.metrics = StateCollector(app.state.engine, app.state.clock, app.state.broker)
    install_wake_hook()  # moves that arm a near timer wake the schedulers at commit
    errors.install(app)
    app.add_middleware(RequestContext)  # innermost of ours: ids and metrics per request
    for router in [*routes.OPS_ROUTERS, *routes.ROUTERS]:
        app.include_router(router)
    pages.install(app)
    # Outermost: bodies are capped (and API uploads authenticated) before anything reads them.
    app.add_middleware(BodyLimit, settings=settings, engine=app.state.engine, clock=app.state.clock)
    app.add_middleware(SecurityHeaders)  # outside the limit: its 413/401 answers get them too
    return app


class RequestContext:
    """Bind a request id to the logs, echo it, and count the request by route template.

    Pure ASGI (no BaseHTTPMiddleware: no extra task, no response wrapping per request).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = ""
        for key, value in scope.get("headers", ()):
            if key == b"x-request-id":
                given = value.decode("latin-1")
                break
        rid = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=rid)
        started = time.perf_counter()
        status = 500
        rid_header = (b"x-request-id", rid.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [h for h in message.get("headers", ()) if h[0].lower() != b"x-request-id"]
                message["headers"] = [*headers, rid_header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            template = getattr(scope.get("route"), "path", "unmatched")
            method = scope.get("method", "")
            REQUESTS.labels(template, method, str(status)).inc()
            REQUEST_SECONDS.labels(template, method).observe(time.perf_counter() - started)


_app: FastAPI | None = None


def __getattr__(name: str) -> Any:
    """`api.app`: the process's app, built from settings on first access (uvicorn's import).

    Logging is configured here so each uvicorn worker process logs as OPENDAY_LOG_FORMAT and
    OPENDAY_LOG_LEVEL say.
    """
    global _app
    if name != "app":
        raise AttributeError(name)
    if _app is None:
        configure_logging()
        _app = create_app()
        freeze_startup_objects()
    return _app


def freeze_startup_objects() -> None:
    """Move everything the process made while starting (modules, the app, its schemas: some
    280,000 objects) out of the cyclic collector's sight. They live as long as the process, and
    each full collection walked them all: 80–230 ms in which every request of the worker
    waited, once every ~1,500 moves — the moves' p99 (issue 32, measured with gc.callbacks)."""
    gc.collect()
    gc.freeze()
