"""从通知新建活动 (issue 30): upload the notice (.docx / .txt) or paste its text, see the campaign
it would create — each rule beside the sentence it came from, what the notice does not say marked
for the supervisor to fill — then confirm; the schedule table attached to the notice then goes
through the existing import preview (pages/admin.py). Nothing is written before 确认创建活动.

The notice waits in the upload store (content-addressed) between the preview and the
confirmation, as the schedule import's table does.

At the city level of a city of several districts both steps ask which district the campaign is
for (a city supervisor: among those whose grant it holds); a district's supervisor, and a
city-level one of a city of one district, are not asked (notice_campaign.implied_district).
"""

from __future__ import annotations

import re
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session
from starlette.datastructures import FormData, UploadFile

from pages.admin import import_page
from pages.auth import FormDep, UserDep
from pages.render import FieldError, PageRoute, errors_of, redirect, render
from web.deps import SessionDep
from workers.runtime import notify_config
from workflows.campaign import notice_campaign as notice
from workflows.campaign import service as campaigns
from workflows.event.held import FORM_LABELS_ZH
from workflows.files.archive_guard import ImportLimits
from workflows.files.store import FileStore
from workflows.kernel.errors import DomainError
from workflows.kernel.visibility import Actor
from workflows.schedule.service import import_schedule

router = APIRouter(route_class=PageRoute, include_in_schema=False)
_KEY = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{64}$")
_FILENAME = re.compile(r"^[^/\\]{1,120}\.(docx|txt)$", re.IGNORECASE)
# The preview's rows: the finding cited, and the form's inputs it fills.
ROWS: list[tuple[str, list[str]]] = [
    ("doc_number", ["doc_number"]),
    ("issuing_office", ["issuing_office"]),
    ("title", ["title"]),
    ("window", ["starts_on", "ends_on"]),
    ("invitees", ["invitees_min", "invitees_max"]),
    ("citizen_share", ["citizen_share_min"]),
    ("answer", ["feedback_answer_workdays"]),
    ("summary", ["summary_due_days"]),
    ("summary_recipient", ["summary_recipient"]),
    ("forms", ["activity_forms"]),
]
# Refusals and the input their error-summary line links to.
FIELDS = {
    "notice_window_reversed": "starts_on",
    "notice_window_invalid": "starts_on",
    "notice_share_above_one": "citizen_share_min",
    "notice_invitees_reversed": "invitees_min",
    "campaign_exists": "doc_number",
    "campaign_year_taken": "starts_on",
}
# The district's refusals link to its picker.
DISTRICT_FIELDS = {
    code: "district_id"
    for code in ("district_required", "district_not_found", "district_grant_required")
}
FIELDS.update(DISTRICT_FIELDS)


def notice_page(
    request: Request,
    session: Session,
    actor: Actor,
    preview: notice.NoticePreview | None = None,
    errors: list[FieldError] | None = None,
    key: str = "",
    filename: str = "",
    text: str = "",
    district_id: int | None = None,
) -> HTMLResponse:
    """The upload/paste form, or the preview of the campaign with the confirm button."""
    status = max([e.status for e in errors or []] + [200])
    asks = notice.asks_district(session, actor)
    return render(
        request,
        "notice_import.html",
        status=status,
        preview=preview,
        errors=errors or [],
        rows=ROWS,
        labels={**notice.VALUE_LABELS, **notice.SWITCH_VALUE_LABELS},
        key=key,
        filename=filename,
        text=text,
        max_chars=notice.NOTICE_MAX_CHARS,
        form_labels=FORM_LABELS_ZH,
        asks_district=asks,
        districts=notice.district_choices(session, actor) if asks else [],
        district_id=district_id,
    )


@router.get("/admin/notice-import")
def notice_form(request: Request, user: UserDep, session: SessionDep) -> HTMLResponse:
    """Choose the notice or paste its text (and, at the city level, the district)."""
    user.actor.require_supervisor()
    return notice_page(request, session, user.actor)


@router.post("/admin/notice-import")
def notice_post(request: Request, form: FormDep, user: UserDep, session: SessionDep) -> Response:
    """Preview a notice, or create the previewed campaign."""
    user.actor.require_supervisor()
    store = FileStore(request.app.state.settings.upload_dir)
    if form.get("action") == "confirm":
        return _confirm(request, form, user.actor, session, store)
    actor, chosen = user.actor, _district(form)
    try:
        district = notice.district_of_preview(
            session, actor, notice.implied_district(session, actor, chosen)
        )
        data, filename = _source(request, form)
        text = _text(request, data, filename)
        preview = notice.preview(
            session, text, _limits(request), source=data, filename=filename, district_id=district
        )
    except DomainError as exc:
        pasted = str(form.get("text", ""))[: notice.NOTICE_MAX_CHARS]
        errors = errors_of(exc, {"": "notice", **DISTRICT_FIELDS})
        return notice_page(request, session, actor, errors=errors, text=pasted, district_id=chosen)
    key = store.put(data).key
    return notice_page(
        request, session, actor, preview, _clash_errors(preview), key=key, filename=filename,
        district_id=chosen,
    )  # fmt: skip


