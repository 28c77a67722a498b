"""签收 and 转办 pages: one opinion's own page (its steps in plain words, and the forms to sign
for it, transfer it, send a transfer back or decide a dispute) and the list of what waits for
the signed-in person: opinions their unit must sign for, transfers sent back for a decision."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, col, select

from models import Event, FeedbackItem, FeedbackTransfer, TransferState, Unit
from pages.attempt import attempt
from pages.auth import FormDep, UserDep
from pages.eventkit import text
from pages.render import FieldError, PageRoute, labelled, redirect, render
from web.deps import ClockDep, SessionDep
from web.loaders import load_item
from workflows.accounts import districts
from workflows.feedback import machine as feedback_flow
from workflows.feedback import transfer as flow
from workflows.feedback.lamps import Lamps
from workflows.kernel.clock import local_date
from workflows.kernel.errors import DomainError
from workflows.kernel.visibility import (
    Actor,
    is_own_unit,
    scope,
    sees_unit,
    unit_clause,
    visible,
    within,
)

router = APIRouter(route_class=PageRoute, include_in_schema=False)

FIELDS = {
    "transfer_same_unit": "to_unit_id",
    "transfer_unit_unknown": "to_unit_id",
    "transfer_reason_missing": "reason",
    "transfer_reason_too_long": "reason",
    "transfer_due_invalid": "new_due_on",
}


def _version(form: Any) -> int | None:
    raw = text(form, "item_version")
    return int(raw) if raw.isdigit() else None


def item_page(
    request: Request,
    session: Session,
    actor: Actor,
    item: FeedbackItem,
    errors: list[FieldError] | None = None,
    kept: dict[str, str] | None = None,
) -> HTMLResponse:
    """The opinion, who holds it, its days, its steps, and the forms the caller may use."""
    assert item.id is not None
    event = session.get(Event, item.event_id)
    held_by = session.get(Unit, item.unit_id)  # a transfer stays in its district
    same = select(Unit).where(Unit.district_id == (held_by.district_id if held_by else None))
    units = {u.id: u.name for u in session.exec(same.order_by(col(Unit.name))).all()}
    pending = flow.open_transfer(session, item.id)
    is_open = item.state in ("received", "assigned", "overdue")
    holder = is_own_unit(actor, item.unit_id)
    return render(
        request,
        "feedback_item.html",
        item=item,
        event=event,
        units=units,
        state_label=feedback_flow.STATE_LABELS_ZH.get(item.state, item.state),
        steps=flow.steps(session, item),
        history=flow.history(session, item.id),
        pending=pending,
        can_sign=is_open and holder and item.signed_at is None
        and (pending is None or pending.state == TransferState.pending),
        can_transfer=is_open and pending is None and actor.can_write
        and (holder or actor.is_supervisor),
        can_send_back=is_open and pending is not None
        and pending.state == TransferState.pending and is_own_unit(actor, pending.to_unit_id),
        can_decide=is_open and pending is not None
        and pending.state == TransferState.returned and actor.is_supervisor,
        sees_event=event is not None and sees_unit(actor, event.unit_id),
        office_zh=districts.unit_office_words(session, item.unit_id),
        errors=errors or [],
        kept=kept or {},
    )  # fmt: skip


@router.get("/feedback/{item_id}")
def item_get(request: Request, item_id: int, user: UserDep, session: SessionDep) -> HTMLResponse:
    """One opinion's page."""
    return item_page(request, session, user.actor, load_item(session, user.actor, item_id))


def _done(
    request: Request, session: Session, user: Any, item_id: int, tried: Any, kept: dict[str, str]
) -> Response | None:
    """The page again with a refused form's errors (and what it typed), else None."""
    if not tried.errors:
        return None
    item = load_item(session, user.actor, item_id)
    return item_page(request, session, user.actor, item, tried.errors, kept)


@router.post("/feedback/{item_id}/sign")
def sign_post(
    request: Request, item_id: int, form: FormDep, user: UserDep, session: SessionDep,
    clock: ClockDep,
) -> Response:  # fmt: skip
    """签收."""
    with attempt(session, FIELDS) as tried:
        item = load_item(session, user.actor, item_id, lock=True)
        entry = flow.sign(
            session, item, actor=user.actor, now=clock.now(), expected_version=_version(form)
        )
        tried.moved(entry)
    again = _done(request, session, user, item_id, tried, {})
    return again or redirect(f"/feedback/{item_id}", "已签收")


