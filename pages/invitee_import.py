"""批量添加受邀人员: paste a list or upload an .xlsx/.csv, see each row read (and what is wrong
with it) with the invite rule's live count, then confirm: all are added in one transaction by the
same workflow as adding one by one (workflows/event/invitee_import.py reads, invitees.add writes).
Nothing is written before 确认添加."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session
from starlette.datastructures import UploadFile

from pages import eventkit as kit
from pages.attempt import attempt
from pages.auth import FormDep, UserDep
from pages.render import FieldError, PageRoute, redirect, render
from schemas.invitees import InviteeIn
from web.deps import ClockDep, SessionDep
from workflows.event import invitee_import, invitees
from workflows.files.archive_guard import ImportLimits
from workflows.kernel.errors import DomainError

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def bulk_page(
    request: Request,
    session: Session,
    ev: kit.EventView,
    text: str = "",
    rows: list[invitee_import.Row] | None = None,
    errors: list[FieldError] | None = None,
) -> HTMLResponse:
    """The paste/upload form, and once read, the preview with the count it would give."""
    quota = kit.list_quota(session, ev)
    if rows is not None:
        m = invitee_import.quota_with(session, ev.event, ev.rules, rows)
        quota = kit.Quota(m["invited"], m["min"], m["max"], m["citizens"], m["citizens_needed"])
    return render(
        request,
        "invitees_bulk.html",
        ev=ev,
        text=text,
        rows=rows,
        bad=[e for r in rows or [] for e in r.errors],
        tally=_tally(rows or []),
        quota=quota,
        editable=ev.event.state in invitees.EDITABLE,
        errors=errors or [],
        categories=kit.CATEGORY_LABELS,
        invitations=kit.INVITATION_LABELS,
        limit=invitee_import.MAX_ROWS,
    )


def _tally(rows: list[invitee_import.Row]) -> str:
    """The preview's summary line: 15 人：人大代表 5 人、政协委员 2 人、市民代表 8 人."""
    read = [r.person for r in rows if r.person and not r.errors]
    counts = [
        (label, sum(1 for p in read if p.get("category") == category))
        for category, label in kit.CATEGORY_LABELS.items()
    ]
    said = "、".join(f"{label} {n} 人" for label, n in counts if n)
    wrong = sum(1 for r in rows if r.errors)
    return (
        f"{len(read)} 人" + (f"：{said}" if said else "") + (f"；{wrong} 行有误" if wrong else "")
    )


@router.get("/events/{event_id}/invitees/bulk")
def bulk_form(request: Request, event_id: int, user: UserDep, session: SessionDep) -> HTMLResponse:
    """Where to paste the list or choose the file."""
    return bulk_page(request, session, kit.view(session, user, event_id))


def _text_of(request: Request, form: FormDep) -> str:
    """The pasted text, or the uploaded file read as such a text."""
    upload = form.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        limit = request.app.state.settings.upload_max_bytes
        data = upload.file.read(limit + 1)
        if len(data) > limit:
            raise DomainError(
                "file_too_large",
                f"文件“{upload.filename}”超过上传上限",
                "file too large",
                status=413,
            )
        limits = ImportLimits.of(request.app.state.settings)
        return invitee_import.read_upload(data, upload.filename, limits)
    return str(form.get("text", ""))


@router.post("/events/{event_id}/invitees/bulk")
def bulk_preview(
    request: Request, event_id: int, form: FormDep, user: UserDep, session: SessionDep
) -> HTMLResponse:
    """Read the list and show it; nothing is written."""
    ev = kit.view(session, user, event_id)
    text = ""
    try:
        text = _text_of(request, form)
        rows = invitee_import.parse(text)
    except DomainError as exc:
        error = FieldError(exc.message_zh, "text", exc.status)
        return bulk_page(request, session, ev, text, None, [error])
    if not rows:
        error = FieldError("请粘贴名单（每行一人）或选择文件", "text", 422)
        return bulk_page(request, session, ev, text, None, [error])
    return bulk_page(request, session, ev, text, rows)


@router.post("/events/{event_id}/invitees/bulk/confirm")
def bulk_confirm(
    request: Request,
    event_id: int,
    form: FormDep,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    """Add every row of the confirmed list at once, or none."""
    ev = kit.view(session, user, event_id, write=True)
    text = str(form.get("text", ""))
    with attempt(session, {}) as tried:
        rows = invitee_import.parse(text)
        if not rows or any(r.errors for r in rows):
            raise DomainError("invitee_import_invalid", "名单有误，请修改后再预览", "", status=422)
        people = [InviteeIn.model_validate(r.person).model_dump() for r in rows if r.person]
        invitees.add(
            session,
            ev.event,
            people,
            expected_version=kit.version_of(form),
            actor=user.actor,
            now=clock.now(),
        )
    if tried.errors:
        ev = kit.view(session, user, event_id)
        rows = invitee_import.parse(text) if len(text) <= invitee_import.MAX_TEXT else []
        return bulk_page(request, session, ev, text, rows, tried.errors)
    return redirect(f"/events/{event_id}/invitees", f"已添加 {len(people)} 人")
