"""Rectification (整改) after a spot-check round found lacking: notice, report, close or send
back (workflows/oversight/rectification.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, UploadFile
from sqlmodel import col, select

from models import Rectification
from schemas.common import Page
from schemas.rectifications import (
    RectificationFileOut,
    RectificationIssueIn,
    RectificationOut,
    RectificationReportIn,
    RectificationSendBackIn,
)
from web.deps import API_PREFIX, ActorDep, ClockDep, PagingDep, SessionDep, SettingsDep, fetch_page
from web.loaders import load_event
from web.uploads import read_upload
from workflows.files.store import FileStore
from workflows.kernel.visibility import visible
from workflows.oversight import rectification as rectify

router = APIRouter(prefix=API_PREFIX, tags=["rectifications"])


def _out(session: SessionDep, rows: list[Rectification]) -> list[RectificationOut]:
    files = rectify.files_of(session, [r.id for r in rows if r.id is not None])
    return [
        RectificationOut.model_validate(
            {
                **r.model_dump(),
                "files": [RectificationFileOut.model_validate(f) for f in files.get(r.id or 0, [])],
            }
        )
        for r in rows
    ]


@router.post("/spot-checks/{check_id}/rectification", status_code=201)
def issue(
    check_id: int,
    body: RectificationIssueIn,
    actor: ActorDep,
    session: SessionDep,
    clock: ClockDep,
) -> RectificationOut:
    """A rectification notice on a round found lacking (supervisors)."""
    rect = rectify.issue(session, check_id, notice=body.notice, actor=actor, now=clock.now())
    session.commit()
    return _out(session, [rect])[0]


@router.get("/rectifications")
def list_rectifications(
    actor: ActorDep,
    session: SessionDep,
    pg: PagingDep,
    event_id: int | None = None,
    state: str | None = None,
) -> Page[RectificationOut]:
    """Rectifications the caller may see, the earliest due first."""
    stmt = visible(select(Rectification), actor, Rectification.unit_id)
    if event_id is not None:
        stmt = stmt.where(Rectification.event_id == event_id)
    if state is not None:
        stmt = stmt.where(Rectification.state == state[:16])
    rows, total = fetch_page(
        session, stmt.order_by(col(Rectification.due_at), col(Rectification.id)), pg
    )
    return pg.page(_out(session, list(rows)), total)


@router.get("/events/{event_id}/rectifications")
def event_rectifications(
    event_id: int, actor: ActorDep, session: SessionDep
) -> list[RectificationOut]:
    """An event's rectifications, by round."""
    load_event(session, actor, event_id)
    return _out(session, list(rectify.of_event(session, event_id).values()))


@router.get("/rectifications/{rect_id}")
def get_rectification(rect_id: int, actor: ActorDep, session: SessionDep) -> RectificationOut:
    """One rectification with its files."""
    return _out(session, [rectify.get(session, actor, rect_id)])[0]


@router.post("/rectifications/{rect_id}/report")
def report(
    rect_id: int,
    body: RectificationReportIn,
    actor: ActorDep,
    session: SessionDep,
    clock: ClockDep,
) -> RectificationOut:
    """The unit reports its rectification (the unit's staff)."""
    rect = rectify.report(session, rect_id, text=body.report, actor=actor, now=clock.now())
    session.commit()
    return _out(session, [rect])[0]


@router.post("/rectifications/{rect_id}/files", status_code=201)
def add_file(
    rect_id: int,
    file: Annotated[UploadFile, File(description="a photo or file for the report")],
    actor: ActorDep,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> RectificationFileOut:
    """Attach a photo or file before reporting (the unit's staff)."""
    rectify.get(session, actor, rect_id)
    data = read_upload(file, settings.upload_max_bytes, "file_too_large", "文件", "file")
    row = rectify.add_file(
        session,
        rect_id,
        filename=file.filename or "file",
        data=data,
        store=FileStore(settings.upload_dir),
        actor=actor,
        now=clock.now(),
    )
    session.commit()
    return RectificationFileOut.model_validate(row)


@router.post("/rectifications/{rect_id}/close")
def close(rect_id: int, actor: ActorDep, session: SessionDep, clock: ClockDep) -> RectificationOut:
    """The supervisor accepts the report: closed (销号)."""
    rect = rectify.close(session, rect_id, actor=actor, now=clock.now())
    session.commit()
    return _out(session, [rect])[0]


@router.post("/rectifications/{rect_id}/send-back")
def send_back(
    rect_id: int,
    body: RectificationSendBackIn,
    actor: ActorDep,
    session: SessionDep,
    clock: ClockDep,
) -> RectificationOut:
    """The supervisor sends the report back with reasons (a new due day)."""
    rect = rectify.send_back(session, rect_id, reasons=body.reasons, actor=actor, now=clock.now())
    session.commit()
    return _out(session, [rect])[0]
