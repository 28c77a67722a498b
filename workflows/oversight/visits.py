"""On-site visits (现场走访): supervisors record going to an event — when, who, what they found,
with photos taken there."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Session, col, select

from models import Event, SiteVisit, SpotCheck, VisitPhoto
from workflows.event.summary import clean_filename
from workflows.files import filetypes
from workflows.files.store import FileStore
from workflows.kernel import tenancy
from workflows.kernel.clock import local_date
from workflows.kernel.errors import DomainError, NotFound
from workflows.kernel.visibility import Actor, require_visible


def record(
    session: Session,
    event: Event,
    *,
    visited_on: date,
    people: str,
    findings: str,
    actor: Actor,
    now: datetime,
    spot_check_id: int | None = None,
    problem: bool = False,
) -> SiteVisit:
    """A supervisor records a visit to an event; the day is not in the future. It may name
    the spot-check round of the same event it informed, and mark its findings as a problem
    (reported, and deducted in the assessment)."""
    actor = tenancy.act_in(session, actor, event.unit_id)  # a city supervisor: where granted
    actor.require_acting_supervisor()
    if spot_check_id is not None:
        check = session.get(SpotCheck, spot_check_id)
        if check is None or check.event_id != event.id:
            raise DomainError(
                "visit_round_invalid",
                f"抽查轮次 {spot_check_id} 不是该活动的抽查记录",
                f"spot check {spot_check_id} is not a round of event {event.id}",
                status=422,
                details={"field": "spot_check_id"},
            )
    if problem and not findings.strip():
        raise DomainError(
            "visit_problem_without_findings",
            "标记“发现问题”时请填写走访发现",
            "a visit marked as a problem needs its findings",
            status=422,
            details={"field": "findings"},
        )
    if visited_on > local_date(now):
        raise DomainError(
            "visit_in_future",
            f"走访日期 {visited_on.isoformat()} 晚于今天，不能预先登记",
            f"the visit day {visited_on.isoformat()} is after today",
            status=422,
        )
    visit = SiteVisit(
        event_id=event.id,  # type: ignore[arg-type]
        visited_on=visited_on,
        people=people,
        findings=findings,
        spot_check_id=spot_check_id,
        problem=problem,
        created_by=actor.id,
        created_at=now,
    )
    session.add(visit)
    session.flush()
    return visit


def get(session: Session, actor: Actor, visit_id: int) -> SiteVisit:
    """A visit the caller may see (its event's unit), or 404."""
    visit = session.get(SiteVisit, visit_id)
    event = session.get(Event, visit.event_id) if visit is not None else None
    require_visible(
        actor,
        None if event is None else event.unit_id,
        NotFound("visit_not_found", f"走访记录 {visit_id} 不存在", f"visit {visit_id} not found"),
    )
    assert visit is not None
    return visit


def add_photo(
    session: Session,
    visit: SiteVisit,
    *,
    filename: str,
    content_type: str,
    data: bytes,
    store: FileStore,
    actor: Actor,
    now: datetime,
) -> VisitPhoto:
    """A photo taken on the visit (images only)."""
    actor.require_supervisor()
    event = session.get(Event, visit.event_id)
    unit_id = None if event is None else event.unit_id  # a city supervisor: where granted
    tenancy.act_in(session, actor, unit_id).require_acting_supervisor()
    if not data:
        raise DomainError("photo_empty", "照片为空", "the photo is empty", status=422)
    # The type comes from the bytes, not from what the browser claimed (issue 14).
    detected = filetypes.detect(data, "photo", clean_filename(filename))
    stored = store.put(data)
    photo = VisitPhoto(
        visit_id=visit.id,  # type: ignore[arg-type]
        filename=clean_filename(filename),
        content_type=detected.content_type,
        size=stored.size,
        sha256=stored.sha256,
        storage_key=stored.key,
        created_at=now,
    )
    session.add(photo)
    session.flush()
    return photo


def photos(session: Session, visit_ids: list[int]) -> dict[int, list[VisitPhoto]]:
    """The photos of some visits, by visit."""
    out: dict[int, list[VisitPhoto]] = {v: [] for v in visit_ids}
    if visit_ids:
        rows = session.exec(
            select(VisitPhoto)
            .where(col(VisitPhoto.visit_id).in_(visit_ids))
            .order_by(col(VisitPhoto.id))
        ).all()
        for p in rows:
            out[p.visit_id].append(p)
    return out
