"""签收 and 转办: the unit holding an opinion signs for it or transfers it; the receiving unit
signs for it or sends it back; a supervisor decides a dispute (workflows/feedback/transfer.py)."""

from __future__ import annotations

from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Query
from sqlmodel import col, select

from models import FeedbackTransfer
from routes.feedback import detail, load_item
from schemas.common import Page
from schemas.feedback import FeedbackDetailOut
from schemas.transfers import (
    SendBackIn,
    SignIn,
    StepOut,
    TransferDecisionIn,
    TransferIn,
    TransferOut,
    TransfersOut,
)
from web import moves
from web.deps import API_PREFIX, ActorDep, ClockDep, PagingDep, SessionDep, fetch_page
from workflows.feedback import transfer as flow
from workflows.kernel.visibility import scope, unit_clause

router = APIRouter(prefix=API_PREFIX, tags=["feedback"])


@router.post("/feedback/{item_id}/sign")
def sign_for(
    item_id: int, body: SignIn, actor: ActorDep, session: SessionDep, clock: ClockDep
) -> FeedbackDetailOut:
    """Sign for (签收) an opinion the caller's unit holds, accepting a transfer to it (403
    feedback_not_holder for anyone else; 409 feedback_already_signed)."""
    item = load_item(session, actor, item_id, lock=True)
    entry = flow.sign(
        session, item, actor=actor, now=clock.now(), expected_version=body.expected_version
    )
    session.commit()
    moves.moved(entry, door="api")
    return detail(session, item, actor, clock.now())


@router.post("/feedback/{item_id}/transfers", status_code=201)
def transfer(
    item_id: int, body: TransferIn, actor: ActorDep, session: SessionDep, clock: ClockDep
) -> TransferOut:
    """Transfer (转办) an opinion to the unit that must answer it, with the reason (422
    transfer_same_unit / transfer_unit_unknown; 409 transfer_pending). The due day stays."""
    item = load_item(session, actor, item_id, lock=True)
    row = flow.transfer(
        session,
        item,
        to_unit_id=body.to_unit_id,
        reason=body.reason,
        actor=actor,
        now=clock.now(),
        expected_version=body.expected_version,
    )
    session.commit()
    return TransferOut.model_validate(row)


@router.get("/feedback/{item_id}/transfers")
def item_transfers(item_id: int, actor: ActorDep, session: SessionDep) -> TransfersOut:
    """An opinion's transfers, and its sign-for and transfer steps in plain words."""
    item = load_item(session, actor, item_id)
    assert item.id is not None
    return TransfersOut(
        items=[TransferOut.model_validate(t) for t in flow.history(session, item.id)],
        steps=[StepOut(at=s.at, text=s.text) for s in flow.steps(session, item)],
    )


@router.post("/feedback/{item_id}/transfer/send-back")
def send_back(
    item_id: int, body: SendBackIn, actor: ActorDep, session: SessionDep, clock: ClockDep
) -> TransferOut:
    """The receiving unit sends a transfer back with the reason; a supervisor decides."""
    item = load_item(session, actor, item_id, lock=True)
    row = flow.send_back(session, item, reason=body.reason, actor=actor, now=clock.now())
    session.commit()
    return TransferOut.model_validate(row)


@router.post("/feedback/{item_id}/transfer/decision")
def decide(
    item_id: int,
    body: TransferDecisionIn,
    actor: ActorDep,
    session: SessionDep,
    clock: ClockDep,
) -> TransferOut:
    """A supervisor decides a sent-back transfer: which unit handles the opinion, and
    optionally a later due day."""
    actor.require_supervisor()
    item = load_item(session, actor, item_id, lock=True)
    decision = flow.Decision(outcome=body.outcome, note=body.note, new_due_on=body.new_due_on)
    row = flow.decide(session, item, decision, actor=actor, now=clock.now())
    session.commit()
    return TransferOut.model_validate(row)


@router.get("/transfers")
def list_transfers(
    actor: ActorDep,
    session: SessionDep,
    pg: PagingDep,
    state: Annotated[
        Literal["pending", "accepted", "returned", "upheld", "overruled"] | None, Query()
    ] = None,
) -> Page[TransferOut]:
    """Transfers, newest first (staff: those from or to their unit; `returned`: the disputes
    waiting for a supervisor)."""
    stmt = select(FeedbackTransfer).order_by(col(FeedbackTransfer.id).desc())
    unit_id = scope(actor, None)
    if unit_id is not None:
        stmt = stmt.where(
            sa.or_(
                unit_clause(col(FeedbackTransfer.from_unit_id), unit_id),
                unit_clause(col(FeedbackTransfer.to_unit_id), unit_id),
            )
        )
    if state:
        stmt = stmt.where(FeedbackTransfer.state == state)
    rows, total = fetch_page(session, stmt, pg)
    return pg.page([TransferOut.model_validate(r) for r in rows], total)
