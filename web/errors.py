"""One error shape for every refusal: `{error: {code, message, message_en, details, …}}`.

Domain errors carry their own code and messages; validation errors name each field with a
Chinese description of the problem (allowed values included); framework errors (unknown path,
wrong method) and database trouble get the same shape instead of a bare `{"detail"}` or a 500.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException

from web import moves
from web.deps import refusal_before_invalid
from web.wording import located, value_name
from workflows.kernel.errors import DomainError, MoveRefused

log = structlog.get_logger("openday.api")


def error_response(
    status: int,
    code: str,
    zh: str,
    en: str,
    details: dict[str, Any] | None = None,
    **extra: Any,
) -> JSONResponse:
    """The shared error body."""
    body: dict[str, Any] = {
        "code": code,
        "message": zh,
        "message_en": en,
        "details": details or {},
        **extra,
    }
    return JSONResponse(status_code=status, content={"error": body})


def _choices(ctx: dict[str, Any]) -> str:
    expected = str(ctx.get("expected", ctx.get("expected_tags", "")))
    return expected.replace(" or ", "、").replace(", ", "、").replace("'", "")


def _choices_zh(ctx: dict[str, Any]) -> str:
    """The allowed values by their Chinese names (合格、需整改、不合格)."""
    return "、".join(value_name(v) for v in _choices(ctx).split("、"))


def problem_zh(error: dict[str, Any]) -> str:
    """A field error's problem in Chinese, naming the allowed values or limits."""
    kind, ctx = error["type"], error.get("ctx") or {}
    simple = {
        "missing": "必填",
        "extra_forbidden": "不允许的字段",
        "int_parsing": "应为整数",
        "int_type": "应为整数",
        "bool_parsing": "应为“是”或“否”",
        "bool_type": "应为“是”或“否”",
        "string_type": "应为文本",
        "date_from_datetime_parsing": "应为日期（如 2022-09-16）",
        "date_parsing": "应为日期（如 2022-09-16）",
        "date_type": "应为日期（如 2022-09-16）",
        "list_type": "应为列表",
        "dict_type": "应为对象",
        "model_type": "应为对象",
        "json_invalid": "不是有效的 JSON",
        "union_tag_not_found": "缺少操作名称",
    }
    if kind in simple:
        return simple[kind]
    if kind in ("enum", "literal_error"):
        return f"应为以下之一：{_choices_zh(ctx)}"
    if kind == "union_tag_invalid":
        return f"未知操作“{ctx.get('tag', '')}”，可选：{_choices_zh(ctx)}"
    if kind == "string_too_short":
        return f"至少 {ctx.get('min_length')} 个字符"
    if kind == "string_too_long":
        return f"最多 {ctx.get('max_length')} 个字符"
    if kind == "too_long":
        return f"最多 {ctx.get('max_length')} 项"
    if kind == "too_short":
        return f"至少 {ctx.get('min_length')} 项"
    if kind in ("greater_than_equal", "greater_than"):
        return f"应不小于 {ctx.get('ge', ctx.get('gt'))}"
    if kind in ("less_than_equal", "less_than"):
        return f"应不大于 {ctx.get('le', ctx.get('lt'))}"
    if kind == "string_pattern_mismatch":
        return "格式不正确"
    if kind == "value_error":  # the validators word theirs "中文 / English": the Chinese half
        said = str(ctx.get("error", error.get("msg", "")))
        zh = said.split(" / ")[0]
        return zh if re.search(r"[\u4e00-\u9fff]", zh) else "无效"
    return "无效"


def field_errors(
    errors: Sequence[Any], prefix: tuple[str, ...] = (), body: Any = None
) -> JSONResponse:
    """422 naming every invalid field, in Chinese and English."""
    tag = body.get("trigger") if isinstance(body, dict) else None
    fields, labels = [], []  # labels: each field in Chinese words, for the message
    for e in errors:
        loc = [str(p) for p in (*prefix, *e["loc"])]
        # A tagged union puts the tag into the location (body.spot_check.data.result): drop it.
        if tag is not None and len(loc) > 1 and loc[0] == "body" and loc[1] == tag:
            del loc[1]
        labels.append(located(loc))
        fields.append(
            {
                "field": ".".join(loc),
                "problem": e["msg"],
                "problem_zh": problem_zh(e),
                "type": e["type"],
            }
        )
    unknown = next((e for e in errors if e["type"] == "union_tag_invalid"), None)
    if unknown is not None:
        known = _choices(unknown.get("ctx") or {}).split("、")
        return error_response(
            422,
            "unknown_trigger",
            f"未知操作“{tag}”，可选：{'、'.join(value_name(k) for k in known)}",
            f"unknown trigger '{tag}'; known: {', '.join(known)}",
            {"known": known, "fields": fields},
        )
    zh = "；".join(f"{name}：{f['problem_zh']}" for name, f in zip(labels, fields, strict=True))
    return error_response(
        422,
        "validation_error",
        f"请求数据无效：{zh}",
        "invalid request data: " + ", ".join(f"{f['field']} ({f['problem']})" for f in fields),
        {"fields": fields},
    )


