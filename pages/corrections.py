"""更正开展情况 and 更正申请 (issue 24): a recorded hold's days, forms and leader corrected with a
reason — by the unit within its correction days, by a supervisor any time; a clerk past the
days sends the same form as a request, which supervisors approve or refuse on 待审批的更正申请."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from models import CorrectionRequest, Event, Unit, User
from pages import eventkit as kit
from pages.attempt import attempt
from pages.auth import FormDep, UserDep
from pages.render import FieldError, PageRoute, redirect, render
from web.deps import ClockDep, SessionDep
from workflows.event import corrections, held, record_corrections
from workflows.kernel.clock import local_date
from workflows.oversight import correction_requests as requests

router = APIRouter(route_class=PageRoute, include_in_schema=False)

FIELDS = {
    "correction_reason_missing": "reason",
    "correction_no_change": "held_on",
    "held_until_before_held_on": "held_until",
    "held_until_in_future": "held_until",
    "forms_held_missing": "forms_held",
    "leader_absent": "met_by",
    "correction_payload_invalid": "held_on",
    "correction_request_pending": "reason",
    "name": "met_by",
    "post": "met_by",
}


def _two(values: list[str]) -> list[str]:
    return (values + ["", ""])[:2]


def _answers(form: Any) -> dict[str, Any]:
    """The form as posted (text fields as typed, for a re-render)."""
    names = [str(v).strip()[:50] for v in form.getlist("met_name")][:2]
    posts = [str(v).strip()[:20] for v in form.getlist("met_post")][:2]
    return {
        "held_on": kit.text(form, "held_on")[:10],
        "held_until": kit.text(form, "held_until")[:10],
        "forms": [str(v)[:20] for v in form.getlist("forms_held")][:4],
        "met": list(
            zip(names + [""] * (2 - len(names)), posts + [""] * (2 - len(posts)), strict=True)
        ),
        "reason": kit.text(form, "reason")[:2000],
    }


def _recorded(event: Event) -> dict[str, Any]:
    met = [(p["name"], p["post"]) for p in event.met_by or []][:2]
    return {
        "held_on": event.held_on.isoformat() if event.held_on else "",
        "held_until": (event.held_until or event.held_on).isoformat() if event.held_on else "",
        "forms": list(event.forms_held or []),
        "met": met + [("", "")] * (2 - len(met)),
        "reason": "",
    }


def payload_of(answers: dict[str, Any]) -> dict[str, Any]:
    """The hold correction's payload: every part of the record as the form has it."""
    return {
        "held_on": answers["held_on"] or None,
        "held_until": answers["held_until"] or answers["held_on"] or None,
        "forms_held": answers["forms"],
        "met_by": [{"name": n, "post": p} for n, p in answers["met"] if n or p],
    }


def record_page(
    request: Request,
    session: Session,
    ev: kit.EventView,
    today: date,
    errors: list[FieldError] | None = None,
    answers: dict[str, Any] | None = None,
) -> HTMLResponse:
    """The hold record as a form to correct (or to ask to correct), with the reason asked."""
    actor = request.state.page_user.actor
    return render(
        request,
        "hold_record.html",
        ev=ev,
        errors=errors or [],
        answers=answers or _recorded(ev.event),
        record=held.summary_of_event(ev.event),
        forms=held.FORM_LABELS_ZH,
        posts=held.POST_LABELS_ZH,
        today=today,
        correction=corrections.window(session, ev.event, today),
        supervisor=actor.is_supervisor,
        asks=not actor.is_supervisor and not corrections.window(session, ev.event, today).unit_may,
        requests=requests.of_event(session, ev.event),
    )


@router.get("/events/{event_id}/hold-record")
def record_get(
    request: Request, event_id: int, user: UserDep, session: SessionDep, clock: ClockDep
) -> HTMLResponse:
    """更正开展情况: the days, forms and leader of a recorded hold."""
    ev = kit.view(session, user, event_id)
    return record_page(request, session, ev, local_date(clock.now()))


