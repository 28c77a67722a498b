"""The audit trail: every write, who and when, before → after."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from web.deps import API_PREFIX, ActorDep, ClockDep, PagingDep, SessionDep
from workflows.accounts import duties
from workflows.kernel import audit

router = APIRouter(prefix=API_PREFIX, tags=["audit"])


@router.get("/audit")
def read_audit(
    actor: ActorDep,
    session: SessionDep,
    pg: PagingDep,
    clock: ClockDep,
    entity: Annotated[Literal["event", "campaign", "unit", "account"] | None, Query()] = None,
) -> dict[str, Any]:
    """Newest first: event moves and edits, and changes to campaigns, units and accounts.
    Supervisors read everything; unit staff their own unit's lines. Walk it with `after=` the
    previous page's `next_after`."""
    # 三员分立: of the administrators only the audit administrator reads it, and its reading
    # is itself an audit line
    if duties.require_if_administrator(session, actor, duties.Duty.audit_read, clock.now()):
        session.commit()
    info: dict[str, Any] = {}
    items = audit.trail(
        session,
        actor,
        entity=entity,
        limit=pg.limit,
        offset=pg.offset,
        after=pg.after,
        page_info=info,
    )
    return {
        "items": items,
        "limit": pg.limit,
        "offset": pg.offset,
        "next_after": info.get("next_after"),
    }
