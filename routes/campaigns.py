"""Campaigns, their rules, and importing a schedule table into one."""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import APIRouter, File, Query, UploadFile
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlmodel import Session, col, select

from models import Campaign
from schemas.campaigns import CampaignIn, CampaignOut, CampaignPatch
from schemas.common import ErrorOut, Page
from web.deps import API_PREFIX, ActorDep, ClockDep, PagingDep, SessionDep, SettingsDep, fetch_page
from web.errors import error_response, field_errors
from web.uploads import read_upload
from workers.runtime import notify_config
from workflows.accounts import districts
from workflows.campaign import service as campaigns
from workflows.files.archive_guard import ImportLimits
from workflows.kernel.visibility import in_districts
from workflows.schedule.importer import ImportRefused
from workflows.schedule.service import import_schedule as import_schedule_file
from workflows.schedule.service import require_importer

router = APIRouter(prefix=API_PREFIX + "/campaigns", tags=["campaigns"])
log = structlog.get_logger("openday.api")


def campaign_out(session: Session, campaign: Campaign) -> CampaignOut:
    """One campaign as the API shows it, with its district's name."""
    return CampaignOut.of(campaign, districts.names_of(session, [campaign.district_id]))


@router.get("")
def list_campaigns(actor: ActorDep, session: SessionDep, pg: PagingDep) -> Page[CampaignOut]:
    """Every campaign, newest first."""
    mine = in_districts(select(Campaign), actor, Campaign.district_id)
    rows, total = fetch_page(session, mine.order_by(col(Campaign.id).desc()), pg)
    names = districts.names_of(session, [c.district_id for c in rows])  # one query for the page
    return pg.page([CampaignOut.of(c, names) for c in rows], total)


@router.post("", status_code=201)
def create_campaign(
    body: CampaignIn, actor: ActorDep, session: SessionDep, clock: ClockDep
) -> CampaignOut:
    """Create a campaign (supervisors)."""
    campaign = campaigns.create(
        session, actor, body.model_dump(exclude={"rules"}), body.rules, clock.now()
    )
    session.commit()
    return campaign_out(session, campaign)


@router.get("/{campaign_id}")
def get_campaign(campaign_id: int, actor: ActorDep, session: SessionDep) -> CampaignOut:
    """One campaign with its rules."""
    campaign = campaigns.get(session, campaign_id, actor)
    return campaign_out(session, campaign)


@router.patch("/{campaign_id}")
def patch_campaign(
    campaign_id: int, body: CampaignPatch, actor: ActorDep, session: SessionDep, clock: ClockDep
) -> CampaignOut:
    """Change a campaign's title, window or rules (supervisors)."""
    try:
        campaign = campaigns.update(
            session, actor, campaign_id, body.model_dump(exclude_unset=True), clock.now()
        )
    except ValidationError as exc:
        return field_errors(exc.errors(), ("body", "rules"))  # type: ignore[return-value]
    session.commit()
    return campaign_out(session, campaign)


@router.post(
    "/{campaign_id}/schedule-imports",
    responses={422: {"model": ErrorOut, "description": "errors, or warnings not accepted"}},
)
def import_schedule(
    campaign_id: int,
    file: Annotated[UploadFile, File(description=".docx, .xlsx, .csv or .txt schedule table")],
    actor: ActorDep,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    dry_run: bool = False,
    accept_warnings: bool = False,
    confirm_past_escalations: Annotated[
        bool,
        Query(
            description="import although events are past their date: their escalations "
            "(report.past_escalations, past_notifications) go out at once"
        ),
    ] = False,
) -> JSONResponse:
    """Import a schedule table into a campaign, all or nothing (supervisors and the system
    administrator).

    Answers the import report: every planned event and every row-level issue. A dry run
    writes nothing; otherwise errors (or warnings not accepted) answer 422 with the report
    and nothing is written. When new events are already past their date, the report counts
    the escalations and notifications importing would send at once, and the import answers
    422 `import_arms_past_escalations` unless `confirm_past_escalations=true`.
    """
    require_importer(None, actor)  # 403 before the upload is read
    campaigns.get(session, campaign_id, actor)  # 404 before the upload is read
    data = read_upload(file, settings.upload_max_bytes, "file_too_large", "文件", "file")
    try:
        report = import_schedule_file(
            session,
            campaign_id,
            data,
            file.filename or "upload",
            actor=actor,
            now=clock.now(),
            notify=notify_config(settings),
            limits=ImportLimits.of(settings),
            dry_run=dry_run,
            accept_warnings=accept_warnings,
            confirm_past_escalations=confirm_past_escalations,
        )
    except ImportRefused as exc:
        session.rollback()
        return _refused(exc)
    if dry_run:
        return JSONResponse(jsonable_encoder(report.as_dict()))
    session.commit()
    log.info(
        "schedule_imported",
        campaign_id=campaign_id,
        created_events=report.created_events,
        created_units=report.created_units,
    )
    return JSONResponse(jsonable_encoder(report.as_dict()), status_code=201)


def _refused(exc: ImportRefused) -> JSONResponse:
    """The refusal's error answer, carrying the whole import report (`error.report`)."""
    report = jsonable_encoder(exc.report.as_dict())
    return error_response(exc.status, exc.code, exc.message_zh, exc.message_en, report=report)
