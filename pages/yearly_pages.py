"""管理 › 复制为下一年度: next year's campaign from last year's, and its roster of units
(issue 30). Pages call workflows/campaign/rollover.py; every rule runs there."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from markupsafe import Markup
from sqlmodel import Session, col, select

from models import Campaign, EventForm
from pages.auth import FormDep, UserDep
from pages.render import FieldError, PageRoute, errors_of, redirect, render
from schemas.rollover import RolloverIn, RosterEntryPatch
from web.deps import ClockDep, SessionDep
from web.downloads import xlsx_download
from web.forms import FormInvalid, parse
from workers.runtime import notify_config
from workflows.campaign import rollover
from workflows.campaign import service as campaigns
from workflows.campaign.rules import CampaignRules, split_forms
from workflows.event.held import FORM_LABELS_ZH as FORM_LABELS
from workflows.kernel.errors import DomainError, Forbidden
from workflows.kernel.visibility import SYSTEM, Actor, in_districts
from workflows.reporting import yearly, yearly_chart

router = APIRouter(route_class=PageRoute, include_in_schema=False)

LABELS = {
    "doc_number": "文号",
    "title": "标题",
    "issuing_office": "发文单位",
    "starts_on": "开始日期",
    "ends_on": "结束日期",
    "unit_ids": "责任单位",
    "contact_name": "联系人",
    "contact_phone": "联系电话",
    "contact_email": "联系人邮箱",
    "head_name": "负责人",
    "head_phone": "负责人电话",
    "head_email": "负责人邮箱",
    "webhook_url": "群机器人地址",
    "webhook_format": "群机器人类型",
    "forms": "组织形式",
    "activity_forms": "组织形式",
}
FIELDS = {
    "campaign_year_taken": "starts_on",
    "rollover_year_not_later": "starts_on",
    "campaign_window_reversed": "ends_on",
    "campaign_exists": "doc_number",
    "rollover_unit_unknown": "units",
    "activity_forms_invalid": "activity_forms",
}


def _copy_page(
    request: Request,
    session: Session,
    actor: Actor,
    source_id: int,
    errors: list[FieldError] | None = None,
    form: Any = None,
) -> HTMLResponse:
    plan = rollover.plan(session, actor, source_id)
    fields = {
        **plan.fields,
        "activity_forms": "、".join(CampaignRules.of(plan.source.rules).activity_forms),
    }
    values = {**fields, **({k: form.get(k) for k in fields} if form else {})}
    chosen = {int(u) for u in map(str, form.getlist("unit")) if u.isdigit()} if form else None
    return render(
        request,
        "rollover.html",
        plan=plan,
        values=values,
        chosen=chosen,
        errors=errors or [],
        forms=FORM_LABELS,
    )


@router.get("/admin/campaigns/{campaign_id}/rollover")
def rollover_get(
    request: Request, campaign_id: int, user: UserDep, session: SessionDep
) -> HTMLResponse:
    """The copy's form: the new document number, title and window, the units carried."""
    user.actor.require_supervisor()
    return _copy_page(request, session, user.actor, campaign_id)


@router.post("/admin/campaigns/{campaign_id}/rollover")
def rollover_post(
    request: Request, campaign_id: int, form: FormDep, user: UserDep, session: SessionDep
) -> Response:
    """Create next year's campaign and close this one; then its roster, to edit."""
    user.actor.require_supervisor()
    units = [int(u) for u in map(str, form.getlist("unit")) if u.isdigit()]
    try:
        forms = split_forms(str(form.get("activity_forms", "")))
        body = parse(RolloverIn, form, labels=LABELS, unit_ids=units, activity_forms=forms or None)
        fields = body.model_dump(exclude={"unit_ids"})
        now = request.app.state.clock.now()
        campaign = rollover.copy(session, user.actor, campaign_id, fields, now, body.unit_ids)
    except (FormInvalid, DomainError) as exc:
        session.rollback()
        return _copy_page(request, session, user.actor, campaign_id, errors_of(exc, FIELDS), form)
    session.commit()
    return redirect(
        f"/admin/campaigns/{campaign.id}/units",
        f"已创建“{campaign.title}”，上一年度活动已转为只读；开始前可修改各单位的联系人和组织形式",
    )


