"""An opinion's sign-for (签收) and transfer (转办) steps in plain Chinese words, from their
audit lines (workflows/feedback/transfer.py writes them): for the staff page, and for the public
tracking page with unit names only. Apart from the moves, so the tracking page reads them
without importing the feedback machine."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, col, select

from models import FeedbackItem, TransitionLog
from workflows.accounts import districts
from workflows.accounts.districts import SOLE_OFFICE
from workflows.kernel.daywords import day_zh

SIGN = "feedback.sign"
TRANSFER = "feedback.transfer"
SEND_BACK = "feedback.transfer_back"
DECIDE = "feedback.transfer_decide"
TRIGGERS = (SIGN, TRANSFER, SEND_BACK, DECIDE)


@dataclass(frozen=True)
class Step:
    """One step of an opinion's handling, in plain Chinese words."""

    at: datetime
    text: str


def steps(session: Session, item: FeedbackItem, *, public: bool = False) -> list[Step]:
    """The opinion's sign-for and transfer steps in order. `public`: unit names only, never a
    person's name or a reason (the tracking page). Read through the event's index."""
    lines = session.exec(
        select(TransitionLog)
        .where(
            TransitionLog.event_id == item.event_id,
            TransitionLog.feedback_item_id == item.id,
            col(TransitionLog.trigger).in_(TRIGGERS),
        )
        .order_by(col(TransitionLog.at), col(TransitionLog.id))
    ).all()
    office = districts.unit_office_words(session, item.unit_id)  # a transfer stays in it
    return [Step(t.at, words(t, public=public, office=office)) for t in lines]


def words(line: TransitionLog, *, public: bool = False, office: str = SOLE_OFFICE) -> str:
    """One audit line in plain words; `office` the district office that decides a return."""
    d = line.data or {}
    why = "" if public or not line.reason else f"，理由：{line.reason}"
    who = "" if public else f"（{line.actor_name}）"
    if line.trigger == SIGN:
        late = "（超过签收期限）" if d.get("late") else ""
        return f"{d.get('unit', '')}签收{late}{who}"
    if line.trigger == TRANSFER:
        due = d.get("sign_due_on")
        when = f"，请于 {day_zh(date.fromisoformat(due))}前签收" if due and due != "None" else ""
        return f"{d.get('from_unit', '')}转办至{d.get('to_unit', '')}{why}{when}{who}"
    if line.trigger == SEND_BACK:
        wait = f"，等待{office}裁定"
        return f"{d.get('to_unit', '')}退回{d.get('from_unit', '')}{why}{wait}{who}"
    extended = ""
    if d.get("new_due_on"):
        extended = f"，答复期限延至 {day_zh(date.fromisoformat(d['new_due_on']))}"
    note = "" if public or not line.reason else f"，裁定意见：{line.reason}"
    return f"{office}裁定由{d.get('unit', '')}办理{extended}{note}{who}"