@router.post("/feedback/{item_id}/transfer")
def transfer_post(
    request: Request, item_id: int, form: FormDep, user: UserDep, session: SessionDep,
    clock: ClockDep,
) -> Response:  # fmt: skip
    """转办 to the unit chosen, with the reason."""
    to = text(form, "to_unit_id")
    reason = text(form, "reason")[:2000]
    with attempt(session, FIELDS) as tried:
        if not to.isdigit():
            raise DomainError(
                "transfer_unit_unknown", "请选择转办单位", "choose the unit", status=422
            )
        item = load_item(session, user.actor, item_id, lock=True)
        flow.transfer(
            session, item, to_unit_id=int(to), reason=reason, actor=user.actor,
            now=clock.now(), expected_version=_version(form),
        )  # fmt: skip
    again = _done(request, session, user, item_id, tried, {"reason": reason, "to_unit_id": to})
    if again:
        return again
    # The unit that sent it may no longer see it (an opinion of another unit's event).
    moved = session.get(FeedbackItem, item_id)
    event = session.get(Event, moved.event_id) if moved else None
    if event is not None and sees_unit(user.actor, event.unit_id):
        return redirect(f"/feedback/{item_id}", "已转办，等待接收单位签收")
    return redirect("/transfers", "已转办，等待接收单位签收")


@router.post("/feedback/{item_id}/send-back")
def send_back_post(
    request: Request, item_id: int, form: FormDep, user: UserDep, session: SessionDep,
    clock: ClockDep,
) -> Response:  # fmt: skip
    """退回 a transfer, with the reason."""
    reason = text(form, "reason")[:2000]
    with attempt(session, FIELDS) as tried:
        item = load_item(session, user.actor, item_id, lock=True)
        flow.send_back(session, item, reason=reason, actor=user.actor, now=clock.now())
    again = _done(request, session, user, item_id, tried, {"reason": reason})
    office = districts.unit_office_words(session, item.unit_id)
    return again or redirect("/transfers", f"已退回，等待{office}裁定")


@router.post("/feedback/{item_id}/decide")
def decide_post(
    request: Request, item_id: int, form: FormDep, user: UserDep, session: SessionDep,
    clock: ClockDep,
) -> Response:  # fmt: skip
    """A supervisor's decision of a dispute."""
    outcome = text(form, "outcome")
    note = text(form, "note")[:1000] or None
    due_raw = text(form, "new_due_on")[:20]
    kept = {"note": note or "", "new_due_on": due_raw}
    with attempt(session, FIELDS) as tried:
        if outcome not in ("receiver", "sender"):
            raise DomainError("transfer_outcome_missing", "请选择由哪个单位办理", "", status=422)
        try:
            due = date.fromisoformat(due_raw) if due_raw else None
        except ValueError:
            raise DomainError(
                "transfer_due_invalid", "新的答复期限格式应为 年-月-日", "", status=422
            ) from None
        user.actor.require_supervisor()
        item = load_item(session, user.actor, item_id, lock=True)
        decision = flow.Decision(outcome=outcome, note=note, new_due_on=due)  # type: ignore[arg-type]
        flow.decide(session, item, decision, actor=user.actor, now=clock.now())
    again = _done(request, session, user, item_id, tried, kept)
    return again or redirect(f"/feedback/{item_id}", "已裁定")


@router.get("/transfers")
def transfers_page(
    request: Request, user: UserDep, session: SessionDep, clock: ClockDep
) -> HTMLResponse:
    """What waits: opinions the unit must sign for, transfers waiting, disputes to decide."""
    actor = user.actor
    unit_id = scope(actor, None)
    to_sign = select(FeedbackItem, Event.theme, Event.campaign_id).join(
        Event, col(Event.id) == FeedbackItem.event_id
    )
    to_sign = to_sign.where(
        col(FeedbackItem.signed_at).is_(None),
        col(FeedbackItem.state).in_(("received", "assigned", "overdue")),
        col(FeedbackItem.sign_due_on).is_not(None),
    )
    to_sign = within(to_sign, FeedbackItem.unit_id, unit_id)
    waiting = session.exec(to_sign.order_by(col(FeedbackItem.sign_due_on)).limit(200)).all()
    moving = select(FeedbackTransfer).where(
        col(FeedbackTransfer.state).in_((TransferState.pending, TransferState.returned))
    )
    if unit_id is not None:
        moving = moving.where(
            sa.or_(
                unit_clause(col(FeedbackTransfer.from_unit_id), unit_id),
                unit_clause(col(FeedbackTransfer.to_unit_id), unit_id),
            )
        )
    transfers = session.exec(moving.order_by(col(FeedbackTransfer.id).desc()).limit(200)).all()
    names = districts.names_for(session, actor.district_id)
    units = {
        u.id: labelled(u, names) for u in session.exec(visible(select(Unit), actor, Unit.id)).all()
    }
    office = districts.office_words(session, actor.district_id)
    return render(
        request,
        "transfers.html",
        waiting=waiting,
        transfers=transfers,
        units=units,
        today=local_date(clock.now()),
        state_zh={**STATE_ZH, TransferState.returned: f"已退回，待{office}裁定"},
        lamps=Lamps(session, local_date(clock.now())),
    )


STATE_ZH = {
    TransferState.pending: "待接收单位签收",
    TransferState.accepted: "已签收",
    TransferState.returned: "已退回，待区政府办裁定",
    TransferState.upheld: "裁定由接收单位办理",
    TransferState.overruled: "裁定退回原单位办理",
}
