"""The signed-in account's in-app inbox (站内信): list, unread count, marking read."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from schemas.common import Page
from schemas.inbox import InboxMessageOut, MarkedOut, UnreadOut
from web.deps import API_PREFIX, ActorDep, ClockDep, PagingDep, SessionDep, fetch_page
from workflows.inbox import service as inbox

router = APIRouter(prefix=API_PREFIX + "/inbox", tags=["inbox"])

KindQuery = Annotated[
    str | None,
    Query(max_length=16, pattern=r"^[a-z_]+$", description="only messages of this kind"),
]


@router.get("")
def list_inbox(
    actor: ActorDep,
    session: SessionDep,
    pg: PagingDep,
    show: Annotated[inbox.Show, Query(description="unread (default) | all")] = "unread",
    kind: KindQuery = None,
) -> Page[InboxMessageOut]:
    """The account's messages, newest first; keyset paging with `after`."""
    rows, total = fetch_page(session, inbox.listing(actor, show, kind), pg)
    return pg.page([InboxMessageOut.of(r) for r in rows], total)


@router.get("/unread-count")
def unread_count(actor: ActorDep, session: SessionDep) -> UnreadOut:
    """How many of the account's messages are unread."""
    return UnreadOut(unread=inbox.unread_count(session, actor.id or 0))


@router.post("/{message_id}/read")
def mark_read(
    message_id: int, actor: ActorDep, session: SessionDep, clock: ClockDep
) -> InboxMessageOut:
    """Mark one message read (one already read stays as it was)."""
    row = inbox.mark_read(session, actor, message_id, clock.now())
    session.commit()
    return InboxMessageOut.of(row)


@router.post("/read-all")
def mark_all_read(
    actor: ActorDep, session: SessionDep, clock: ClockDep, kind: KindQuery = None
) -> MarkedOut:
    """Mark every unread message read (or every one of a kind)."""
    marked = inbox.mark_all_read(session, actor, clock.now(), kind)
    session.commit()
    return MarkedOut(marked=marked, unread=inbox.unread_count(session, actor.id or 0))
