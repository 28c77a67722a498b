"""The overdue list: what is late or falls due soon, most late first."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from schemas.common import Page
from schemas.deadlines import OverdueOut
from web.deps import API_PREFIX, ActorDep, ClockDep, PagingDep, SessionDep
from workflows.escalation import overdue as overdue_list
from workflows.event import search
from workflows.feedback import extensions
from workflows.kernel.visibility import NOTHING, scope

router = APIRouter(prefix=API_PREFIX, tags=["deadlines"])


@router.get("/overdue", response_model=Page[OverdueOut])
def overdue(
    actor: ActorDep,
    session: SessionDep,
    clock: ClockDep,
    pg: PagingDep,
    due_within_days: Annotated[int | None, Query(ge=0, le=60)] = None,
    unit_id: int | None = None,
    kind: Literal["feedback_answer", "summary", "event_hold"] | None = None,
    q: Annotated[
        str | None, Query(max_length=200, description="text in the event's theme or unit's name")
    ] = None,
    escalation_level: Annotated[int | None, Query(ge=0, le=9)] = None,
) -> Response:
    """What is overdue or falls due soon, most late first (default window: 3 days). Walk the
    list with `after=` the previous page's `next_after`."""
    if pg.after is not None:
        overdue_list.decode_cursor(pg.after)  # a bad cursor is 422 whatever the scope
    narrowed = scope(actor, unit_id)
    if narrowed == NOTHING:
        return _json(pg.page([], 0 if pg.after is None else None))
    window = 3 if due_within_days is None else due_within_days
    found = overdue_list.listing(
        session,
        clock.now(),
        window,
        narrowed,
        kind,
        pg.limit,
        offset=pg.offset,
        after=pg.after,
        narrow=overdue_list.Narrowing(search.normalize(q), escalation_level),
    )
    rows, total = found.rows, found.total
    pg.next_after = found.next_after
    asked = extensions.pending_for(
        session, [r["feedback_item_id"] for r in rows if r["feedback_item_id"]]
    )
    items = [
        OverdueOut.model_validate({**r, "extension_state": asked.get(r["feedback_item_id"])})
        for r in rows
    ]
    return _json(pg.page(items, total))


def _json(page: Page[OverdueOut]) -> Response:
    """The page serialised once (its rows were just validated): no second validation of up to
    500 rows by the framework."""
    return Response(page.model_dump_json(), media_type="application/json")
