"""逾期清单, every page of it: the overdue list in deadline order (most late first), paged by
keyset (`after=` the last row's cursor from workflows/escalation/overdue.py), so a page deep in a
long list
costs what the first one does. The board shows the first page; this page walks the rest."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from pages.auth import UserDep
from pages.board import KINDS, LEVELS, PAGE
from pages.render import PageRoute, render
from web.deps import ClockDep, SessionDep
from workflows.accounts import units as unit_list
from workflows.escalation import overdue
from workflows.event import search
from workflows.feedback.lamps import Lamps
from workflows.kernel.clock import local_date
from workflows.kernel.visibility import scope

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@router.get("/board/overdue")
def overdue_page(
    request: Request,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
    unit: Annotated[str, Query(max_length=10)] = "",
    kind: Annotated[str, Query(max_length=20)] = "",
    q: Annotated[str, Query(max_length=200)] = "",
    level: Annotated[str, Query(max_length=2)] = "",
    after: Annotated[str, Query(max_length=200)] = "",
) -> HTMLResponse:
    """One page of the overdue list (staff: their unit's), then a link to the next."""
    now = clock.now()
    chosen = int(unit) if unit.isdigit() and len(unit) < 10 else None  # the filter asked for
    unit_id = scope(user.actor, chosen)  # what the caller may see of it
    narrow = overdue.Narrowing(search.normalize(q), int(level) if level.isdigit() else None)
    found = overdue.listing(
        session,
        now,
        0,
        unit_id,
        kind if kind in KINDS else None,
        PAGE,
        after=after or None,
        count=False,
        narrow=narrow,
    )
    rows = [r for r in found.rows if r["overdue"]]
    overdue.count_workdays_late(session, rows, local_date(now))
    units = unit_list.choices(session, scope(user.actor, None)) if user.is_supervisor else []
    return render(
        request,
        "overdue.html",
        rows=rows,
        lamps=Lamps(session, local_date(now)),
        kinds=KINDS,
        units=units,
        units_by_id={u.id: u for u in units},
        unit=unit_id if isinstance(unit_id, int) else None,
        kind=kind if kind in KINDS else "",
        q=narrow.q or "",
        level=narrow.level,
        levels=LEVELS,
        query=urlencode(
            {"unit": chosen or "", "kind": kind if kind in KINDS else "", "q": narrow.q or ""}
            | ({"level": narrow.level} if narrow.level is not None else {})
        ),
        after=after,
        next_after=found.next_after if rows else None,
    )
