"""Server-rendered pages for unit staff and supervisors (issue 12).

`install(app)` mounts the page routes, the app's own static files, the front-end packages that
`make` installs from npm (htmx, swagger-ui-dist, redoc) and offline /docs and /redoc. Pages call
workflows/ directly; every rule runs there, once.
"""

from __future__ import annotations

import anyio
from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from pages import (
    account_security,
    accounts,
    admin,
    apidocs,
    auth,
    board,
    bulletin_pages,
    cancel_pages,
    corrections,
    district_pages,
    event_pages,
    filing_pages,
    home,
    identity_links,
    identity_pages,
    inbox_pages,
    invitations,
    invitee_import,
    notice_import,
    overdue_list,
    public,
    public_staff,
    rectify_pages,
    reply_pages,
    reports,
    second_factor,
    stage_pages,
    transfer_pages,
    unit_pages,
    workday_data,
    yearly_pages,
)
from pages.assets import NODE_MODULES, STATIC_DIR
from pages.render import JSON_PATHS, http_error_page

VENDOR = {
    "/assets/htmx": NODE_MODULES / "htmx.org" / "dist",
    "/assets/swagger-ui": NODE_MODULES / "swagger-ui-dist",
    "/assets/redoc": NODE_MODULES / "redoc" / "bundles",
}


async def _http_error(request: Request, exc: HTTPException) -> Response:
    """An unknown path or wrong method; a page's error page shows who is signed in."""
    if not request.url.path.startswith(JSON_PATHS):
        await anyio.to_thread.run_sync(auth.look_up_user, request)
    return await http_error_page(request, exc)


def install(app: FastAPI) -> None:
    """Mount pages, static assets and offline API docs on the app; unknown paths outside the
    API answer the HTML error page."""
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for prefix, folder in VENDOR.items():
        # check_dir=False: the app still starts before `npm ci` ran; the asset then answers 404.
        app.mount(prefix, StaticFiles(directory=folder, check_dir=False), name=prefix)
    for module in (
        apidocs,
        auth,
        second_factor,
        identity_pages,
        home,
        event_pages,
        filing_pages,
        rectify_pages,
        invitee_import,
        invitations,
        stage_pages,
        reply_pages,
        transfer_pages,
        bulletin_pages,
        cancel_pages,
        corrections,
        board,
        overdue_list,
        inbox_pages,
        reports,
        admin,
        yearly_pages,
        unit_pages,
        district_pages,
        notice_import,
        accounts,
        identity_links,
        account_security,
        workday_data,
        public,
        public_staff,
    ):
        app.include_router(module.router)
