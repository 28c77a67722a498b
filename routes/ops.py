"""Operations: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

import structlog
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from routes.errors import error_response
from workers.broker import broker_reachable
from workers.metrics import render

router = APIRouter(tags=["ops"])
log = structlog.get_logger("openday.api")


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """The database and the message broker answer."""
    try:
        with request.app.state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        log.warning("readyz_database_unreachable", error=str(exc).splitlines()[0])
        return error_response(
            503, "database_unavailable", "数据库不可用", "the database is unreachable"
        )
    if not broker_reachable(request.app.state.broker):
        return error_response(
            503, "broker_unavailable", "消息队列不可用", "the message broker is unreachable"
        )
    return JSONResponse({"status": "ok", "database": "ok", "broker": "ok"})


@router.get("/metrics", response_class=Response)
def metrics(request: Request) -> Response:
    """Prometheus metrics: requests, moves, timers due, notifications, queue depth."""
    return Response(render(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)
