"""On-site visits to events, by district-office supervisors."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, UploadFile
from sqlmodel import col, select

from models import Event, SiteVisit
from schemas.common import Page
from schemas.visits import VisitIn, VisitOut, VisitPhotoOut
from web.deps import API_PREFIX, ActorDep, ClockDep, PagingDep, SessionDep, SettingsDep, fetch_page
from web.loaders import load_event
from web.uploads import read_upload
from workflows.files.store import FileStore
from workflows.kernel.visibility import visible
from workflows.oversight import visits

router = APIRouter(prefix=API_PREFIX, tags=["visits"])


def _out(session: SessionDep, rows: list[SiteVisit]) -> list[VisitOut]:
    pics = visits.photos(session, [v.id for v in rows if v.id is not None])
    return [
        VisitOut.model_validate(
            {
                **v.model_dump(),
                "photos": [VisitPhotoOut.model_validate(p) for p in pics.get(v.id or 0, [])],
            }
        )
        for v in rows
    ]


@router.post("/events/{event_id}/visits", status_code=201)
def record_visit(
    event_id: int, body: VisitIn, actor: ActorDep, session: SessionDep, clock: ClockDep
) -> VisitOut:
    """Record a visit to an event (supervisors)."""
    event = load_event(session, actor, event_id)
    visit = visits.record(session, event, **body.model_dump(), actor=actor, now=clock.now())
    session.commit()
    return _out(session, [visit])[0]


@router.get("/visits")
def list_visits(
    actor: ActorDep, session: SessionDep, pg: PagingDep, event_id: int | None = None
) -> Page[VisitOut]:
    """Visits the caller may see, newest first."""
    stmt = select(SiteVisit).join(Event, col(Event.id) == SiteVisit.event_id)
    stmt = visible(stmt, actor, Event.unit_id)
    if event_id is not None:
        stmt = stmt.where(SiteVisit.event_id == event_id)
    rows, total = fetch_page(session, stmt.order_by(col(SiteVisit.id).desc()), pg)
    return pg.page(_out(session, list(rows)), total)


@router.post("/visits/{visit_id}/photos", status_code=201)
def add_visit_photo(
    visit_id: int,
    file: Annotated[UploadFile, File(description="a photo taken on the visit")],
    actor: ActorDep,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> VisitPhotoOut:
    """Attach a photo to a visit (supervisors)."""
    visit = visits.get(session, actor, visit_id)
    actor.require_supervisor()
    data = read_upload(file, settings.upload_max_bytes, "photo_too_large", "照片", "photo")
    photo = visits.add_photo(
        session,
        visit,
        filename=file.filename or "photo",
        content_type=file.content_type or "application/octet-stream",
        data=data,
        store=FileStore(settings.upload_dir),
        actor=actor,
        now=clock.now(),
    )
    session.commit()
    return VisitPhotoOut.model_validate(photo)
