"""Rendering: the Jinja2 environment, Chinese date words, error summaries and the page route.

`PageRoute` turns what a page handler raises into HTML: a missing sign-in becomes a redirect to
/login, a domain refusal on a GET an error page (the JSON API keeps its own handlers).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from pages.assets import TEMPLATES_DIR
from web.csrf import csrf_token
from web.errors import http_error, http_words, problem_zh  # the API's wording
from web.forms import FormInvalid
from web.wording import label
from workflows.accounts import districts
from workflows.kernel.daywords import day_zh, hours_zh, moment_zh, window_zh
from workflows.kernel.errors import DomainError, MoveRefused

templates = Jinja2Templates(directory=str(TEMPLATES_DIR))


# One date format for every template (issue 24): 2022年9月16日（星期五）14:30.
templates.env.filters.update(day_zh=day_zh, moment_zh=moment_zh)
templates.env.globals.update(window_zh=window_zh, hours_zh=hours_zh)


def office_zh(context: dict[str, Any]) -> str:
    """The district office a page's running text names (workflows/accounts/districts.office_words):
    a page about one event names the event's district office (its `ev`), any other page the
    reader's; a handler may pass `office_zh` itself (a page about a unit or a campaign)."""
    words = getattr(context.get("ev"), "office_zh", "")
    return words or getattr(context.get("user"), "office_zh", "") or districts.SOLE_OFFICE


def labelled(unit: Any, names: dict[int, str]) -> str:
    """A unit as a picker or list shows it: with its district's name when `names` (the district
    names a city-level reader of a city with several districts needs: two districts may each
    have a 区住建局, workflows/accounts/districts.names_for) has it, else its name alone."""
    district = names.get(getattr(unit, "district_id", None))  # type: ignore[arg-type]
    return f"{unit.name}（{district}）" if district else unit.name


@pass_context
def unit_named(context: Any, unit: Any) -> str:
    """`labelled` for the signed-in reader of the page."""
    return labelled(unit, getattr(context.get("user"), "district_names", None) or {})


templates.env.globals.update(unit_named=unit_named)


@dataclass(frozen=True)
class FieldError:
    """One line of a GOV.UK error summary: the message and the field it links to."""

    message: str
    field: str = ""
    status: int = 400  # the HTTP status the page answers with (the API's for refusals)


# Which field a refusal is about, so the error summary links to it.
FIELD_OF_CODE = {
    "no_invitees": "invitee-list",
    "invitee_count_out_of_range": "invitee-list",
    "citizen_share_too_low": "invitee-list",
    "invitation_mode_required": "invitation",
    "targeted_kind_not_allowed": "targeted_kind",
    "invitation_mode_not_allowed": "invitation",
    "event_date_not_reached": "held_on",
    "attendance_not_recorded": "attendance",
    "too_few_attendees": "attendance",
    "attendee_citizen_share_too_low": "attendance",
    "feedback_not_recorded": "content",
    "feedback_contradiction": "no_opinions",
    "summary_text_missing": "summary-text",
    "summary_attachment_missing": "photos",
    "attachment_too_large": "photos",
    "attachment_empty": "photos",
    "reason_required": "reason",
    "invalid_credentials": "username",
    "stale_version": "",
}


