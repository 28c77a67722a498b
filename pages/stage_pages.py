"""Stages 2–4 of an event: hold (attendance, day held), opinions, summary with photos."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from sqlmodel import Session, col, select
from starlette.datastructures import UploadFile

from models import Campaign, FeedbackItem, InviteeCategory, User
from pages import eventkit as kit
from pages.attempt import attempt
from pages.auth import FormDep, UserDep
from pages.progress import due_of
from pages.render import FieldError, PageRoute, redirect, render
from schemas.extensions import ExtensionIn
from schemas.feedback import FeedbackIn
from web import forms
from web.deps import ClockDep, SessionDep, SettingsDep
from workflows.accounts import districts
from workflows.campaign.rules import CampaignRules
from workflows.event import checkin, corrections, held, history
from workflows.event import machine as event_machine
from workflows.event import summary as summaries
from workflows.event.data import HoldData
from workflows.event.service import require_version
from workflows.feedback import corrections as answer_corrections
from workflows.feedback import extensions, replies, satisfaction
from workflows.feedback import machine as feedback_flow
from workflows.feedback.lamps import Lamps
from workflows.files import filetypes
from workflows.files.store import FileStore
from workflows.kernel.clock import local_date
from workflows.kernel.errors import DomainError, NotFound
from workflows.oversight import correction_requests
from workflows.workdays.deadlines import load_calendar

router = APIRouter(route_class=PageRoute, include_in_schema=False)
# The summary's picker: photos (camera or gallery) and the document types a summary accepts.
ATTACHMENT_ACCEPT = ",".join(
    ["image/*", *sorted(filetypes.DOCUMENT_TYPES)]
    + [".pdf", ".doc", ".docx", ".xls", ".xlsx", ".ppt", ".pptx"]
)
# The Chinese names of the API models' fields, for the error summary.
OPINION = {
    "content": "意见建议内容",
    "raised_by_invitee_id": "提出人",
    "received_on": "收到意见日期",
}
EXTENSION = {"reason": "延期理由", "requested_due_on": "希望延至"}
CORRECTION = {"answer": "答复内容", "answered_on": "答复日期", "reason": "更正理由"}


# ---- 2 开展活动 -------------------------------------------------------------------------------


@dataclass(frozen=True)
class HoldAnswers:
    """What the clerk put on the hold page: the first and last day held, the forms held, who
    met the visitors (name, post; up to two rows) and who attended (invitee ids)."""

    held_on: str
    attended: frozenset[int]
    held_until: str = ""
    forms: tuple[str, ...] = ()
    met_names: tuple[str, ...] = ("", "")
    met_posts: tuple[str, ...] = ("", "")

    @classmethod
    def of(cls, form: Any) -> HoldAnswers:
        """The answers as posted (by the hold page, or carried by the check page)."""
        ids = {int(v) for v in form.getlist("attended") if str(v).isdigit()}
        names = [str(v).strip()[:50] for v in form.getlist("met_name")][:2]
        posts = [str(v).strip()[:20] for v in form.getlist("met_post")][:2]
        return cls(
            kit.text(form, "held_on"),
            frozenset(ids),
            kit.text(form, "held_until"),
            tuple(str(v)[:20] for v in form.getlist("forms_held"))[:4],
            tuple(names + [""] * (2 - len(names))),
            tuple(posts + [""] * (2 - len(posts))),
        )

    @classmethod
    def recorded(cls, people: list[Any], checked: dict[int, bool] | None = None) -> HoldAnswers:
        """Nothing chosen yet: attendance already recorded and check-ins at the door (issue 27:
        `checkin.prefill`) are ticked; the clerk may still change any box."""
        ticked = {p.id for p in people if p.attended is True}
        return cls("", frozenset(ticked | {i for i, came in (checked or {}).items() if came}))

    def day(self) -> date:
        """The day held, or a refusal naming the field."""
        try:
            return date.fromisoformat(self.held_on)
        except ValueError:
            raise DomainError(
                "held_on_missing", "请填写实际开展日期", "give the day held", status=422
            ) from None

    def last_day(self) -> date:
        """The last day held: as given, else the first."""
        if not self.held_until:
            return self.day()
        try:
            return date.fromisoformat(self.held_until)
        except ValueError:
            raise DomainError(
                "held_until_invalid",
                "最后开展日期格式不正确",
                "the last day held is not a date",
                status=422,
            ) from None

    def met_by(self) -> list[dict[str, str]]:
        """The rows filled in (a name or a post given)."""
        rows = zip(self.met_names, self.met_posts, strict=True)
        return [{"name": n, "post": p} for n, p in rows if n or p]

    def data(self) -> dict[str, Any]:
        """The hold move's data besides attendance."""
        return {
            "held_on": self.day().isoformat(),
            "held_until": self.last_day().isoformat(),
            "forms_held": list(self.forms),
            "met_by": self.met_by(),
        }


