"""Operations: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

import hmac
from datetime import timedelta

import structlog
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from web.errors import error_response
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
    """The database and the message broker answer; the last backup and the tenant isolation
    check are reported beside them."""
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
    return JSONResponse(
        {
            "status": "ok",
            "database": "ok",
            "broker": "ok",
            "backup": backup_status(request),
            "tenants": tenant_status(request),
        }
    )


TENANT_CHECK_EVERY = timedelta(minutes=5)


def tenant_status(request: Request) -> dict[str, object]:
    """`openday verify tenants` on the service's own engine (its runtime role), at most once
    every five minutes: `ok`, `failed` with how many checks failed (the lines go to the log,
    not to this public answer), `not_applicable` on SQLite, or `unknown`. Reported, never a
    reason to be unready: start-up already refuses a privileged role."""
    from workflows.kernel.tenant_check import verify

    state = request.app.state
    now = state.clock.now()
    cached = getattr(state, "tenant_check", None)
    if cached is not None and now - cached[0] < TENANT_CHECK_EVERY:
        return dict(cached[1])
    if state.engine.dialect.name != "postgresql":
        result: dict[str, object] = {"state": "not_applicable"}
    else:
        try:
            report = verify(state.engine)
        except Exception as exc:  # noqa: BLE001 - the readiness answer never fails on it
            log.warning("readyz_tenant_check_unavailable", error=str(exc).splitlines()[0])
            return {"state": "unknown"}
        failed = [text for ok, text in report.lines if not ok]
        result = {"state": "ok"} if report.ok else {"state": "failed", "failed": len(failed)}
        for text in failed:
            log.warning("tenant_check_failed", check=text)
    state.tenant_check = (now, result)
    return dict(result)


def backup_status(request: Request) -> dict[str, object]:
    """The last successful backup and whether it is stale (reported, never a reason to be
    unready: an old backup does not stop the service from answering)."""
    from workflows.backup import nightly

    state = request.app.state
    try:
        return nightly.status(state.engine, state.clock.now(), state.settings.backup_hour)
    except Exception as exc:  # noqa: BLE001 - the readiness answer never fails on it
        log.warning("readyz_backup_status_unavailable", error=str(exc).splitlines()[0])
        return {"state": "unknown", "last_success": None}


@router.get("/metrics", response_class=Response)
def metrics(request: Request) -> Response:
    """Prometheus metrics: requests, moves, timers due, notifications, queue depth.

    Only with `Authorization: Bearer <OPENDAY_METRICS_TOKEN>`; unset, the path does not exist.
    The platform's Python version is left out.
    """
    token = request.app.state.settings.metrics_token
    if token is None:
        return error_response(404, "not_found", "地址不存在", "no such path")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    expected = token.get_secret_value().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
        response = error_response(
            401, "metrics_token_required", "需要指标令牌", "the metrics token is required"
        )
        response.headers["WWW-Authenticate"] = "Bearer"
        return response
    text_out = b"\n".join(
        line
        for line in render(request.app.state.metrics).split(b"\n")
        if not line.startswith((b"python_info", b"# HELP python_info", b"# TYPE python_info"))
    )
    return Response(text_out, media_type=CONTENT_TYPE_LATEST)
