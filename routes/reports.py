"""Exports of every list (xlsx, CSV), the campaign report, the assessment and sample draws."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import Response, StreamingResponse
from sqlmodel import Session, col, select

from models import Campaign, SampleDraw
from schemas.reports import SampleIn, SampleOut
from web.deps import API_PREFIX, ActorDep, ClockDep, SessionDep, SettingsDep
from web.downloads import stream_export, summary_docx, xlsx_download
from web.loaders import load_event
from workflows.campaign import service as campaigns
from workflows.campaign.rules import CampaignRules
from workflows.event import search
from workflows.files.store import FileStore
from workflows.kernel.errors import NotFound
from workflows.kernel.visibility import Actor, scope
from workflows.oversight import evidence, sampling
from workflows.reporting import assessment, exports, reports

router = APIRouter(prefix=API_PREFIX, tags=["reports"])


def require_campaign(session: Session, actor: Actor, campaign_id: int | None) -> Campaign | None:
    """The campaign asked for, or 404 when it does not exist or is another district's."""
    if campaign_id is None:
        return None
    return campaigns.get(session, campaign_id, actor)


@router.get("/exports/{name}", response_class=StreamingResponse)
def export(
    name: str,
    request: Request,
    actor: ActorDep,
    session: SessionDep,
    clock: ClockDep,
    campaign_id: Annotated[int | None, Query(ge=1)] = None,
    unit_id: Annotated[int | None, Query(ge=1)] = None,
    state: Annotated[list[str] | None, Query(max_length=20)] = None,
    event_id: Annotated[int | None, Query(ge=1)] = None,
    kind: Literal["feedback_answer", "summary", "event_hold"] | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    due_within_days: Annotated[int, Query(ge=0, le=60)] = 3,
    q: Annotated[
        str | None,
        Query(max_length=200, description="overdue: text in the event's theme or unit's name"),
    ] = None,
    level: Annotated[
        int | None, Query(ge=0, le=9, description="overdue: the escalation level (催办级别)")
    ] = None,
) -> Any:
    """A list as xlsx or CSV: `events`, `opinions`, `overdue`, `notifications`, `spot-checks`,
    `invitees`, `visits`, `audit` (event moves and the change log, oldest first), e.g.
    `/exports/overdue.xlsx`, with the list's filters (`date_from`/`date_to`: the event's dates,
    the visit's day or the audit line's day; `q` and `level` narrow the overdue list as on the
    board and in `GET /overdue`); staff get their own unit's rows."""
    what, fmt = exports.split_name(name)
    exports.require_export(session, actor, what, clock.now())
    session.commit()  # an administrator's export of the audit is itself an audit line
    require_campaign(session, actor, campaign_id)
    filters = exports.Filters(
        campaign_id=campaign_id,
        unit_id=scope(actor, unit_id),
        states=tuple(state or ()),
        event_id=event_id,
        kind=kind,
        date_from=date_from,
        date_to=date_to,
        due_within_days=due_within_days,
        search=search.normalize(q),
        level=level,
    )
    # Like every GET, nothing of this request's session is kept; ending its transaction now
    # frees SQLite's lock for the export's own session.
    session.rollback()
    return stream_export(request.app.state.engine, actor, what, fmt, filters, clock.now())


# ---- the campaign report and the assessment ---------------------------------------------------


@router.get("/campaigns/{campaign_id}/report")
def campaign_report(
    campaign_id: int, actor: ActorDep, session: SessionDep, clock: ClockDep
) -> dict[str, Any]:
    """Per unit: held on time, invitees by kind and mode, attendance, forms, opinions and
    answers on time, extensions, summaries on time, reworks, spot checks, escalations by level;
    and the district's totals."""
    return reports.report(
        reports.collect_for(session, actor, campaign_id, clock.now(), records=False)
    )


@router.get("/campaigns/{campaign_id}/report.xlsx", response_class=StreamingResponse)
def campaign_report_xlsx(
    campaign_id: int, actor: ActorDep, session: SessionDep, clock: ClockDep
) -> Any:
    """The campaign report as xlsx (a row per unit and the district's totals)."""
    data = reports.report(
        reports.collect_for(session, actor, campaign_id, clock.now(), records=False)
    )
    return xlsx_download(reports.sheets(data), f"report-{campaign_id}", clock.now(), "报表")


@router.get("/campaigns/{campaign_id}/assessment")
def campaign_assessment(
    campaign_id: int, actor: ActorDep, session: SessionDep, clock: ClockDep
) -> dict[str, Any]:
    """Scores per unit from the campaign's scoring rules, ranked; every deduction names its
    record (event id, opinion id). Recomputed on every read."""
    return assessment.assess(reports.collect_for(session, actor, campaign_id, clock.now()))


