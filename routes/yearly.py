"""Year over year: each unit and the district, this year's campaign against earlier years'
(issue 30)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from web.deps import API_PREFIX, ActorDep, ClockDep, SessionDep
from web.downloads import xlsx_download
from workflows.reporting import yearly

router = APIRouter(prefix=API_PREFIX + "/reports", tags=["reports"])

CampaignQuery = Annotated[
    int | None, Query(ge=1, description="the latest year's campaign; default: the newest")
]
YearsQuery = Annotated[int, Query(ge=2, le=10, description="how many years, at most")]


@router.get("/year-over-year")
def year_over_year(
    actor: ActorDep,
    session: SessionDep,
    clock: ClockDep,
    campaign_id: CampaignQuery = None,
    years: YearsQuery = yearly.MAX_YEARS,
) -> dict[str, Any]:
    """Per unit and for the district, each year's 按期开展率, 按时答复率, working days late,
    escalations and assessment score, the change since the year before, and the units that
    improved or fell back (by at least `trend_points` of score). Staff see their own unit."""
    return yearly.compare(session, actor, clock.now(), campaign_id, years)


@router.get("/year-over-year.xlsx", response_class=StreamingResponse)
def year_over_year_xlsx(
    actor: ActorDep,
    session: SessionDep,
    clock: ClockDep,
    campaign_id: CampaignQuery = None,
    years: YearsQuery = yearly.MAX_YEARS,
) -> StreamingResponse:
    """The comparison as xlsx: a row per unit and the district, the five figures per year."""
    data = yearly.compare(session, actor, clock.now(), campaign_id, years)
    return xlsx_download([yearly.sheet(data)], "year-over-year", clock.now(), "逐年对比")
