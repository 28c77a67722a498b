"""报表与考核: downloads of the board's lists, and the campaign report and assessment page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from sqlmodel import col, select

from models import Campaign
from pages.auth import UserDep
from pages.render import PageRoute, render
from web import downloads
from web.deps import ClockDep, SessionDep
from web.downloads import stream_export, xlsx_download
from workflows.accounts import districts
from workflows.event import search
from workflows.files.store import FileStore
from workflows.kernel.clock import local_date
from workflows.kernel.errors import Forbidden
from workflows.kernel.visibility import in_districts, scope
from workflows.oversight import evidence
from workflows.reporting import assessment, city, exports, glance, reports

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


@router.get("/board/exports/{name}")
def download(
    name: str, request: Request, user: UserDep, session: SessionDep, clock: ClockDep
) -> StreamingResponse:
    """A list as xlsx or CSV with the board's filters (campaign, unit, kind; for the overdue
    list also the search and the 催办级别)."""
    what, fmt = exports.split_name(name)
    exports.require_export(session, user.actor, what, clock.now())
    session.commit()  # an administrator's export of the audit is itself an audit line
    q = request.query_params
    kind = q.get("kind") if q.get("kind") in exports.OVERDUE_KINDS_ZH else None
    filters = exports.Filters(
        campaign_id=_int(q.get("campaign")) if what != "overdue" else None,
        unit_id=scope(user.actor, _int(q.get("unit"))),
        kind=kind,
        due_within_days=0 if what == "overdue" else 3,
        search=search.normalize(q.get("q")),
        level=_int(q.get("level")),
    )
    session.rollback()
    return stream_export(request.app.state.engine, user.actor, what, fmt, filters, clock.now())


@router.get("/board/report")
def report_page(
    request: Request, user: UserDep, session: SessionDep, clock: ClockDep
) -> HTMLResponse:
    """The campaign report per unit and the assessment ranking with its deductions."""
    if not user.is_supervisor:
        raise Forbidden("supervisor_required", f"仅{user.office_zh}督查人员可查看报表与考核", "")
    mine = in_districts(select(Campaign), user.actor, Campaign.district_id)
    campaigns = session.exec(mine.order_by(col(Campaign.id).desc())).all()
    campaign_id = _int(request.query_params.get("campaign"))
    if campaign_id not in {c.id for c in campaigns}:  # another district's is not offered
        campaign_id = campaigns[0].id if campaigns else None
    report = scores = None
    flagged: list[evidence.EventEvidence] = []
    if campaign_id is not None:
        facts = reports.collect(session, campaign_id, clock.now())
        report, scores = reports.report(facts), assessment.assess(facts)
        store = FileStore(request.app.state.settings.upload_dir)
        flagged = evidence.flagged_in_campaign(session, campaign_id, store)
    q = request.query_params
    order = glance.order_of(q.get("sort"), q.get("dir"))
    return render(
        request,
        "report.html",
        campaigns=campaigns,
        campaign_id=campaign_id,
        report=report,
        scores=scores,
        figures=glance.figures(report["totals"]) if report else [],
        chart=glance.chart(scores) if scores else [],
        rows=glance.rows(report, scores, order) if report and scores else [],
        groups=[(label, [(k, glance.LABELS[k]) for k in keys]) for label, keys in glance.GROUPS],
        order=order,
        flagged=flagged,
        today=local_date(clock.now()),
        office_zh=districts.campaign_office_words(session, campaign_id, user.actor.district_id),
    )


@router.get("/board/report.xlsx")
def report_xlsx(
    request: Request, user: UserDep, session: SessionDep, clock: ClockDep
) -> StreamingResponse:
    """The campaign report as xlsx (the signed-in person's scope)."""
    campaign_id = _int(request.query_params.get("campaign")) or 0
    data = reports.report(
        reports.collect_for(session, user.actor, campaign_id, clock.now(), records=False)
    )
    return xlsx_download(reports.sheets(data), f"report-{campaign_id}", clock.now(), "报表")


@router.get("/board/assessment.xlsx")
def assessment_xlsx(
    request: Request, user: UserDep, session: SessionDep, clock: ClockDep
) -> StreamingResponse:
    """The ranking and its deductions as xlsx."""
    campaign_id = _int(request.query_params.get("campaign")) or 0
    data = assessment.assess(reports.collect_for(session, user.actor, campaign_id, clock.now()))
    return xlsx_download(
        assessment.sheets(data), f"assessment-{campaign_id}", clock.now(), "考核得分"
    )


@router.get("/board/report/summary.docx")
def summary_docx(request: Request, user: UserDep, session: SessionDep, clock: ClockDep) -> Response:
    """The district summary draft (总结报告) as .docx."""
    campaign_id = _int(request.query_params.get("campaign")) or 0
    upload_dir = request.app.state.settings.upload_dir
    return downloads.summary_docx(session, user.actor, campaign_id, clock.now(), upload_dir)


def _year(request: Request, known: list[int]) -> int | None:
    """The year asked for, if the caller has campaigns in it; else the newest (None: none)."""
    asked = _int(request.query_params.get("year"))
    return asked if asked in known else (known[0] if known else None)


@router.get("/board/city")
def city_page(
    request: Request, user: UserDep, session: SessionDep, clock: ClockDep
) -> HTMLResponse:
    """全市对比: each district's campaign of the year side by side, ranked, each row linking to
    the district's own report (city supervisors: every district; a district's: its own)."""
    city.require_reader(user.actor)
    known = city.years(session, user.actor)
    year = _year(request, known)
    data = city.compare(session, user.actor, clock.now(), year)
    return render(
        request,
        "city.html",
        data=data,
        years=known,
        year=year,
        counts=city.COUNTS,
        today=local_date(clock.now()),
    )


@router.get("/board/city.xlsx")
def city_xlsx(
    request: Request, user: UserDep, session: SessionDep, clock: ClockDep
) -> StreamingResponse:
    """全市对比 as xlsx (the same rows as the page)."""
    city.require_reader(user.actor)
    year = _year(request, city.years(session, user.actor))
    data = city.compare(session, user.actor, clock.now(), year)
    return xlsx_download([city.sheet(data)], f"city-{year or 'all'}", clock.now(), "全市对比")
