"""管理: campaigns, units with contacts, and the schedule import (upload → preview → confirm).

The import's preview is the importer's own dry run; the uploaded table waits in the upload
store (content-addressed) between the preview and the confirmation.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, col, select
from starlette.datastructures import UploadFile

from models import Campaign
from pages.auth import FormDep, PageUser, UserDep
from pages.render import FieldError, PageRoute, errors_of, redirect, render
from web.deps import SessionDep
from workers.runtime import notify_config
from workflows.accounts import districts, duties
from workflows.accounts import units as unit_list
from workflows.campaign import service as campaigns
from workflows.campaign.rules import CampaignRules
from workflows.files.archive_guard import ImportLimits
from workflows.files.store import FileStore
from workflows.kernel.errors import DomainError
from workflows.kernel.visibility import in_districts, scope
from workflows.schedule.importer import ImportRefused
from workflows.schedule.service import import_schedule, require_importer

router = APIRouter(route_class=PageRoute, include_in_schema=False)
_KEY = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{64}$")


@router.get("/admin")
def admin_home(request: Request, user: UserDep, session: SessionDep) -> HTMLResponse:
    """Campaigns with their rules, and units with their contacts: the district office's page,
    and the system administrator's (imports, units, the working-day calendar)."""
    duties.require_or_supervisor(None, user.actor, duties.Duty.units)
    return render(
        request,
        "admin.html",
        campaigns=session.exec(
            in_districts(select(Campaign), user.actor, Campaign.district_id).order_by(
                col(Campaign.id).desc()
            )
        ).all(),
        units=unit_list.in_schedule_order(session, scope(user.actor, None)),
        rules=CampaignRules.of,
        defaults=CampaignRules(),
    )


def import_page(
    request: Request,
    session: Session,
    campaign: Campaign,
    errors: list[FieldError] | None = None,
    report: Any = None,
    key: str = "",
    filename: str = "",
) -> HTMLResponse:
    """The upload form, or the dry run's preview with the confirm button."""
    return render(
        request,
        "import.html",
        campaign=campaign,
        errors=errors or [],
        report=report,
        key=key,
        filename=filename,
        office_zh=districts.office_words(session, campaign.district_id),
    )


@router.get("/admin/campaigns/{campaign_id}/import")
def import_get(
    request: Request, campaign_id: int, user: UserDep, session: SessionDep
) -> HTMLResponse:
    """Choose a schedule table."""
    require_importer(None, user.actor)
    return import_page(request, session, campaigns.get(session, campaign_id, user.actor))


@router.post("/admin/campaigns/{campaign_id}/import")
def import_post(
    request: Request, campaign_id: int, form: FormDep, user: UserDep, session: SessionDep
) -> Response:
    """Preview (dry run) an uploaded table, or import a previewed one."""
    upload = form.get("table")
    data, filename = b"", str(form.get("filename", ""))
    if isinstance(upload, UploadFile) and upload.filename:
        limit = request.app.state.settings.upload_max_bytes
        data, filename = upload.file.read(limit + 1), upload.filename
    store = FileStore(request.app.state.settings.upload_dir)
    campaign = campaigns.get(session, campaign_id, user.actor)
    try:
        return _import_step(request, session, user, campaign, form, data, filename, store)
    except ImportRefused as exc:  # the preview again, with why it was not imported
        session.rollback()
        fields = {"import_arms_past_escalations": "confirm-past", "import_has_warnings": "accept"}
        return import_page(
            request,
            session,
            campaign,
            errors_of(exc, fields),
            report=exc.report,
            key=str(form.get("key", "")),
            filename=filename,
        )
    except DomainError as exc:
        session.rollback()
        return import_page(request, session, campaign, errors_of(exc, {"": "table"}))


def _import_step(
    request: Request,
    session: Session,
    user: PageUser,
    campaign: Campaign,
    form: Any,
    data: bytes,
    filename: str,
    store: FileStore,
) -> Response:
    require_importer(None, user.actor)
    key = str(form.get("key", ""))
    confirm = form.get("action") == "confirm" and _KEY.match(key)
    if confirm:
        data = store.path(key).read_bytes()
    if not data:
        return import_page(
            request, session, campaign, [FieldError("请选择要导入的日程表文件", "table")]
        )
    if len(data) > request.app.state.settings.upload_max_bytes:
        return import_page(request, session, campaign, [FieldError("文件过大", "table")])
    settings = request.app.state.settings
    assert campaign.id is not None  # a loaded campaign
    report = import_schedule(
        session,
        campaign.id,
        data,
        filename or "upload",
        actor=user.actor,
        now=request.app.state.clock.now(),
        notify=notify_config(settings),
        limits=ImportLimits.of(settings),
        dry_run=not confirm,
        accept_warnings=form.get("accept") == "yes",
        confirm_past_escalations=form.get("confirm_past") == "yes",
    )
    if not confirm:
        return import_page(
            request, session, campaign, report=report, key=store.put(data).key, filename=filename
        )
    session.commit()
    return redirect(
        "/admin", f"已导入 {report.created_events} 个活动（新增单位 {report.created_units} 个）"
    )
