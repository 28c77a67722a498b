"""全市对比 (issue 28): the districts side by side, for the city's supervisors."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from web.deps import API_PREFIX, ActorDep, ClockDep, SessionDep
from web.downloads import xlsx_download
from workflows.reporting import city

router = APIRouter(prefix=API_PREFIX + "/reports", tags=["reports"])

YearQuery = Annotated[
    int | None,
    Query(ge=2000, le=2200, description="the campaigns' year; default: each district's latest"),
]


@router.get("/districts")
def districts(
    actor: ActorDep, session: SessionDep, clock: ClockDep, year: YearQuery = None
) -> dict[str, Any]:
    """Per district (its campaign of `year`): events held on time, answers on time and late,
    overdue now, working days late, escalations by level, satisfaction, the units' mean and
    lowest score, the districts' ranking and the link to the district's report. Supervisors
    only: a city supervisor sees every district, a district's its own (403 for others)."""
    data = city.compare(session, actor, clock.now(), year)
    rows = [{**asdict(r), "link": r.link} for r in data["rows"]]
    return {**data, "rows": rows}


@router.get("/districts.xlsx", response_class=StreamingResponse)
def districts_xlsx(
    actor: ActorDep, session: SessionDep, clock: ClockDep, year: YearQuery = None
) -> StreamingResponse:
    """The comparison as xlsx: a row per district, then the city's totals."""
    data = city.compare(session, actor, clock.now(), year)
    return xlsx_download([city.sheet(data)], f"city-{year or 'all'}", clock.now(), "全市对比")
