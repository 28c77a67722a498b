"""Rectification (整改) after a spot-check round found lacking — 六（三）强化督查，严格问责.

A supervisor issues a rectification notice (整改通知) on a round found lacking (需整改 or
不合格): what to fix (the round's notes unless written anew) and a due day `rectification_workdays`
working days later (a campaign rule). The unit reports its rectification (text, optional files);
the supervisor closes it (销号) or sends it back with reasons and a new due day. The due day is
a timer row: an overdue rectification escalates like an overdue answer
(workflows/escalation/service.py, subject kind `rectification`), and is deducted once in the
assessment. Each move writes an audit line on the event's chain (the event's own state and
version unchanged) that workflows/event/history.py says as a sentence.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from models import (
    Campaign,
    Event,
    Rectification,
    RectificationFile,
    RectificationState,
    SpotCheck,
    SpotCheckResult,
    TransitionLog,
)
from models.db import lock_by_id
from workflows.accounts import districts
from workflows.campaign.rules import CampaignRules
from workflows.event.summary import clean_filename
from workflows.files import filetypes
from workflows.files.store import FileStore
from workflows.inbox import service as inbox
from workflows.kernel import audit, tenancy
from workflows.kernel.clock import local_date
from workflows.kernel.daywords import day_zh
from workflows.kernel.errors import Conflict, DomainError, NotFound
from workflows.kernel.visibility import (
    Actor,
    other_unit,
    require_own_unit,
    require_visible,
    visible,
)
from workflows.workdays import deadlines

S = RectificationState
STATES_ZH = {S.issued: "待整改", S.reported: "待审核", S.closed: "已销号"}
TEXT_MAX = 10000
REASONS_MAX = 2000
FILES_MAX = 20


def not_found(rect_id: int) -> NotFound:
    return NotFound(
        "rectification_not_found",
        f"整改通知 {rect_id} 不存在",
        f"rectification {rect_id} not found",
    )


def get(session: Session, actor: Actor, rect_id: int) -> Rectification:
    """A rectification the caller may see (its unit's), or 404."""
    rect = session.get(Rectification, rect_id)
    require_visible(actor, None if rect is None else rect.unit_id, not_found(rect_id))
    assert rect is not None
    return rect


def _locked(session: Session, actor: Actor, rect_id: int) -> tuple[Actor, Event, Rectification]:
    """The actor the write runs with (a city supervisor: as its granted district's supervisor,
    `tenancy.act_in`, bound before the locks), the rectification and its event, locked in the
    one order (event first)."""
    rect = get(session, actor, rect_id)
    actor = tenancy.act_in(session, actor, rect.unit_id)
    (event,) = lock_by_id(session, Event, [rect.event_id])
    (rect,) = lock_by_id(session, Rectification, [rect_id])
    return actor, event, rect


def _rules(session: Session, event: Event) -> CampaignRules:
    campaign = session.get(Campaign, event.campaign_id)
    assert campaign is not None
    return CampaignRules.of(campaign.rules)


def _text(value: str | None, field: str, zh: str, en: str, limit: int) -> str:
    """A required text, stripped and sized, or 422 naming the field."""
    text = (value or "").strip()
    if not text:
        raise DomainError(
            f"{field}_missing", f"请填写{zh}", f"{en} is required", status=422,
            details={"field": field},
        )  # fmt: skip
    if len(text) > limit:
        raise DomainError(
            f"{field}_too_long", f"{zh}不能超过 {limit} 字", f"{en} is over {limit} characters",
            status=422, details={"field": field, "max": limit},
        )  # fmt: skip
    return text


def _log(
    session: Session,
    event: Event,
    rect: Rectification,
    move: str,
    before: str | None,
    actor: Actor,
    now: datetime,
    data: dict[str, Any],
) -> None:
    """The move's audit line on the event's chain: the event's own state and version, the
    rectification's move and states in `data`."""
    session.add(
        TransitionLog(
            event_id=event.id,  # type: ignore[arg-type]
            trigger=f"rectification.{move}",
            from_state=event.state,
            to_state=event.state,
            version=event.version,
            actor_id=actor.id,
            actor_name=actor.name,
            at=now,
            data=audit.plain(
                {
                    "rectification_id": rect.id,
                    "spot_check_id": rect.spot_check_id,
                    "from": before,
                    "to": rect.state,
                    "round": rect.round,
                    "version": rect.version,
                    **data,
                }
            ),
        )
    )
    session.flush()


def _tell(
    session: Session,
    kind: str,
    event: Event,
    rect: Rectification,
    title: str,
    body: str,
    now: datetime,
    round: str,
) -> None:
    """The move's message in the inbox (workflows/inbox/kinds.py names who gets `kind`)."""
    inbox.post(
        session, kind, subject_type="rectification", subject_id=rect.id,  # type: ignore[arg-type]
        event_id=event.id, unit_id=rect.unit_id, now=now, round=round,
        title=title, body=body,
    )  # fmt: skip


def _arm(session: Session, event: Event, rect: Rectification, now: datetime, rearm: bool) -> None:
    """Count the due day from today and arm its escalation timers."""
    assert rect.id is not None and event.id is not None
    deadline = deadlines.rectification_deadline(
        rect.id, event.id, local_date(now), _rules(session, event), deadlines.load_calendar(session)
    )
    rect.due_on, rect.due_at = deadline.deadline_on, deadline.due_at
    rect.due_provisional = deadline.provisional
    rect.escalation_level = 0
    session.flush()
    deadlines.arm(session, deadline, now, rearm_fired=rearm)


def issue(
    session: Session, check_id: int, *, notice: str | None, actor: Actor, now: datetime
) -> Rectification:
    """A supervisor's rectification notice on a round found lacking (what to fix: `notice`,
    else the round's notes), due `rectification_workdays` working days from today."""
    actor.require_supervisor()
    check = session.get(SpotCheck, check_id)
    missing = NotFound(
        "spot_check_not_found", f"抽查记录 {check_id} 不存在", f"spot check {check_id} not found"
    )
    seen = None if check is None else session.get(Event, check.event_id)
    if check is None or seen is None:
        raise missing
    require_visible(actor, seen.unit_id, missing)  # another district's round: not found
    actor = tenancy.act_in(session, actor, seen.unit_id)  # a city supervisor: where granted
    actor.require_acting_supervisor()
    (event,) = lock_by_id(session, Event, [check.event_id])
    if check.result == SpotCheckResult.satisfactory:
        raise Conflict(
            "rectification_not_needed",
            f"第 {check.round} 轮抽查结果为“合格”，无需整改；"
            "只有“需整改”或“不合格”的轮次可以下发整改通知",
            f"round {check.round} was satisfactory; only a round found needs_improvement or "
            "unsatisfactory gets a rectification notice",
        )
    found = session.exec(select(Rectification).where(Rectification.spot_check_id == check_id))
    if found.first() is not None:
        raise Conflict(
            "rectification_exists",
            f"第 {check.round} 轮抽查已下发整改通知",
            f"round {check.round} already has a rectification notice",
        )
    text = _text(notice or check.notes, "notice", "整改要求", "the notice", TEXT_MAX)
    rect = Rectification(
        event_id=event.id,
        unit_id=event.unit_id,
        spot_check_id=check_id,
        notice=text,
        due_on=local_date(now),
        due_at=now,
        issued_by=actor.id,
        issued_at=now,
    )
    session.add(rect)
    session.flush()
    _arm(session, event, rect, now, rearm=False)
    _log(session, event, rect, "issue", None, actor, now,
         {"notice": text, "due_on": rect.due_on, "check_round": check.round})  # fmt: skip
    _tell(session, "rect_notice", event, rect,
          f"【整改通知】“{event.theme}”请于 {day_zh(rect.due_on)} 前报送整改情况",
          f"{districts.unit_office_words(session, event.unit_id)}第 {check.round} 轮抽查后下发"
          f"整改通知，整改要求：\n{text}",
          now, "1")  # fmt: skip
    return rect


def report(
    session: Session, rect_id: int, *, text: str, actor: Actor, now: datetime
) -> Rectification:
    """The unit's rectification report (整改情况); late when after the due day."""
    actor.require_write()
    actor, event, rect = _locked(session, actor, rect_id)
    require_own_unit(
        actor,
        rect.unit_id,
        other_unit(
            "只有被通知整改的责任单位可以报送整改情况",
            "only the unit the notice went to may report its rectification",
        ),
    )
    if rect.state != S.issued:
        raise Conflict(
            "rectification_not_open",
            f"整改通知当前为“{STATES_ZH[S(rect.state)]}”，不能报送整改情况",
            f"the rectification is {rect.state}; nothing to report",
        )
    body = _text(text, "report", "整改情况", "the report", TEXT_MAX)
    late = now > rect.due_at
    rect.report, rect.reported_at, rect.reported_by = body, now, actor.id
    rect.state, rect.version = S.reported, rect.version + 1
    rect.overdue = rect.overdue or late
    deadlines.cancel(
        session, subject_type="rectification", subject_ids=[rect_id], rule=deadlines.RECTIFICATION
    )
    files = len(files_of(session, [rect_id]).get(rect_id, []))
    _log(session, event, rect, "report", S.issued, actor, now,
         {"late": late, "due_on": rect.due_on, "files": files})  # fmt: skip
    _tell(session, "rect_report", event, rect,
          f"【整改情况待审核】“{event.theme}”已报送整改情况" + ("（逾期）" if late else ""),
          body, now, str(rect.round))  # fmt: skip
    return rect


def _decided(rect: Rectification) -> None:
    if rect.state != S.reported:
        raise Conflict(
            "rectification_not_reported",
            f"整改通知当前为“{STATES_ZH[S(rect.state)]}”，只有已报送整改情况的才能销号或退回",
            f"the rectification is {rect.state}; only a reported one can be closed or sent back",
        )


def close(session: Session, rect_id: int, *, actor: Actor, now: datetime) -> Rectification:
    """The supervisor accepts the report: the rectification is closed (销号)."""
    actor.require_supervisor()
    actor, event, rect = _locked(session, actor, rect_id)
    actor.require_acting_supervisor()
    _decided(rect)
    rect.state, rect.closed_at, rect.closed_by = S.closed, now, actor.id
    rect.version += 1
    _log(session, event, rect, "close", S.reported, actor, now, {})
    _tell(session, "rect_decision", event, rect, f"【整改审核结果】“{event.theme}”整改通知已销号",
          f"{districts.unit_office_words(session, event.unit_id)}审核通过了贵单位报送的整改情况，"
          "整改通知已销号。", now, "closed")  # fmt: skip
    return rect


def send_back(
    session: Session, rect_id: int, *, reasons: str, actor: Actor, now: datetime
) -> Rectification:
    """The supervisor sends the report back with reasons; a new due day is counted from today
    and its escalations are owed again."""
    actor.require_supervisor()
    actor, event, rect = _locked(session, actor, rect_id)
    actor.require_acting_supervisor()
    _decided(rect)
    why = _text(reasons, "reasons", "退回原因", "the reasons", REASONS_MAX)
    rect.state, rect.round, rect.version = S.issued, rect.round + 1, rect.version + 1
    rect.send_back_reasons = why
    _arm(session, event, rect, now, rearm=True)
    _log(session, event, rect, "send_back", S.reported, actor, now,
         {"reasons": why, "due_on": rect.due_on})  # fmt: skip
    _tell(session, "rect_decision", event, rect,
          f"【整改情况退回】“{event.theme}”请于 {day_zh(rect.due_on)} 前重新报送整改情况",
          f"退回原因：{why}\n\n整改要求：{rect.notice}", now, str(rect.round))  # fmt: skip
    return rect


def add_file(
    session: Session,
    rect_id: int,
    *,
    filename: str,
    data: bytes,
    store: FileStore,
    actor: Actor,
    now: datetime,
) -> RectificationFile:
    """A photo or file for the report, while the unit is still to report."""
    actor.require_write()
    actor, _event, rect = _locked(session, actor, rect_id)
    require_own_unit(
        actor,
        rect.unit_id,
        other_unit(
            "只有被通知整改的责任单位可以上传整改材料",
            "only the unit the notice went to may add files",
        ),
    )
    if rect.state != S.issued:
        raise Conflict(
            "rectification_not_open", "整改情况已报送，不能再上传材料", "the report is already in"
        )
    if not data:
        raise DomainError("file_empty", "文件为空", "the file is empty", status=422)
    if len(files_of(session, [rect_id]).get(rect_id, [])) >= FILES_MAX:
        raise Conflict(
            "rectification_files_full", f"每份整改情况最多 {FILES_MAX} 个文件",
            f"at most {FILES_MAX} files per rectification",
        )  # fmt: skip
    name = clean_filename(filename)
    detected = filetypes.detect(data, "attachment", name)
    stored = store.put(data)
    row = RectificationFile(
        rectification_id=rect_id,
        filename=name,
        content_type=detected.content_type,
        size=stored.size,
        sha256=stored.sha256,
        storage_key=stored.key,
        uploaded_by=actor.id,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def files_of(session: Session, rect_ids: list[int]) -> dict[int, list[RectificationFile]]:
    """The files of some rectifications, by rectification."""
    out: dict[int, list[RectificationFile]] = {r: [] for r in rect_ids}
    if rect_ids:
        rows = session.exec(
            select(RectificationFile)
            .where(col(RectificationFile.rectification_id).in_(rect_ids))
            .order_by(col(RectificationFile.id))
        ).all()
        for f in rows:
            out[f.rectification_id].append(f)
    return out


def get_file(session: Session, actor: Actor, rect_id: int, file_id: int) -> RectificationFile:
    """A file of a rectification's report, for its unit and the district office; 404 for
    another unit, or a file of another rectification."""
    get(session, actor, rect_id)
    row = session.get(RectificationFile, file_id)
    if row is None or row.rectification_id != rect_id:
        raise NotFound(
            "rectification_file_not_found",
            f"整改材料 {file_id} 不存在",
            f"rectification file {file_id} not found",
        )
    return row


def of_event(session: Session, event_id: int) -> dict[int, Rectification]:
    """An event's rectifications, by the spot-check round they follow."""
    rows = session.exec(
        select(Rectification)
        .where(Rectification.event_id == event_id)
        .order_by(col(Rectification.id))
    ).all()
    return {r.spot_check_id: r for r in rows}


def waiting(session: Session, actor: Actor, limit: int = 50) -> list[tuple[Rectification, Event]]:
    """Rectifications waiting for the caller's unit to report (or, for supervisors, waiting
    for anyone), the earliest due first."""
    stmt = (
        select(Rectification, Event)
        .join(Event, col(Event.id) == Rectification.event_id)
        .where(Rectification.state == S.issued)
    )
    stmt = visible(stmt, actor, Rectification.unit_id)
    return list(session.exec(stmt.order_by(col(Rectification.due_at)).limit(limit)).all())


def overdue(session: Session, now: datetime, limit: int = 100) -> list[tuple[Rectification, Event]]:
    """Rectifications past their due day with no report, the longest overdue first."""
    stmt = (
        select(Rectification, Event)
        .join(Event, col(Event.id) == Rectification.event_id)
        .where(Rectification.state == S.issued, col(Rectification.due_at) < now)
        .order_by(col(Rectification.due_at), col(Rectification.id))
        .limit(limit)
    )
    return list(session.exec(stmt).all())