def errors_of(
    exc: Exception, fields: dict[str, str] | None = None, labels: dict[str, str] | None = None
) -> list[FieldError]:
    """The error-summary lines of a refusal, with the API's own Chinese wording (`fields`: the
    input each code or field links to; `labels`: a page's own names for fields)."""
    fields = {**FIELD_OF_CODE, **(fields or {})}
    if isinstance(exc, MoveRefused) and exc.violations:
        return [
            FieldError(v.message_zh, fields.get(v.code, ""), exc.status) for v in exc.violations
        ]
    if isinstance(exc, FormInvalid):  # the API's model refused the form: one line per field
        return [FieldError(zh, fields.get(name, name), exc.status) for name, zh in exc.problems]
    if isinstance(exc, DomainError):
        return [FieldError(exc.message_zh, fields.get(exc.code, ""), exc.status)]
    if isinstance(exc, ValidationError):
        out = []
        for err in exc.errors():
            name = str(err["loc"][-1]) if err["loc"] else ""
            named = (labels or {}).get(name) or label(name)  # the label, not the input's id
            text = f"{named}：{problem_zh(dict(err))}"
            out.append(FieldError(text, fields.get(name, name), 422))
        return out
    raise exc


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """Render a template with the signed-in person, CSRF token and flash message."""
    context.setdefault("errors", [])
    context.setdefault("user", getattr(request.state, "page_user", None))
    context.setdefault("flash", request.query_params.get("done", ""))
    context.setdefault("office_zh", office_zh(context))
    context["csrf"] = csrf_token(request)
    if context["errors"] and status == 200:
        status = max(e.status for e in context["errors"])
    response = templates.TemplateResponse(request, name, context, status_code=status)
    if request.method == "POST":
        # A refused form re-rendered: htmx keeps the address of the page the form was on (a
        # GET page) instead of pushing the POST's, so a reload shows that page, not a 405.
        response.headers["HX-Push-Url"] = "false"
    for key, value in getattr(request.state, "set_cookies", {}).items():
        response.set_cookie(key, value, httponly=True, samesite="lax", path="/")
    return response


def redirect(url: str, done: str = "") -> RedirectResponse:
    """303 after a successful POST (post/redirect/get), with an optional success note."""
    path, _, fragment = url.partition("#")
    if done:
        path += ("&" if "?" in path else "?") + "done=" + quote(done)
    return RedirectResponse(path + ("#" + fragment if fragment else ""), status_code=303)


# Paths that answer JSON whatever happens: the API, its schema, and the operations endpoints.
JSON_PATHS = ("/api/", "/openapi.json", "/healthz", "/readyz", "/metrics")
PAGE_WORDS = {
    404: "找不到您要打开的页面：地址可能有误，或该页面已不存在。请返回首页重新查找。",
    405: "此地址不能直接打开（它只接收表单提交）。请返回上一页或首页。",
}


def error_page(request: Request) -> str:
    """The error page's template: the citizens' look (back to the public calendar) under
    /public, the staff pages' otherwise."""
    return "public/error.html" if request.url.path.startswith("/public") else "error.html"


async def http_error_page(request: Request, exc: HTTPException) -> Response:
    """An unknown path or a wrong method: the HTML error page for pages, JSON for the API."""
    if request.url.path.startswith(JSON_PATHS):
        return await http_error(request, exc)
    code, zh, _ = http_words(exc)
    message = PAGE_WORDS.get(exc.status_code, zh)
    response = render(
        request, error_page(request), status=exc.status_code, message=message, code=code
    )
    for key, value in (exc.headers or {}).items():
        response.headers[key] = value
    return response


class LoginRequired(Exception):
    """No valid session cookie: the page redirects to /login."""


class PasswordChangeRequired(Exception):
    """Signed in with a one-time password: every page but changing it redirects there."""


PASSWORD_PAGE = "/account/password"


class PageRoute(APIRoute):
    """An APIRoute whose failures are pages: sign-in redirect, or an HTML error page."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap the handler so domain errors render as HTML instead of the API's JSON."""
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                response = await handler(request)
            except PasswordChangeRequired:
                return RedirectResponse(PASSWORD_PAGE, status_code=303)
            except LoginRequired:
                target = request.url.path
                if request.url.query:
                    target += "?" + request.url.query
                return RedirectResponse("/login?next=" + quote(target), status_code=303)
            except DomainError as exc:
                return render(
                    request, error_page(request), status=exc.status, message=exc.message_zh,
                    code=exc.code,
                )  # fmt: skip
            if getattr(request.state, "page_user", None) is not None:
                # A signed-in page shows someone's data: no browser or proxy keeps a copy.
                response.headers.setdefault("Cache-Control", "no-store")
            return response

        return page_handler
