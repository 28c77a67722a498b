"""/docs and /redoc without a CDN: Swagger UI and ReDoc from the npm packages, served here."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI for the JSON API, every asset from this server."""
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title=request.app.title + " – API",
        swagger_js_url="/assets/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url="/assets/swagger-ui/swagger-ui.css",
        swagger_favicon_url="/static/favicon.svg",
    )


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    """ReDoc for the JSON API, offline (no Google fonts)."""
    return get_redoc_html(
        openapi_url=request.app.openapi_url,
        title=request.app.title + " – API",
        redoc_js_url="/assets/redoc/redoc.standalone.js",
        redoc_favicon_url="/static/favicon.svg",
        with_google_fonts=False,
    )
