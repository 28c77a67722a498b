"""The HTTP service's assembly: settings, logging, middleware, error handlers and routers.

`create_app()` builds an app around an engine, a clock and a broker (injectable for tests); the
module attribute `app`, which `uvicorn api:app` imports, is built on first access, so importing
this module has no side effects. Routes live in routes/, their models in schemas/, every rule in
workflows/.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import dramatiq
import structlog
from fastapi import Depends, FastAPI, Request, Response
from sqlalchemy.engine import Engine

import pages
import routes
from models.db import make_engine
from routes import errors
from routes.headers import SecurityHeaders
from routes.limits import BodyLimit
from routes.ranges import bounded_ints
from schemas.common import ErrorOut
from settings import Settings, configure_logging, get_settings
from workers.broker import make_broker
from workers.metrics import REQUEST_SECONDS, REQUESTS, StateCollector
from workers.wake import install_wake_hook
from workflows.clock import Clock, clock_from_setting

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
    app.middleware("http")(_request_context)
    for router in [*routes.OPS_ROUTERS, *routes.ROUTERS]:
        app.include_router(router)
    pages.install(app)
    # Outermost: bodies are capped (and API uploads authenticated) before anything reads them.
    app.add_middleware(BodyLimit, settings=settings, engine=app.state.engine, clock=app.state.clock)
    app.add_middleware(SecurityHeaders)  # outside the limit: its 413/401 answers get them too
    return app


async def _request_context(request: Request, call_next: Any) -> Response:
    """Bind a request id to the logs, echo it, and count the request by route template."""
    given = request.headers.get("x-request-id", "")
    rid = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=rid)
    started = time.perf_counter()
    response: Response = await call_next(request)
    response.headers["X-Request-ID"] = rid
    route = request.scope.get("route")
    template = getattr(route, "path", "unmatched")
    REQUESTS.labels(template, request.method, str(response.status_code)).inc()
    REQUEST_SECONDS.labels(template, request.method).observe(time.perf_counter() - started)
    return response


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
    return _app
