"""活动详情: the event as a task list of its stages, its history, and the invitee stage.

Each stage has its own page with one form (stage_pages.py holds the later stages). Moves go
through workflows.event.machine.fire; a refusal re-renders the page with an error summary in
the API's own words.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, col, select

from models import (
    EventState,
    FeedbackItem,
    FeedbackState,
    InviteeCategory,
    SpotCheck,
    Summary,
)
from pages import eventkit as kit
from pages import public_staff
from pages.attempt import attempt
from pages.auth import FormDep, UserDep
from pages.progress import STAGE_LABELS, Stage, due_of, stage_status
from pages.render import FieldError, PageRoute, redirect, render
from schemas.invitees import InviteeIn
from web import forms
from web.deps import ClockDep, SessionDep
from workflows.event import cancellation, history, invitations, invitees
from workflows.filing import overview as filing_overview
from workflows.kernel.clock import local_date
from workflows.kernel.daywords import day_zh, moment_zh
from workflows.oversight import correction_requests
from workflows.oversight import rectification as rectify
from workflows.workdays.deadlines import load_calendar

router = APIRouter(route_class=PageRoute, include_in_schema=False)

STAGES = [
    (1, "邀请人员", "invitees"),
    (2, "开展活动", "hold"),
    (3, "收集意见建议", "feedback"),
    (4, "报送总结", "summary"),
    (5, "{office}抽查", "spot-check"),  # the event's district office
]
SPOT_RESULTS = {"satisfactory": "合格", "needs_improvement": "需整改", "unsatisfactory": "不合格"}


def _details(session: Session, ev: kit.EventView, today: Any) -> dict[str, str]:
    """One line per stage saying where it stands."""
    event, out = ev.event, {}
    q = kit.list_quota(session, ev)
    out["invitees"] = (
        f"{q.count_zh}，{q.share_zh}" if q.total else f"还没有添加人员（应为 {q.low}–{q.high} 人）"
    )
    if event.held_on:
        came = kit.attendees(session, event.id or 0)
        out["hold"] = f"{day_zh(event.held_on)}开展，出席 {came} 人"
    elif event.state in ("planned", "invited"):
        out["hold"] = f"应于{day_zh(event.date_latest)}前开展"
    items = session.exec(select(FeedbackItem).where(FeedbackItem.event_id == event.id)).all()
    if items:
        done = [i for i in items if i.state in (FeedbackState.answered, FeedbackState.closed)]
        open_due = sorted(i.due_on for i in items if i not in done and i.due_on)
        line = f"{len(items)} 条，{len(done)} 条已答复"
        if open_due:
            first = day_zh(open_due[0])
            line += f"，{len(items) - len(done)} 条 {first}前答复"
        out["feedback"] = line
    summary = session.exec(select(Summary).where(Summary.event_id == event.id)).first()
    if summary and summary.submitted_at:
        out["summary"] = f"已于{moment_zh(summary.submitted_at)}报送"
    elif event.summary_due_on:
        out["summary"] = due_of("", event.summary_due_on, today, load_calendar(session)).words
    check = session.exec(
        select(SpotCheck).where(SpotCheck.event_id == event.id).order_by(col(SpotCheck.id).desc())
    ).first()
    if check:
        out["spot-check"] = f"抽查结果：{SPOT_RESULTS.get(check.result, check.result)}"
        open_rect = [r for r in rectify.of_event(session, event.id or 0).values()
                     if r.state != rectify.S.closed]  # fmt: skip
        if open_rect:
            r = open_rect[0]
            out["spot-check"] += f"；整改通知{rectify.STATES_ZH[rectify.S(r.state)]}" + (
                f"，应于{day_zh(r.due_on)}前报送整改情况" if r.state == rectify.S.issued else ""
            )
    return out


@router.get("/events/{event_id}")
def event_page(
    request: Request, event_id: int, user: UserDep, session: SessionDep, clock: ClockDep
) -> HTMLResponse:
    """The task list of an event's stages."""
    ev = kit.view(session, user, event_id)
    details = _details(session, ev, local_date(clock.now()))
    returned = history.returned(session, [ev.event]).get(event_id)
    if returned is not None:
        details["summary"] = f"{ev.office_zh}已退回整改，{details.get('summary', '')}"
    stages = [
        Stage(
            n,
            title.format(office=ev.office_zh),
            slug,
            stage_status(ev.event.state, n),
            details.get(slug, ""),
            has_record=slug == "spot-check" and slug in details,
        )
        for n, title, slug in STAGES
    ]
    return render(
        request,
        "event.html",
        ev=ev,
        stages=stages,
        stage_label="退回整改" if returned else STAGE_LABELS[EventState(ev.event.state)],
        public=public_staff.links(session, ev.event),
        returned=returned,
        cancel=cancellation.latest_of(session, event_id),
        cancel_open=ev.event.state in cancellation.OPEN_STATES,
        filings=filing_overview.of_event(session, ev.event, ev.office_zh),
        correction_requests=correction_requests.of_event(session, ev.event),
    )


@router.get("/events/{event_id}/history")
def history_page(
    request: Request, event_id: int, user: UserDep, session: SessionDep
) -> HTMLResponse:
    """Every move and edit of the event as a sentence: who did what, when."""
    ev = kit.view(session, user, event_id)
    return render(request, "history.html", ev=ev, lines=history.of_event(session, event_id))


# ---- 1 邀请人员: add to a list, check your answers, invite ---------------------------------


