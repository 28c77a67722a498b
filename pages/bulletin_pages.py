"""每周通报 pages: the list of weekly bulletins and one bulletin's ranking with its downloads
(those who see every unit: supervisors, viewers, administrators)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from models import Campaign
from pages.auth import UserDep
from pages.render import PageRoute, render
from web.deps import SessionDep
from web.downloads import bulletin_download
from workflows.reporting import bulletin

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@router.get("/bulletins")
def bulletins_page(request: Request, user: UserDep, session: SessionDep) -> HTMLResponse:
    """Every weekly bulletin, newest first."""
    bulletin.require_overview(user.actor)
    rows = bulletin.listing(session, user.actor)
    return render(request, "bulletins.html", bulletins=rows, one=None)


@router.get("/bulletins/{bulletin_id}.{fmt}")
def bulletin_file(bulletin_id: int, fmt: str, user: UserDep, session: SessionDep) -> Response:
    """The bulletin as .docx or .xlsx."""
    return bulletin_download(session, user.actor, bulletin_id, "docx" if fmt == "docx" else "xlsx")


@router.get("/bulletins/{bulletin_id}")
def bulletin_page(
    request: Request, bulletin_id: int, user: UserDep, session: SessionDep
) -> HTMLResponse:
    """One bulletin: the ranking, what is overdue, who is marked for 约谈, the downloads."""
    bulletin.require_overview(user.actor)
    one = bulletin.get(session, user.actor, bulletin_id)
    campaign = session.get(Campaign, one.campaign_id)
    return render(
        request,
        "bulletins.html",
        one=one,
        campaign=campaign,
        title=bulletin.title_of(one, campaign) if campaign else "通报",
        columns=bulletin.COLUMNS,
        cell=bulletin.cell,
        bulletins=[],
    )