HOLD_FIELDS = {
    "held_on_missing": "held_on",
    "held_on_in_future": "held_on",
    "held_until_invalid": "held_until",
    "held_until_before_held_on": "held_until",
    "held_until_in_future": "held_until",
    "forms_held_missing": "forms_held",
    "leader_absent": "met_by",
    "name": "met_by",
    "post": "met_by",
}


def hold_page(
    request: Request,
    session: Session,
    ev: kit.EventView,
    today: date,
    errors: list[FieldError] | None = None,
    answers: HoldAnswers | None = None,
) -> HTMLResponse:
    """The day held and the attendance checklist, nothing pre-filled but check-ins; once held,
    what was recorded with a 更改 link while corrections are open."""
    people = kit.invitee_list(session, ev.event.id or 0)
    checked = checkin.prefill(session, ev.event)
    return render(
        request,
        "hold.html",
        ev=ev,
        people=people,
        categories=kit.CATEGORY_LABELS,
        errors=errors or [],
        today=today,
        answers=answers or HoldAnswers.recorded(people, checked),
        checked_in=bool(checked) or any(p.attended is True for p in people),
        checkins=checked,
        forms=held.FORM_LABELS_ZH,
        posts=held.POST_LABELS_ZH,
        leader_refused=ev.rules.mode_of("leader") == "refuse",
        record=held.summary_of_event(ev.event),
        requests=correction_requests.of_event(session, ev.event),
        correction=corrections.window(session, ev.event, today),
        supervisor=ev_actor(request).is_supervisor,
    )


@router.get("/events/{event_id}/hold")
def hold_get(
    request: Request, event_id: int, user: UserDep, session: SessionDep, clock: ClockDep
) -> HTMLResponse:
    """Who came, and when it was held."""
    return hold_page(request, session, kit.view(session, user, event_id), local_date(clock.now()))


@router.get("/events/{event_id}/hold/check")
def hold_check_get(event_id: int, user: UserDep) -> Response:
    """The check page answers a POST; reloaded or opened at its address, back to the form."""
    return redirect(f"/events/{event_id}/hold")