def _district(form: FormData) -> int | None:
    """The district picked on the form: None for none; an id that is no number is no district
    (0: 404 `district_not_found`)."""
    picked = str(form.get("district_id", "")).strip()
    if not picked:
        return None
    return int(picked) if picked.isdigit() and len(picked) < 10 else 0


def _limits(request: Request) -> ImportLimits:
    return ImportLimits.of(request.app.state.settings)


def _source(request: Request, form: FormData) -> tuple[bytes, str]:
    """The uploaded file's bytes and name, or the pasted text as a .txt file."""
    limit = request.app.state.settings.upload_max_bytes
    upload = form.get("notice")
    if isinstance(upload, UploadFile) and upload.filename:
        data = upload.file.read(limit + 1)
        if len(data) > limit:
            raise DomainError(
                "file_too_large",
                f"文件超过 {limit // (1024 * 1024)} MB 上限",
                f"the file exceeds the {limit} byte limit",
                status=413,
            )
        return data, upload.filename
    pasted = str(form.get("text", ""))
    notice.check_text(pasted)
    return pasted.encode("utf-8"), "notice.txt"


def _text(request: Request, data: bytes, filename: str) -> str:
    return notice.read_notice(data, filename, _limits(request))


def _errors(exc: DomainError) -> list[FieldError]:
    """The refusal's lines, each linked to the input it is about."""
    if exc.code == "notice_fields_missing":
        return [
            FieldError(f"请填写{notice.VALUE_LABELS[key]}（通知中未找到）", key, exc.status)
            for key in exc.details.get("fields", [])
        ]
    if exc.code == "notice_value_invalid":
        return errors_of(exc, {exc.code: str(exc.details.get("field", ""))})
    return errors_of(exc, FIELDS)


def _clash_errors(preview: notice.NoticePreview) -> list[FieldError]:
    return [e for c in preview.conflicts for e in errors_of(c, FIELDS)]


def _confirm(
    request: Request, form: FormData, actor: Actor, session: Session, store: FileStore
) -> Response:
    """Create the campaign with the preview's (edited) values; the preview again if refused."""
    key, filename = str(form.get("key", "")), str(form.get("filename", ""))
    if not (_KEY.match(key) and _FILENAME.match(filename) and store.path(key).exists()):
        error = FieldError("预览已失效，请重新上传通知", "notice", 422)
        return notice_page(request, session, actor, errors=[error])
    data = store.path(key).read_bytes()
    edits = {k: form.get(k, "") for k in [*notice.VALUE_LABELS, *notice.SWITCH_VALUE_LABELS]}
    chosen = _district(form)
    try:
        text = _text(request, data, filename)
        preview = notice.preview(  # the values; create_from_notice checks the district's clashes
            session, text, _limits(request), source=data, filename=filename, edits=edits
        )
    except DomainError as exc:
        return notice_page(request, session, actor, errors=errors_of(exc, {"": "notice"}))
    try:
        campaign = notice.create_from_notice(
            session,
            actor,
            preview.values,
            preview.draft,
            request.app.state.clock.now(),
            source={"filename": filename, "key": key},
            district_id=notice.implied_district(session, actor, chosen),
        )
    except DomainError as exc:
        session.rollback()
        return notice_page(
            request, session, actor, preview, _errors(exc), key=key, filename=filename,
            district_id=chosen,
        )  # fmt: skip
    session.commit()
    done = f"已创建活动“{campaign.doc_number}”"
    if preview.schedule_rows:
        url = f"/admin/campaigns/{campaign.id}/notice-schedule?key={key}&filename={quote(filename)}"
        return redirect(url, done + "，请核对通知所附日程表的导入预览")
    return redirect(f"/admin/campaigns/{campaign.id}/import", done + "，请上传日程表")


@router.get("/admin/campaigns/{campaign_id}/notice-schedule")
def notice_schedule(
    request: Request,
    campaign_id: int,
    user: UserDep,
    session: SessionDep,
    key: str = "",
    filename: str = "",
) -> HTMLResponse:
    """The schedule table attached to the notice, through the schedule import's own preview."""
    user.actor.require_supervisor()
    campaign = campaigns.get(session, campaign_id, user.actor)
    store = FileStore(request.app.state.settings.upload_dir)
    if not (_KEY.match(key) and _FILENAME.match(filename) and store.path(key).exists()):
        return import_page(request, session, campaign)
    settings = request.app.state.settings
    try:
        report = import_schedule(
            session,
            campaign_id,
            store.path(key).read_bytes(),
            filename,
            actor=user.actor,
            now=request.app.state.clock.now(),
            notify=notify_config(settings),
            limits=ImportLimits.of(settings),
            dry_run=True,
        )
    except DomainError as exc:
        session.rollback()
        return import_page(request, session, campaign, errors_of(exc, {"": "table"}))
    session.rollback()  # a dry run: nothing to keep
    return import_page(request, session, campaign, report=report, key=key, filename=filename)