def _roster_page(
    request: Request,
    session: Session,
    campaign: Campaign,
    errors: list[FieldError] | None = None,
) -> HTMLResponse:
    now = request.app.state.clock.now()
    editable = campaign.closed_at is None and not rollover.has_opened(campaign, now)
    source = (
        campaigns.get(session, campaign.copied_from_id, SYSTEM) if campaign.copied_from_id else None
    )
    return render(
        request,
        "roster.html",
        campaign=campaign,
        source=source,
        entries=rollover.roster(session, campaign),
        editable=editable,
        forms=FORM_LABELS,
        all_forms=[f.value for f in EventForm],
        errors=errors or [],
    )


@router.get("/admin/campaigns/{campaign_id}/units")
def roster_get(
    request: Request, campaign_id: int, user: UserDep, session: SessionDep
) -> HTMLResponse:
    """A campaign's units with that year's contacts, robot and forms."""
    user.actor.require_supervisor()
    return _roster_page(request, session, campaigns.get(session, campaign_id, user.actor))


@router.post("/admin/campaigns/{campaign_id}/units/{unit_id}")
def roster_post(
    request: Request,
    campaign_id: int,
    unit_id: int,
    form: FormDep,
    user: UserDep,
    session: SessionDep,
) -> Response:
    """Change one unit's contacts, robot or forms before the campaign opens."""
    user.actor.require_supervisor()
    settings = request.app.state.settings
    try:
        body = parse(RosterEntryPatch, form, labels=LABELS, forms=form.getlist("forms"))
        changes = body.model_dump(mode="json", exclude_unset=True)
        for key in rollover.CONTACTS:  # a field emptied on the form clears it
            if key != "webhook_format" and key not in changes and key in form:
                changes[key] = None
        now = request.app.state.clock.now()
        rollover.edit_entry(
            session, user.actor, campaign_id, unit_id, changes, now, notify_config(settings)
        )
    except (FormInvalid, DomainError) as exc:
        session.rollback()
        campaign = campaigns.get(session, campaign_id, user.actor)
        prefixed = [FieldError(e.message, f"u{unit_id}", e.status) for e in errors_of(exc)]
        return _roster_page(request, session, campaign, prefixed)
    session.commit()
    return redirect(f"/admin/campaigns/{campaign_id}/units#u{unit_id}", "已保存")


def _campaign_param(request: Request) -> int | None:
    value = request.query_params.get("campaign", "")
    return int(value) if value.isdigit() else None


@router.get("/board/yearly")
def yearly_page(
    request: Request, user: UserDep, session: SessionDep, clock: ClockDep
) -> HTMLResponse:
    """逐年对比: each unit and the district, this year against earlier years, with charts."""
    if not user.is_supervisor:
        raise Forbidden("supervisor_required", f"仅{user.office_zh}督查人员可查看逐年对比", "")
    campaign_id = _campaign_param(request)
    data = yearly.compare(session, user.actor, clock.now(), campaign_id)
    years = [y["year"] for y in data["years"]]
    span = f"{years[0]}—{years[-1]}年" if years else ""
    return render(
        request,
        "yearly.html",
        data=data,
        years=years,
        campaigns=session.exec(
            in_districts(select(Campaign), user.actor, Campaign.district_id).order_by(
                col(Campaign.starts_on).desc()
            )
        ).all(),
        campaign_id=campaign_id,
        metrics=yearly.METRICS,
        trend_zh=yearly.TREND_ZH,
        score_chart=Markup(yearly_chart.score_changes(data["units"], "各单位考核得分变化")),
        district_chart=Markup(
            yearly_chart.district_shares(
                data["district"], f"{data['whole']}{span}按期开展率与按时答复率"
            )
        ),
    )


@router.get("/board/yearly.xlsx")
def yearly_xlsx(
    request: Request, user: UserDep, session: SessionDep, clock: ClockDep
) -> StreamingResponse:
    """The comparison as xlsx (the signed-in person's scope)."""
    data = yearly.compare(session, user.actor, clock.now(), _campaign_param(request))
    return xlsx_download([yearly.sheet(data)], "year-over-year", clock.now(), "逐年对比")
