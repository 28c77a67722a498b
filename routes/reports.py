"""Exports of every list (xlsx, CSV), the campaign report, the assessment and sample draws."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models import Campaign
from routes.deps import API_PREFIX, ActorDep, ClockDep, SessionDep
from workflows import exports
from workflows.accounts import Actor
from workflows.clock import local_date
from workflows.errors import NotFound

router = APIRouter(prefix=API_PREFIX, tags=["reports"])
NOTHING = -1  # a unit id no unit has: staff asking for another unit get an empty list


def split_name(name: str) -> tuple[str, str]:
    """'events.xlsx' → ('events', 'xlsx'); unknown kinds or formats are 404."""
    kind, _, fmt = name.rpartition(".")
    if fmt not in exports.FORMATS or kind not in exports.KINDS:
        raise NotFound(
            "export_not_found",
            f"没有“{name}”这项导出；可导出：{'、'.join(exports.KINDS)}，格式 xlsx 或 csv",
            f"no export '{name}'; kinds: {', '.join(exports.KINDS)}; formats: xlsx, csv",
        )
    return kind, fmt


def scoped_unit(actor: Actor, unit_id: int | None) -> int | None:
    """The unit a caller's export covers: staff only their own; None means every unit."""
    if actor.sees_all_units:
        return unit_id
    if unit_id is not None and unit_id != actor.unit_id:
        return NOTHING
    return actor.unit_id


def require_campaign(session: Session, campaign_id: int | None) -> Campaign | None:
    """The campaign asked for, or 404 when it does not exist."""
    if campaign_id is None:
        return None
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(
            "campaign_not_found",
            f"活动 {campaign_id} 不存在",
            f"campaign {campaign_id} not found",
        )
    return campaign


def stream_export(
    engine: Engine, kind: str, fmt: str, filters: exports.Filters, now: datetime
) -> StreamingResponse:
    """The export streamed from its own session (the request's may close before the body)."""

    def body() -> Iterator[bytes]:
        with Session(engine) as session:
            sheet = exports.sheet(session, kind, filters, now)
            yield from exports.chunks(sheet, fmt)

    stamp = local_date(now).strftime("%Y%m%d")
    title = exports.TITLES_ZH[kind]
    filename = f"{title}-{stamp}.{fmt}"
    disposition = (
        f"attachment; filename=\"{kind}-{stamp}.{fmt}\"; filename*=UTF-8''{quote(filename)}"
    )
    return StreamingResponse(
        body(), media_type=exports.MEDIA_TYPES[fmt], headers={"Content-Disposition": disposition}
    )


@router.get("/exports/{name}", response_class=StreamingResponse)
def export(
    name: str,
    request: Request,
    actor: ActorDep,
    session: SessionDep,
    clock: ClockDep,
    campaign_id: Annotated[int | None, Query(ge=1)] = None,
    unit_id: Annotated[int | None, Query(ge=1)] = None,
    state: Annotated[list[str] | None, Query(max_length=20)] = None,
    event_id: Annotated[int | None, Query(ge=1)] = None,
    kind: Literal["feedback_answer", "summary", "event_hold"] | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    due_within_days: Annotated[int, Query(ge=0, le=60)] = 3,
) -> Any:
    """A list as xlsx or CSV: `events`, `opinions`, `overdue`, `notifications`, `spot-checks`
    (e.g. `/exports/overdue.xlsx`), with the list's filters; staff get their own unit's rows."""
    what, fmt = split_name(name)
    require_campaign(session, campaign_id)
    filters = exports.Filters(
        campaign_id=campaign_id,
        unit_id=scoped_unit(actor, unit_id),
        states=tuple(state or ()),
        event_id=event_id,
        kind=kind,
        date_from=date_from,
        date_to=date_to,
        due_within_days=due_within_days,
    )
    # Like every GET, nothing of this request's session is kept; ending its transaction now
    # frees SQLite's lock for the export's own session.
    session.rollback()
    return stream_export(request.app.state.engine, what, fmt, filters, clock.now())