@router.post("/events/{event_id}/hold-record")
def record_post(
    request: Request,
    event_id: int,
    form: FormDep,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    """Correct directly, or (a clerk past the unit's days) send the correction as a request."""
    ev = kit.view(session, user, event_id, write=True)
    answers, now = _answers(form), clock.now()
    late_clerk = (
        not user.actor.is_supervisor
        and not corrections.window(session, ev.event, local_date(now)).unit_may
    )
    with attempt(session, FIELDS) as tried:
        if late_clerk:
            requests.submit(session, ev.event, "hold", payload_of(answers), answers["reason"],
                            actor=user.actor, now=now)  # fmt: skip
        else:
            fix = requests.check_payload("hold", payload_of(answers))
            assert isinstance(fix, record_corrections.HoldFix)
            record_corrections.correct_hold(
                session, ev.event, fix, answers["reason"], expected_version=kit.version_of(form),
                actor=user.actor, now=now,
            )  # fmt: skip
    if tried.errors:
        ev = kit.view(session, user, event_id)
        return record_page(request, session, ev, local_date(now), tried.errors, answers)
    if late_clerk:
        return redirect(f"/events/{event_id}/hold", f"已提交更正申请，等待{ev.office_zh}审批")
    return redirect(f"/events/{event_id}/hold", "已更正开展情况，更正记入历史记录")


# ---- 待审批的更正申请 ----------------------------------------------------------------------


def _rows(session: Session, found: list[CorrectionRequest]) -> list[dict[str, Any]]:
    rows = []
    for r in found:
        event = session.get(Event, r.event_id)
        unit = session.get(Unit, r.unit_id)
        asker = session.get(User, r.requested_by) if r.requested_by else None
        rows.append({
            "request": r,
            "kind": requests.KINDS_ZH.get(r.kind, r.kind),
            "theme": event.theme if event else "",
            "unit": unit.name if unit else "",
            "asker": (asker.display_name or asker.username) if asker else "",
            "change": requests.change_zh(r),
        })  # fmt: skip
    return rows


def list_page(
    request: Request, session: Session, errors: list[FieldError] | None = None
) -> HTMLResponse:
    """Pending requests, oldest first, each with approve / refuse."""
    actor = request.state.page_user.actor
    return render(
        request,
        "correction_requests.html",
        rows=_rows(session, requests.pending(session, actor)),
        supervisor=actor.is_supervisor,
        errors=errors or [],
    )


@router.get("/corrections")
def list_get(request: Request, user: UserDep, session: SessionDep) -> HTMLResponse:
    """待审批的更正申请."""
    return list_page(request, session)


@router.post("/corrections/{request_id}")
def decide_post(
    request: Request,
    request_id: int,
    form: FormDep,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    """Approve (applied as the supervisor's correction) or refuse with a reason."""
    approve = form.get("action") == "approve"
    with attempt(session, {"decision_note_missing": f"note-{request_id}"}) as tried:
        requests.decide(session, user.actor, request_id, approve=approve,
                        note=kit.text(form, "note")[:2000], now=clock.now())  # fmt: skip
    if tried.errors:
        return list_page(request, session, tried.errors)
    return redirect("/corrections", "已批准，更正已生效" if approve else "已不予批准")


# ---- 更正受邀名单 (after the hold) --------------------------------------------------------


def invitees_payload(form: Any, people: list[Any]) -> dict[str, Any]:
    """The list's corrections as the form has them: names and kinds changed, rows ticked to
    take off, and one person added (a name given)."""
    change, remove = [], []
    for p in people:
        name = kit.text(form, f"name-{p.id}")[:50] or p.name
        category = kit.text(form, f"category-{p.id}")[:20] or p.category
        if form.get(f"remove-{p.id}"):
            remove.append(p.id)
        elif name != p.name or category != p.category:
            change.append({"id": p.id, "name": name, "category": category})
    out: dict[str, Any] = {"change": change, "remove": remove, "add": []}
    new_name = kit.text(form, "new_name")[:50]
    if new_name:
        out["add"].append({"name": new_name, "category": kit.text(form, "new_category")[:20],
                           "attended": bool(form.get("new_attended"))})  # fmt: skip
    return out


def invitees_page(
    request: Request,
    session: Session,
    ev: kit.EventView,
    today: date,
    errors: list[FieldError] | None = None,
    reason: str = "",
) -> HTMLResponse:
    """The held event's list as a form: names, kinds, take off, add one, the reason."""
    actor = request.state.page_user.actor
    window = corrections.window(session, ev.event, today)
    return render(
        request,
        "invitee_correction.html",
        ev=ev,
        people=[p for p in kit.invitee_list(session, ev.event.id or 0) if p.invited],
        categories=kit.CATEGORY_LABELS,
        errors=errors or [],
        reason=reason,
        correction=window,
        asks=not actor.is_supervisor and not window.unit_may,
    )


@router.get("/events/{event_id}/invitee-correction")
def invitees_get(
    request: Request, event_id: int, user: UserDep, session: SessionDep, clock: ClockDep
) -> HTMLResponse:
    """更正受邀名单 after the hold."""
    ev = kit.view(session, user, event_id)
    return invitees_page(request, session, ev, local_date(clock.now()))


@router.post("/events/{event_id}/invitee-correction")
def invitees_post(
    request: Request,
    event_id: int,
    form: FormDep,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    """Correct the list directly, or (a clerk past the unit's days) ask."""
    ev = kit.view(session, user, event_id, write=True)
    now, reason = clock.now(), kit.text(form, "reason")[:2000]
    payload = invitees_payload(form, [p for p in kit.invitee_list(session, event_id) if p.invited])
    late = (
        not user.actor.is_supervisor
        and not corrections.window(session, ev.event, local_date(now)).unit_may
    )
    with attempt(session, {**FIELDS, "correction_payload_invalid": "people"}) as tried:
        if late:
            requests.submit(session, ev.event, "invitees", payload, reason, actor=user.actor,
                            now=now)  # fmt: skip
        else:
            fix = requests.check_payload("invitees", payload)
            assert isinstance(fix, record_corrections.InviteesFix)
            record_corrections.correct_invitees(
                session, ev.event, fix, reason, expected_version=kit.version_of(form),
                actor=user.actor, now=now,
            )  # fmt: skip
    if tried.errors:
        ev = kit.view(session, user, event_id)
        return invitees_page(request, session, ev, local_date(now), tried.errors, reason)
    done = f"已提交更正申请，等待{ev.office_zh}审批" if late else "已更正受邀名单，更正记入历史记录"
    return redirect(f"/events/{event_id}/hold", done)
