"""The invitee list of an event."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Response
from pydantic import Field
from sqlmodel import col, select

from models import Invitee
from schemas.common import Page
from schemas.invitees import InviteeIn, InviteeOut, InviteePatch
from web.deps import (
    API_PREFIX,
    ActorDep,
    ClockDep,
    ExpectedVersion,
    PagingDep,
    SessionDep,
    fetch_page,
)
from web.loaders import load_event, load_event_for_write
from workflows.event import invitees

router = APIRouter(prefix=API_PREFIX + "/events/{event_id}/invitees", tags=["invitees"])

# One request adds at most this many people (an event has "about 15").
MAX_BATCH = 200
InviteeBatch = Annotated[list[InviteeIn], Field(min_length=1, max_length=MAX_BATCH)]


@router.get("")
def list_invitees(
    event_id: int, actor: ActorDep, session: SessionDep, pg: PagingDep
) -> Page[InviteeOut]:
    """The invitee list of an event."""
    load_event(session, actor, event_id)
    stmt = select(Invitee).where(Invitee.event_id == event_id).order_by(col(Invitee.id))
    rows, total = fetch_page(session, stmt, pg)
    return pg.page([InviteeOut.model_validate(i) for i in rows], total)


@router.post("", status_code=201)
def add_invitees(
    event_id: int,
    body: Annotated[InviteeBatch | InviteeIn, Body()],
    expected_version: ExpectedVersion,
    actor: ActorDep,
    session: SessionDep,
    clock: ClockDep,
) -> list[InviteeOut]:
    """Add one invitee, or a list of them at once (all or nothing)."""
    event = load_event_for_write(session, actor, event_id)
    people = body if isinstance(body, list) else [body]
    added = invitees.add(
        session,
        event,
        [p.model_dump() for p in people],
        expected_version=expected_version,
        actor=actor,
        now=clock.now(),
    )
    session.commit()
    return [InviteeOut.model_validate(i) for i in added]


@router.patch("/{invitee_id}")
def patch_invitee(
    event_id: int,
    invitee_id: int,
    body: InviteePatch,
    expected_version: ExpectedVersion,
    actor: ActorDep,
    session: SessionDep,
    clock: ClockDep,
) -> InviteeOut:
    """Correct an invitee or record their attendance (attendance once invitations are out)."""
    event = load_event_for_write(session, actor, event_id)
    invitee = invitees.update(
        session,
        event,
        invitee_id,
        body.model_dump(exclude_unset=True),
        expected_version=expected_version,
        actor=actor,
        now=clock.now(),
    )
    session.commit()
    return InviteeOut.model_validate(invitee)


@router.delete("/{invitee_id}", status_code=204)
def delete_invitee(
    event_id: int,
    invitee_id: int,
    expected_version: ExpectedVersion,
    actor: ActorDep,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    """Remove an invitee from the list (before the event is held)."""
    event = load_event_for_write(session, actor, event_id)
    invitees.remove(
        session, event, invitee_id, expected_version=expected_version, actor=actor, now=clock.now()
    )
    session.commit()
    return Response(status_code=204)