def invitees_page(
    request: Request,
    session: Session,
    ev: kit.EventView,
    errors: list[FieldError] | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    """The add-to-a-list page with its live meter; once invitations are out, each person's way
    of invitation, answer and check-in (issue 27)."""
    people = kit.invitee_list(session, ev.event.id or 0)
    ways = invitations.ways(session, people)
    return render(
        request,
        "invitees.html",
        ev=ev,
        people=people,
        sent=ev.event.state != EventState.planned,
        ways={k: invitations.ways_zh(v) for k, v in ways.items()},
        answers=invitations.ANSWERS_ZH,
        vias=invitations.VIA_ZH,
        short=_share_after_answers(people, ev),
        answered={
            "yes": sum(p.answer == "yes" for p in people),
            "no": sum(p.answer == "no" for p in people),
            "none": sum(p.answer is None for p in people),
        },
        quota=kit.list_quota(session, ev),
        editable=ev.event.state in invitees.EDITABLE,
        errors=errors or [],
        values=values or {},
        categories=kit.CATEGORY_LABELS,
        invitations=kit.INVITATION_LABELS,
        targeted=kit.TARGETED_LABELS,
    )


def _share_after_answers(people: list[Any], ev: kit.EventView) -> dict[str, int] | None:
    """The citizens' share among those who did not say 不参加, when it falls below the rule
    (shown to the clerk so a replacement is found before the day)."""
    coming = [p for p in people if p.invited and p.answer != "no"]
    citizens = sum(p.category == InviteeCategory.citizen for p in coming)
    needed = ev.rules.citizens_needed(len(coming))
    return (
        {"coming": len(coming), "citizens": citizens, "needed": needed}
        if citizens < needed
        else None
    )


@router.get("/events/{event_id}/invitees")
def invitees_get(
    request: Request, event_id: int, user: UserDep, session: SessionDep
) -> HTMLResponse:
    """Who is invited, and the form to add one more."""
    return invitees_page(request, session, kit.view(session, user, event_id))


def _person(form: Any) -> dict[str, Any]:
    category = kit.text(form, "category")
    person: dict[str, Any] = {
        "name": kit.text(form, "name"),
        "category": category,
        "organization": kit.text(form, "organization") or None,
        "phone": kit.text(form, "phone") or None,
        "email": kit.text(form, "email") or None,
        "invitation": None,
        "targeted_kind": None,
    }
    if category == InviteeCategory.citizen:
        person["invitation"] = kit.text(form, "invitation") or None
        if person["invitation"] == "targeted":
            person["targeted_kind"] = kit.text(form, "targeted_kind") or None
    return person


# The Chinese names of InviteeIn's fields, and what to say when one is left empty.
PERSON = {
    "name": "姓名",
    "category": "人员类别",
    "invitation": "邀请方式",
    "targeted_kind": "定向邀请对象",
    "organization": "工作单位或社区",
    "phone": "联系电话",
    "email": "电子邮箱",
}
PERSON_MISSING = {
    "name": "请填写姓名",
    "category": "请选择人员类别：人大代表、政协委员或市民代表",
}


@router.post("/events/{event_id}/invitees")
def invitees_add(
    request: Request,
    event_id: int,
    form: FormDep,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    """Add one person to the list."""
    ev = kit.view(session, user, event_id, write=True)
    person = _person(form)
    with attempt(session) as tried:
        checked = forms.parse(InviteeIn, person, labels=PERSON, missing=PERSON_MISSING)
        invitees.add(
            session,
            ev.event,
            [checked.model_dump()],
            expected_version=kit.version_of(form),
            actor=user.actor,
            now=clock.now(),
        )
    if tried.errors:
        ev = kit.view(session, user, event_id)
        values = {k: v or "" for k, v in person.items()}
        return invitees_page(request, session, ev, tried.errors, values)
    return redirect(f"/events/{event_id}/invitees#add", f"已添加：{person['name']}")


@router.post("/events/{event_id}/invitees/{invitee_id}/delete")
def invitees_delete(
    request: Request,
    event_id: int,
    invitee_id: int,
    form: FormDep,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    """Take one person off the list."""
    ev = kit.view(session, user, event_id, write=True)
    with attempt(session) as tried:
        invitees.remove(
            session,
            ev.event,
            invitee_id,
            expected_version=kit.version_of(form),
            actor=user.actor,
            now=clock.now(),
        )
    if tried.errors:
        ev = kit.view(session, user, event_id)
        return invitees_page(request, session, ev, tried.errors)
    return redirect(f"/events/{event_id}/invitees", "已从名单中移除")


def invite_check_page(
    request: Request, session: Session, ev: kit.EventView, errors: list[FieldError] | None = None
) -> HTMLResponse:
    """Check your answers before the invitations go out."""
    return render(
        request,
        "invite_check.html",
        ev=ev,
        people=kit.invitee_list(session, ev.event.id or 0),
        quota=kit.list_quota(session, ev),
        errors=errors or [],
        categories=kit.CATEGORY_LABELS,
        invitations=kit.INVITATION_LABELS,
        targeted=kit.TARGETED_LABELS,
    )


@router.get("/events/{event_id}/invite")
def invite_get(request: Request, event_id: int, user: UserDep, session: SessionDep) -> HTMLResponse:
    """Everyone on the list and the rules, before 发出邀请."""
    return invite_check_page(request, session, kit.view(session, user, event_id))


@router.post("/events/{event_id}/invite")
def invite_post(
    request: Request,
    event_id: int,
    form: FormDep,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    """Fire the invite move."""
    ev = kit.view(session, user, event_id, write=True)
    with attempt(session) as tried:
        tried.moved(kit.fire(session, ev, "invite", form, user, clock.now()))
    if tried.errors:
        return invite_check_page(request, session, kit.view(session, user, event_id), tried.errors)
    return redirect(f"/events/{event_id}", "邀请已发出")
