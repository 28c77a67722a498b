"""The weekly 通报: units ranked by on-time holding and answers, what is overdue, 约谈 marks
(workflows/reporting/bulletin.py); made by the scheduler, read by those who see every unit."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from schemas.bulletins import BulletinOut
from web.deps import API_PREFIX, ActorDep, SessionDep
from web.downloads import bulletin_download
from workflows.reporting import bulletin

router = APIRouter(prefix=API_PREFIX, tags=["reports"])


@router.get("/bulletins")
def list_bulletins(
    actor: ActorDep,
    session: SessionDep,
    campaign_id: Annotated[int | None, Query(ge=1)] = None,
) -> list[BulletinOut]:
    """Weekly bulletins, newest first (at most 200)."""
    bulletin.require_overview(actor)
    return [BulletinOut.model_validate(b) for b in bulletin.listing(session, actor, campaign_id)]


@router.get("/bulletins/{bulletin_id}")
def get_bulletin(bulletin_id: int, actor: ActorDep, session: SessionDep) -> BulletinOut:
    """One bulletin: its week, the last day counted and the ranked rows (rank, unit, events
    due and held on time, opinions due and answered on time, rates, satisfaction, overdue,
    score, last, streak, interview)."""
    bulletin.require_overview(actor)
    return BulletinOut.model_validate(bulletin.get(session, actor, bulletin_id))


@router.get("/bulletins/{bulletin_id}/{fmt}", response_class=Response)
def download_bulletin(
    bulletin_id: int, fmt: Literal["docx", "xlsx"], actor: ActorDep, session: SessionDep
) -> Any:
    """The bulletin as .docx or .xlsx."""
    return bulletin_download(session, actor, bulletin_id, fmt)