def _log_refusal(request: Request, exc: DomainError) -> None:
    """One line per refusal: its code, status, path and who asked."""
    actor = getattr(request.state, "actor", "anonymous")
    log.info("refused", code=exc.code, status=exc.status, path=request.url.path, actor=actor)


async def _refused(request: Request, exc: MoveRefused) -> JSONResponse:
    _log_refusal(request, exc)
    moves.refused(exc, door="api")
    return error_response(
        exc.status,
        exc.code,
        exc.message_zh,
        exc.message_en,
        exc.details,
        violations=[v.as_dict() for v in exc.violations],
        allowed_triggers=exc.allowed,
    )


async def _domain(request: Request, exc: DomainError) -> JSONResponse:
    _log_refusal(request, exc)
    report = getattr(exc, "report", None)  # an import refused with its report (ImportRefused)
    extra = {"report": report} if report is not None else {}
    response = error_response(
        exc.status, exc.code, exc.message_zh, exc.message_en, exc.details, **extra
    )
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    retry_after = getattr(exc, "retry_after", None)  # the throttles' refusals
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
    refusal = await refusal_before_invalid(request, exc.body)  # 401/403 before 422
    if refusal is not None:
        return await _domain(request, refusal)
    return field_errors(exc.errors(), body=exc.body)


async def _invalid_data(_: Request, exc: ValidationError) -> JSONResponse:
    # Move data validated inside a workflow, against the trigger's own schema.
    return field_errors(exc.errors(), ("body", "data"))


async def _stale(_: Request, exc: StaleDataError) -> JSONResponse:
    return error_response(
        409,
        "stale_version",
        "数据已被他人同时修改，请刷新后重试",
        "the record was changed concurrently; reload and retry",
    )


async def _database(_: Request, exc: OperationalError) -> JSONResponse:
    if getattr(exc.orig, "sqlstate", None) in ("40001", "40P01"):
        # Serialization failure or deadlock: nothing was written; the client may retry.
        return error_response(
            409,
            "concurrent_update",
            "数据正被同时修改，本次操作未生效，请重试",
            "a concurrent change conflicted; nothing was written, retry",
        )
    # The database is unreachable (stopped, restarting, network): say so, don't 500.
    log.warning("database_unavailable", error=str(exc.orig).splitlines()[0] if exc.orig else "")
    response = error_response(
        503,
        "database_unavailable",
        "数据库暂时不可用，请稍后重试",
        "the database is temporarily unavailable; retry shortly",
    )
    response.headers["Retry-After"] = "5"
    return response


async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
    log.warning("integrity_error", error=str(exc.orig))
    return error_response(
        409,
        "integrity_conflict",
        "数据冲突：与已有记录重复或引用了不存在的记录",
        "conflict: duplicates an existing record or refers to a missing one",
    )


_HTTP = {
    404: ("not_found", "地址不存在", "no such path"),
    405: ("method_not_allowed", "此地址不支持该请求方法", "method not allowed on this path"),
    413: ("body_too_large", "请求内容过大", "the request body is too large"),
}


def http_words(exc: HTTPException) -> tuple[str, str, str]:
    """A framework error's code, Chinese and English message."""
    return _HTTP.get(exc.status_code, ("http_error", "请求无法处理", str(exc.detail)))


async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
    """A framework error (unknown path, wrong method) in the shared error body."""
    return await _http(request, exc)


async def _http(_: Request, exc: HTTPException) -> JSONResponse:
    code, zh, en = http_words(exc)
    response = error_response(exc.status_code, code, zh, en)
    for key, value in (exc.headers or {}).items():
        response.headers[key] = value
    return response


async def _overflow(request: Request, exc: OverflowError) -> JSONResponse:
    # A date or number past what the calendar or the database can hold (a field the schemas
    # did not bound yet): the caller's value, not the service, is at fault.
    log.info("refused", code="value_out_of_range", status=422, path=request.url.path)
    return error_response(
        422,
        "value_out_of_range",
        "数值或日期超出可处理的范围",
        "a number or date is out of the range the service can handle",
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    """Last resort: the shared shape with the request id, the traceback only in the log."""
    rid = structlog.contextvars.get_contextvars().get("request_id", "")
    log.error("unhandled_error", path=request.url.path, exc_info=exc)
    response = error_response(
        500,
        "internal_error",
        f"服务内部错误，请联系管理员并提供请求编号 {rid}",
        f"internal error; give the administrator request id {rid}",
        request_id=rid,
    )
    response.headers["X-Request-ID"] = rid
    return response


def install(app: FastAPI) -> None:
    """Map domain, validation, database and framework errors to the shared error body."""
    # The ignores: Starlette types every handler as taking any Exception, so a handler for one
    # exception class (what it is registered for) does not match its signature.
    app.add_exception_handler(MoveRefused, _refused)  # type: ignore[arg-type]
    app.add_exception_handler(DomainError, _domain)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid)  # type: ignore[arg-type]
    app.add_exception_handler(ValidationError, _invalid_data)  # type: ignore[arg-type]
    app.add_exception_handler(StaleDataError, _stale)  # type: ignore[arg-type]
    app.add_exception_handler(OperationalError, _database)  # type: ignore[arg-type]
    app.add_exception_handler(IntegrityError, _integrity)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http)  # type: ignore[arg-type]
    app.add_exception_handler(OverflowError, _overflow)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)