@router.get("/campaigns/{campaign_id}/assessment.xlsx", response_class=StreamingResponse)
def campaign_assessment_xlsx(
    campaign_id: int, actor: ActorDep, session: SessionDep, clock: ClockDep
) -> Any:
    """The ranking and the deductions, as two sheets."""
    data = assessment.assess(reports.collect_for(session, actor, campaign_id, clock.now()))
    return xlsx_download(
        assessment.sheets(data), f"assessment-{campaign_id}", clock.now(), "考核得分"
    )


@router.get("/campaigns/{campaign_id}/summary.docx", response_class=Response)
def campaign_summary_docx(
    campaign_id: int, actor: ActorDep, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> Any:
    """A .docx draft of the district summary (总结报告): totals, the per-unit table, overdue and
    late items, the ranking, evidence flags and two charts."""
    return summary_docx(session, actor, campaign_id, clock.now(), settings.upload_dir)


@router.get("/campaigns/{campaign_id}/scoring-rules")
def get_scoring_rules(campaign_id: int, actor: ActorDep, session: SessionDep) -> dict[str, Any]:
    """The campaign's scoring rules (the defaults where none were set)."""
    campaign = campaigns.get(session, campaign_id, actor)
    return CampaignRules.of(campaign.rules).scoring.model_dump()


@router.put("/campaigns/{campaign_id}/scoring-rules")
def put_scoring_rules(
    campaign_id: int,
    actor: ActorDep,
    session: SessionDep,
    body: Annotated[Any, Body()],
) -> dict[str, Any]:
    """Set the scoring rules (supervisors): points non-negative, criteria known; scores follow
    at once."""
    rules = campaigns.set_scoring_rules(session, actor, campaign_id, body)
    session.commit()
    return rules.model_dump()


# ---- evidence checks on summaries ------------------------------------------------------------


@router.get("/events/{event_id}/evidence")
def event_evidence(
    event_id: int, actor: ActorDep, session: SessionDep, settings: SettingsDep
) -> dict[str, Any]:
    """The summary photos' checks — taken on another day than the event was held, without a
    date (EXIF DateTimeOriginal), or identical to a photo of another event — and the summary's
    submission against its deadline. Flags only: nothing is refused."""
    load_event(session, actor, event_id)
    found = evidence.check_events(session, [event_id], FileStore(settings.upload_dir))
    return found[event_id].as_dict()


@router.get("/campaigns/{campaign_id}/evidence")
def campaign_evidence(
    campaign_id: int, actor: ActorDep, session: SessionDep, settings: SettingsDep
) -> dict[str, Any]:
    """The campaign's events whose summary photos raise a flag (staff: their own unit's)."""
    campaigns.get(session, campaign_id, actor)
    unit_id = scope(actor, None)
    flagged = evidence.flagged_in_campaign(
        session, campaign_id, FileStore(settings.upload_dir), unit_id=unit_id
    )
    return {"campaign_id": campaign_id, "items": [ev.as_dict() for ev in flagged]}


# ---- reproducible spot-check sampling ---------------------------------------------------------


@router.post("/campaigns/{campaign_id}/samples", status_code=201)
def draw_sample(
    campaign_id: int, body: SampleIn, actor: ActorDep, session: SessionDep, clock: ClockDep
) -> SampleOut:
    """Draw the units to spot-check (supervisors). Every draw is a new record with its seed,
    method and population snapshot; `GET /samples/{id}/verify` redoes it."""
    record = sampling.draw(
        session,
        actor,
        campaign_id,
        clock.now(),
        count=body.count,
        share=body.share,
        strata=body.strata,
        excluded=[e.model_dump() for e in body.exclude],
        seed=body.seed,
        note=body.note,
    )
    session.commit()
    return SampleOut.model_validate(record)


@router.get("/campaigns/{campaign_id}/samples")
def list_samples(campaign_id: int, actor: ActorDep, session: SessionDep) -> list[SampleOut]:
    """Every draw of the campaign, newest first (supervisors and viewers)."""
    _require_overseer(actor)
    campaigns.get(session, campaign_id, actor)
    rows = session.exec(
        select(SampleDraw)
        .where(SampleDraw.campaign_id == campaign_id)
        .order_by(col(SampleDraw.id).desc())
    ).all()
    return [SampleOut.model_validate(r) for r in rows]


@router.get("/samples/{sample_id}")
def get_sample(sample_id: int, actor: ActorDep, session: SessionDep) -> SampleOut:
    """One recorded draw."""
    _require_overseer(actor)
    return SampleOut.model_validate(sampling.get(session, sample_id, actor))


@router.get("/samples/{sample_id}/verify")
def verify_sample(sample_id: int, actor: ActorDep, session: SessionDep) -> dict[str, Any]:
    """Re-draw from the record's seed, population snapshot and method; `matches` says whether
    the same units come out."""
    _require_overseer(actor)
    return sampling.verify(session, sample_id, actor)


def _require_overseer(actor: Actor) -> None:
    if not actor.sees_all_units:
        raise NotFound("sample_not_found", "抽样记录不存在", "sample draw not found")