@router.post("/events/{event_id}/hold/check")
def hold_check(
    request: Request,
    event_id: int,
    form: FormDep,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    """Check your answers before the hold is recorded (or back to the form to change them)."""
    ev = kit.view(session, user, event_id)
    answers, today = HoldAnswers.of(form), local_date(clock.now())
    if form.get("action") == "back":
        return hold_page(request, session, ev, today, answers=answers)
    with attempt(session, HOLD_FIELDS) as tried:
        held_on, held_until = check_hold_answers(answers, today)
    if tried.errors:
        return hold_page(request, session, ev, today, tried.errors, answers)
    people = kit.invitee_list(session, event_id)
    came = [p for p in people if p.id in answers.attended]
    met_by = answers.met_by()
    return render(
        request,
        "hold_check.html",
        ev=ev,
        answers=answers,
        held_days=held.days_zh(held_on, held_until),
        forms=[held.FORM_LABELS_ZH.get(f, f) for f in held.forms_in_order(list(answers.forms))],
        met_by=[(p["name"], held.POST_LABELS_ZH.get(p["post"], p["post"])) for p in met_by],
        leader=any(p["post"] in held.LEADERS for p in met_by),
        leader_refused=ev.rules.mode_of("leader") == "refuse",
        came=came,
        absent=[p for p in people if p.id not in answers.attended],
        citizens=sum(1 for p in came if p.category == InviteeCategory.citizen),
        needed=ev.rules.citizens_needed(len(came)),
        minimum=ev.rules.attendees_min,
        share_refused=ev.rules.mode_of("citizen_share") == "refuse",
        categories=kit.CATEGORY_LABELS,
    )


def check_hold_answers(answers: HoldAnswers, today: date) -> tuple[date, date]:
    """What the check page can tell before the move: the days (given, in order, not in the
    future), the forms (at least one) and the posts (known); else a refusal naming the field."""
    held_on, held_until = answers.day(), answers.last_day()
    if held_on > today:
        raise DomainError(
            "held_on_in_future",
            f"实际开展日期 {held_on.isoformat()} 晚于今天，不能预先登记",
            "the day held is after today",
            status=422,
        )
    HoldData.model_validate({**answers.data(), "attendance": {}})
    if held_until < held_on:
        raise DomainError(
            "held_until_before_held_on",
            "最后开展日期早于开始开展日期",
            "the last day held is before the first",
            status=422,
        )
    if held_until > today:
        raise DomainError(
            "held_until_in_future",
            "最后开展日期晚于今天，不能预先登记",
            "the last day held is after today",
            status=422,
        )
    if not answers.forms:
        raise DomainError(
            "forms_held_missing",
            "实际开展形式：请至少选择一项（参观机关办公场所、现场参观考察、政民恳谈交流、意见反馈）",
            "forms_held: give at least one form held",
            status=422,
        )
    return held_on, held_until


@router.post("/events/{event_id}/hold")
def hold_post(
    request: Request,
    event_id: int,
    form: FormDep,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    """Record attendance (every box ticked or not) and the day held: the hold move."""
    ev = kit.view(session, user, event_id, write=True)
    answers = HoldAnswers.of(form)
    people = kit.invitee_list(session, event_id)
    with attempt(session, HOLD_FIELDS) as tried:
        data: dict[str, Any] = {
            "attendance": {p.id: p.id in answers.attended for p in people},
            **answers.data(),
        }
        tried.moved(kit.fire(session, ev, "hold", form, user, clock.now(), data))
    if tried.errors:
        ev = kit.view(session, user, event_id)
        return hold_page(request, session, ev, local_date(clock.now()), tried.errors, answers)
    return redirect(f"/events/{event_id}", "已记录活动开展情况")


# ---- 2a 更正出席情况 ----------------------------------------------------------------------------


def attendance_page(
    request: Request,
    session: Session,
    ev: kit.EventView,
    today: date,
    errors: list[FieldError] | None = None,
    answers: HoldAnswers | None = None,
    reason: str = "",
) -> HTMLResponse:
    """The recorded attendance as a checklist to correct, with the reason asked for."""
    people = kit.invitee_list(session, ev.event.id or 0)
    return render(
        request,
        "attendance.html",
        ev=ev,
        people=people,
        categories=kit.CATEGORY_LABELS,
        errors=errors or [],
        answers=answers or HoldAnswers.recorded(people),
        reason=reason,
        correction=corrections.window(session, ev.event, today),
        supervisor=ev_actor(request).is_supervisor,
    )


@router.get("/events/{event_id}/attendance")
def attendance_get(
    request: Request, event_id: int, user: UserDep, session: SessionDep, clock: ClockDep
) -> HTMLResponse:
    """Correct who attended (更正出席情况)."""
    ev = kit.view(session, user, event_id)
    return attendance_page(request, session, ev, local_date(clock.now()))


CORRECTION_FIELDS = {
    "correction_reason_missing": "reason",
    "correction_request_pending": "reason",
    "correction_no_change": "attendance",
    "too_few_attendees": "attendance",
    "attendee_citizen_share_too_low": "attendance",
}


@router.post("/events/{event_id}/attendance")
def attendance_post(
    request: Request,
    event_id: int,
    form: FormDep,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    """Record the correction with its reason (an audited edit of the event)."""
    ev = kit.view(session, user, event_id, write=True)
    answers, reason = HoldAnswers.of(form), kit.text(form, "reason")
    people = kit.invitee_list(session, event_id)
    attendance = {p.id: p.id in answers.attended for p in people if p.id is not None}
    late_clerk = (
        not user.actor.is_supervisor
        and not corrections.window(session, ev.event, local_date(clock.now())).unit_may
    )
    with attempt(session, CORRECTION_FIELDS) as tried:
        if late_clerk:  # past the unit's days: the same change, as a request to approve
            correction_requests.submit(
                session, ev.event, "attendance", {"attendance": attendance}, reason,
                actor=user.actor, now=clock.now(),
            )  # fmt: skip
        else:
            corrections.correct_attendance(
                session, ev.event, attendance, reason, expected_version=kit.version_of(form),
                actor=user.actor, now=clock.now(),
            )  # fmt: skip
    if tried.errors:
        ev = kit.view(session, user, event_id)
        today = local_date(clock.now())
        return attendance_page(request, session, ev, today, tried.errors, answers, reason)
    if late_clerk:
        return redirect(f"/events/{event_id}/hold", f"已提交更正申请，等待{ev.office_zh}审批")
    return redirect(f"/events/{event_id}/hold", "已更正出席情况，更正记入历史记录")


# ---- 3 收集意见建议 ---------------------------------------------------------------------------


def feedback_page(
    request: Request,
    session: Session,
    ev: kit.EventView,
    errors: list[FieldError] | None = None,
    today: date | None = None,
    kept: dict[str, str] | None = None,
) -> HTMLResponse:
    """Opinions: add several, assign, answer (with the day given); then state that collection
    is complete; after it, until the summary is submitted, add an opinion received late.
    `kept`: what a refused form had typed, by input id, shown again."""
    items = session.exec(
        select(FeedbackItem)
        .where(FeedbackItem.event_id == ev.event.id)
        .order_by(col(FeedbackItem.id))
    ).all()
    people = {p.id: p.name for p in kit.invitee_list(session, ev.event.id or 0)}
    campaign = session.get(Campaign, ev.event.campaign_id)
    return render(
        request,
        "feedback.html",
        ev=ev,
        items=items,
        people=people,
        answer_days=CampaignRules.of(campaign.rules if campaign else {}).feedback_answer_workdays,
        extension=extensions.pending_for(session, [i.id for i in items if i.id is not None]),
        errors=errors or [],
        labels=feedback_flow.STATE_LABELS_ZH,
        allowed={i.id: feedback_flow.allowed_triggers(i.state, ev_actor(request)) for i in items},
        received={i.id: feedback_flow.received_on(session, i) for i in items},
        backdated={i.id: _backdated(i) for i in items},
        corrections=answer_corrections.windows(session, items, today) if today else {},
        actor=ev_actor(request),
        today=today,
        kept=kept or {},
        requests=[
            r
            for r in correction_requests.of_event(session, ev.event)
            if r.kind == "answer" and r.state != "approved"
        ],
        names=_display_names(session, {i.answered_by for i in items if i.answered_by}),
        rounds=replies.for_items(session, [i.id for i in items if i.id is not None]),
        how_zh=replies.HOW_ZH,
        rating_zh=satisfaction.RATING_ZH,
        appeal_zh=satisfaction.appeal_words(ev.office_zh),
        lamps=Lamps(session, today or local_date(ev.event.updated_at)),
    )


def _display_names(session: Session, usernames: set[str]) -> dict[str, str]:
    """The display names of the accounts that typed answers in (username → name)."""
    if not usernames:
        return {}
    rows = session.exec(
        select(User.username, User.display_name).where(col(User.username).in_(usernames))
    ).all()
    return {username: name for username, name in rows if name}


def _backdated(item: FeedbackItem) -> bool:
    """The answer was typed in after the day it was given (补录)."""
    if item.answered_on is None or item.answered_at is None:
        return False
    return item.answered_on < local_date(item.answered_at)


def ev_actor(request: Request) -> Any:
    """The signed-in actor (set by the page_user dependency)."""
    return request.state.page_user.actor


@router.get("/events/{event_id}/feedback")
def feedback_get(
    request: Request, event_id: int, user: UserDep, session: SessionDep, clock: ClockDep
) -> HTMLResponse:
    """The opinions of an event."""
    today = local_date(clock.now())
    return feedback_page(request, session, kit.view(session, user, event_id), today=today)


@router.post("/events/{event_id}/feedback")
def feedback_add(
    request: Request,
    event_id: int,
    form: FormDep,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    """Record opinions, one per line (after collection: added late, with the day received)."""
    ev = kit.view(session, user, event_id, write=True)
    lines = [line.strip() for line in str(form.get("content", "")).splitlines() if line.strip()]
    raised = kit.text(form, "raised_by")
    received = kit.text(form, "received_on")[:20] or None
    codes = {
        "feedback_content_missing": "content",
        "received_on_before_held": "received_on",
        "received_on_in_future": "received_on",
    }
    with attempt(session, codes) as tried:
        if not lines:
            raise DomainError("feedback_content_missing", "请填写意见建议内容", "", status=422)
        by = int(raised) if raised.isdigit() else None
        opinions = [
            forms.parse(
                FeedbackIn,
                {},
                labels=OPINION,
                content=line,
                raised_by_invitee_id=by,
                received_on=received,
            )
            for line in lines
        ]
        version = kit.version_of(form)
        for opinion in opinions:
            feedback_flow.record(
                session,
                ev.event,
                expected_version=version,
                actor=user.actor,
                content=opinion.content,
                now=clock.now(),
                raised_by_invitee_id=opinion.raised_by_invitee_id,
                received_on=opinion.received_on,
            )
            version = ev.event.version  # a workflow that bumps the version moved it on
    if tried.errors:
        kept = {"content": "\n".join(lines), "received_on": received or ""}
        return _feedback_again(request, session, user, event_id, clock, tried.errors, kept)
    return redirect(f"/events/{event_id}/feedback", f"已登记 {len(lines)} 条意见建议")


def _feedback_again(
    request: Request,
    session: Session,
    user: Any,
    event_id: int,
    clock: Any,
    errors: list[FieldError],
    kept: dict[str, str] | None = None,
) -> HTMLResponse:
    """The opinions page again, with a refused form's errors and what it had typed."""
    ev = kit.view(session, user, event_id)
    return feedback_page(request, session, ev, errors, today=local_date(clock.now()), kept=kept)


@router.post("/events/{event_id}/feedback/collect")
def feedback_collect(
    request: Request,
    event_id: int,
    form: FormDep,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    """Fire collect_feedback (with the explicit no-opinions statement when ticked)."""
    ev = kit.view(session, user, event_id, write=True)
    data = {"no_opinions": form.get("no_opinions") == "yes"}
    with attempt(session) as tried:
        tried.moved(kit.fire(session, ev, "collect_feedback", form, user, clock.now(), data))
    if tried.errors:
        return _feedback_again(request, session, user, event_id, clock, tried.errors)
    return redirect(f"/events/{event_id}", "意见建议收集完毕，答复期限已开始计算")


@router.post("/events/{event_id}/feedback/{item_id}")
def feedback_move(
    request: Request,
    event_id: int,
    item_id: int,
    form: FormDep,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    """Assign or answer one opinion (an answer with the day it was given)."""
    kit.view(session, user, event_id, write=True)  # scoping: the item belongs to this event
    item = session.get(FeedbackItem, item_id)
    trigger = kit.text(form, "trigger")
    fields = {
        "assignee": f"assignee-{item_id}",
        "answer": f"answer-{item_id}",
        "answered_on": f"answered_on-{item_id}",
        "answered_on_before_received": f"answered_on-{item_id}",
        "answered_on_in_future": f"answered_on-{item_id}",
    }
    data: dict[str, Any] = (
        {"assignee": kit.text(form, "assignee")}
        if trigger == "assign"
        else {"answer": kit.text(form, "answer"), "answered_on": kit.text(form, "answered_on")}
    )
    if trigger == "answer":
        data["answered_on"] = data["answered_on"][:20] or None
    with attempt(session, fields) as tried:
        if item is None or item.event_id != event_id:
            raise NotFound("feedback_not_found", f"意见建议 {item_id} 不存在", "")
        item_version = kit.text(form, "item_version")
        version = int(item_version) if item_version.isdigit() else None
        tried.moved(
            feedback_flow.fire(
                session,
                item,
                trigger,
                actor=user.actor,
                now=clock.now(),
                data=data,
                expected_version=version,
            )
        )
    if tried.errors:
        kept = {fields[k]: str(v or "") for k, v in data.items() if k in fields}
        return _feedback_again(request, session, user, event_id, clock, tried.errors, kept)
    return redirect(
        f"/events/{event_id}/feedback", feedback_flow.TRIGGER_LABELS_ZH.get(trigger, "") + "成功"
    )


@router.post("/events/{event_id}/feedback/{item_id}/correct")
def feedback_correct(
    request: Request,
    event_id: int,
    item_id: int,
    form: FormDep,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    """Correct one answer's text or day, with the reason (workflows/feedback/corrections.py);
    a clerk past the unit's days sends it as a correction request for a supervisor to approve."""
    ev = kit.view(session, user, event_id, write=True)
    item = session.get(FeedbackItem, item_id)
    prefix = f"fix-{item_id}-"
    fields = {name: prefix + name for name in ("answer", "answered_on", "reason")} | {
        "answered_on_before_received": prefix + "answered_on",
        "answered_on_in_future": prefix + "answered_on",
        "correction_reason_missing": prefix + "reason",
        "correction_no_change": prefix + "answer",
    }
    late = late_clerk(session, user.actor, item, clock.now())
    with attempt(session, fields) as tried:
        if item is None or item.event_id != event_id:
            raise NotFound("feedback_not_found", f"意见建议 {item_id} 不存在", "")
        change = forms.parse(
            answer_corrections.AnswerCorrection,
            {},
            labels=CORRECTION,
            answer=kit.text(form, "answer")[:10001] or None,
            answered_on=kit.text(form, "answered_on")[:20] or None,
            reason=kit.text(form, "reason")[:2001],
        )
        if late:
            asked = change.model_dump(exclude={"reason"}, mode="json")
            correction_requests.submit(
                session, ev.event, "answer", {"feedback_item_id": item_id, **asked},
                change.reason, actor=user.actor, now=clock.now(),
            )  # fmt: skip
        else:
            item_version = kit.text(form, "item_version")
            answer_corrections.correct(
                session, item, change, actor=user.actor, now=clock.now(),
                expected_version=int(item_version) if item_version.isdigit() else 0,
            )  # fmt: skip
    if tried.errors:
        kept = {prefix + k: kit.text(form, k)[:10000] for k in ("answer", "answered_on", "reason")}
        return _feedback_again(request, session, user, event_id, clock, tried.errors, kept)
    if late:
        note = f"已提交更正申请，等待{_office(session, item)}审批"
        return redirect(f"/events/{event_id}/feedback", note)
    return redirect(f"/events/{event_id}/feedback", "已更正答复，更正记入历史记录")


def _office(session: Session, item: FeedbackItem | None) -> str:
    """The district office an opinion's request goes to, as running text names it."""
    return districts.unit_office_words(session, item.unit_id) if item else districts.SOLE_OFFICE


def late_clerk(session: Session, actor: Any, item: FeedbackItem | None, now: Any) -> bool:
    """A clerk past the unit's days to correct this answer: the change goes in as a request."""
    if item is None or actor.is_supervisor:
        return False
    found = answer_corrections.window(session, item, local_date(now))
    return found.open and not found.unit_may


@router.post("/events/{event_id}/feedback/{item_id}/extension")
def feedback_extension(
    request: Request,
    event_id: int,
    item_id: int,
    form: FormDep,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    """Ask the district office for more time to answer one opinion."""
    kit.view(session, user, event_id, write=True)
    item = session.get(FeedbackItem, item_id)
    fields = {
        "reason": f"reason-{item_id}",
        "requested_due_on": f"due-{item_id}",
        "extension_date_not_later": f"due-{item_id}",
    }
    with attempt(session, fields) as tried:
        if item is None or item.event_id != event_id:
            raise NotFound("feedback_not_found", f"意见建议 {item_id} 不存在", "")
        asked = forms.parse(
            ExtensionIn, form, labels=EXTENSION, missing={"reason": "请说明申请延期的理由"}
        )
        extensions.request(
            session,
            item,
            reason=asked.reason,
            requested_due_on=asked.requested_due_on,
            actor=user.actor,
            now=clock.now(),
        )
    if tried.errors:
        return _feedback_again(request, session, user, event_id, clock, tried.errors)
    return redirect(f"/events/{event_id}/feedback", f"延期申请已提交{_office(session, item)}")


# ---- 4 报送总结 --------------------------------------------------------------------------------


def summary_page(
    request: Request,
    session: Session,
    ev: kit.EventView,
    today: date,
    errors: list[FieldError] | None = None,
    draft: str | None = None,
) -> HTMLResponse:
    """Summary text, photos with thumbnails, and the deadline in words."""
    current = summaries.view(session, ev.event.id or 0)
    due = (
        due_of("报送总结", ev.event.summary_due_on, today, load_calendar(session))
        if ev.event.summary_due_on
        else None
    )
    return render(
        request,
        "summary.html",
        ev=ev,
        summary=current,
        due=due,
        errors=errors or [],
        text=current.text if draft is None else draft,
        open=ev.event.state in summaries.OPEN,
        returned=history.returned(session, [ev.event]).get(ev.event.id or 0),
        accept=ATTACHMENT_ACCEPT,
        tally=checkin.tally(session, ev.event.id or 0),
    )


@router.get("/events/{event_id}/summary")
def summary_get(
    request: Request, event_id: int, user: UserDep, session: SessionDep, clock: ClockDep
) -> HTMLResponse:
    """The summary stage."""
    return summary_page(
        request, session, kit.view(session, user, event_id), local_date(clock.now())
    )


def _uploads(form: Any) -> list[UploadFile]:
    """The files chosen in the picker (an empty picker sends one nameless part)."""
    return [f for f in form.getlist("photos") if isinstance(f, UploadFile) and f.filename]


def _attach(
    session: Session,
    ev: kit.EventView,
    uploads: list[UploadFile],
    settings: Any,
    actor: Any,
    now: Any,
) -> None:
    """Store each chosen file with the summary, each an edit of the event's current version."""
    limit = settings.upload_max_bytes
    for upload in uploads:
        data = upload.file.read(limit + 1)
        if len(data) > limit:
            raise DomainError(
                "attachment_too_large",
                f"“{upload.filename}”超过 {limit // (1024 * 1024)} MB 上限",
                "",
                status=413,
            )
        summaries.attach(
            session,
            ev.event,
            filename=upload.filename or "",  # never empty: filtered by _uploads
            content_type=upload.content_type or "application/octet-stream",
            data=data,
            store=FileStore(settings.upload_dir),
            expected_version=ev.event.version,
            actor=actor,
            now=now,
        )


@router.post("/events/{event_id}/summary")
def summary_post(
    request: Request,
    event_id: int,
    form: FormDep,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> Response:
    """Save the text and any chosen photos or files together (nothing typed is lost to an
    upload), and submit the summary (submit_summary) when asked."""
    ev = kit.view(session, user, event_id, write=True)
    draft = str(form.get("text", ""))
    uploads = _uploads(form)
    submit = form.get("action") == "submit"
    with attempt(session) as tried:
        version = kit.version_of(form)
        summaries.write_draft(
            session, ev.event, draft, expected_version=version, actor=user.actor, now=clock.now()
        )
        _attach(session, ev, uploads, settings, user.actor, clock.now())
        if submit:
            tried.moved(
                event_machine.fire(
                    session,
                    ev.event,
                    "submit_summary",
                    expected_version=ev.event.version,
                    actor=user.actor,
                    now=clock.now(),
                )
            )
    if tried.errors:
        ev = kit.view(session, user, event_id)
        return summary_page(request, session, ev, local_date(clock.now()), tried.errors, draft)
    if submit:
        return redirect(f"/events/{event_id}", f"总结已报送{ev.office_zh}")
    saved = f"总结已保存，已上传 {len(uploads)} 个文件" if uploads else "总结草稿已保存"
    return redirect(f"/events/{event_id}/summary", saved)


@router.post("/events/{event_id}/summary/photos")
def photos_post(
    request: Request,
    event_id: int,
    form: FormDep,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> Response:
    """Upload several photos or files at once (the text, if sent along, is saved too)."""
    uploads = _uploads(form)
    ev = kit.view(session, user, event_id, write=True)
    draft = form.get("text")
    with attempt(session) as tried:
        if not uploads:
            raise DomainError("attachment_empty", "请选择要上传的照片或文件", "", status=422)
        version = kit.version_of(form)
        require_version(ev.event, version)
        if draft is not None:
            summaries.write_draft(
                session,
                ev.event,
                str(draft),
                expected_version=version,
                actor=user.actor,
                now=clock.now(),
            )
        _attach(session, ev, uploads, settings, user.actor, clock.now())
    if tried.errors:
        ev = kit.view(session, user, event_id)
        text = None if draft is None else str(draft)
        return summary_page(request, session, ev, local_date(clock.now()), tried.errors, text)
    return redirect(f"/events/{event_id}/summary#photos", f"已上传 {len(uploads)} 个文件")


@router.post("/events/{event_id}/summary/photos/{attachment_id}/delete")
def photo_delete(
    request: Request,
    event_id: int,
    attachment_id: int,
    form: FormDep,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> Response:
    """Remove a photo before the summary is submitted (its file too, once unreferenced)."""
    ev = kit.view(session, user, event_id, write=True)
    with attempt(session) as tried:
        summaries.detach(
            session,
            ev.event,
            attachment_id,
            expected_version=kit.version_of(form),
            actor=user.actor,
            now=clock.now(),
            store=FileStore(settings.upload_dir),
        )
    if tried.errors:
        ev = kit.view(session, user, event_id)
        return summary_page(request, session, ev, local_date(clock.now()), tried.errors)
    return redirect(f"/events/{event_id}/summary#photos", "已删除")


@router.get("/events/{event_id}/files/{attachment_id}")
def file_get(
    event_id: int, attachment_id: int, user: UserDep, session: SessionDep, settings: SettingsDep
) -> FileResponse:
    """A photo or file of the summary (thumbnails use the photo itself)."""
    ev = kit.view(session, user, event_id)
    attachment = summaries.get_attachment(session, ev.event, attachment_id)
    return FileResponse(
        FileStore(settings.upload_dir).path(attachment.storage_key),
        media_type=attachment.content_type,
        filename=summaries.download_name(attachment),
    )
