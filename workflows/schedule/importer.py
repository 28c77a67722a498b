"""Import a campaign's schedule table (序号 / 单位名称 / 活动主题 / 开展时间) atomically.

Reading the file and understanding the dates live in `schedule_tables` and `schedule_dates`;
this module validates the rows against the campaign, plans what would be created, and writes it
in the caller's transaction — nothing at all while an error stands, nor while warnings stand
unless they are accepted. An imported event is keyed by its unit and theme (`source_key`), so
importing the same table twice creates nothing new.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time
from typing import Any

import sqlalchemy as sa
from sqlalchemy import insert
from sqlmodel import Session, col, select

from models import Campaign, Event, EventState, Timer, TransitionLog, Unit
from workflows.campaign.rules import CampaignRules
from workflows.escalation import service as escalation
from workflows.escalation.batch import NotifyConfig, audience_for
from workflows.event import machine as event_machine
from workflows.filing import timers as filing
from workflows.kernel import audit
from workflows.kernel.errors import DomainError
from workflows.kernel.visibility import Actor
from workflows.schedule.dates import DatePhraseError, ParsedWhen, parse_when
from workflows.schedule.tables import RawRow, RawTable, infer_unit_kind
from workflows.workdays import deadlines

REQUIRED = {"unit": "单位名称", "theme": "活动主题", "when": "开展时间"}
# The longest cell each column's database field holds (models/unit.py, models/event.py);
# PostgreSQL refuses longer values, so they are row errors here rather than a failed write.
MAX_CHARS = {
    "unit": ("单位名称", 100),
    "theme": ("活动主题", 300),
    "when": ("开展时间", 100),
    "location": ("地点", 300),
}
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class RowIssue:
    """A problem of one row (or of the whole table when row is None)."""

    severity: str  # "error" or "warning"
    row: int | None
    column: str | None
    code: str
    message: str
    message_en: str


@dataclass
class PlannedEvent:
    """One row as it would be (or was) imported."""

    row: int
    seq: int | None
    unit_name: str
    unit_kind: str
    new_unit: bool
    theme: str
    date_text: str
    earliest: date
    latest: date
    tentative: bool
    location: str | None
    exists: bool  # already imported earlier: nothing will be written for it
    duplicate_of: int | None = None  # the earlier row of this file with the same unit and theme
    start_time: time | None = None  # local time of day, when the table gives one
    end_time: time | None = None
    # An event imported earlier whose dates this table changes: applied as a reschedule.
    existing_event_id: int | None = None
    reschedule_from: tuple[date, date] | None = None
    # The last day of an event over several days (9月16日、17日): its first day is `earliest`.
    planned_until: date | None = None


@dataclass
class ImportReport:
    """What an import found and did; the CLI prints it, the API answers it as JSON."""

    source_format: str
    encoding: str | None
    rows: int
    events: list[PlannedEvent] = field(default_factory=list)
    issues: list[RowIssue] = field(default_factory=list)
    unknown_columns: list[str] = field(default_factory=list)
    dry_run: bool = False
    committed: bool = False
    created_units: int = 0
    created_events: int = 0
    existing_events: int = 0
    rescheduled_events: int = 0
    # What importing would set off at once: new events whose hold deadline already passed, the
    # escalation timers they would arm already due, and the notifications those would send.
    past_events: int = 0
    past_escalations: int = 0
    past_notifications: int = 0  # sent at once (one by one, and the log)
    # In digest mode: the notices that would wait for the digest hour instead, and how many
    # digests (one per recipient) they would wait in.
    past_digested: int = 0
    past_digests: int = 0
    past_digest_hour: int = 9

    @property
    def errors(self) -> list[RowIssue]:
        """Issues that block the import."""
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[RowIssue]:
        """Issues that block the import unless accepted."""
        return [i for i in self.issues if i.severity == "warning"]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        body = asdict(self)
        body["error_count"] = len(self.errors)
        body["warning_count"] = len(self.warnings)
        return body


def source_key(unit_name: str, theme: str) -> str:
    """The identity of an imported row within its campaign: unit and theme, spaces folded."""
    return f"{_fold(unit_name)}|{_fold(theme)}"


def _fold(text: str) -> str:
    return _SPACES.sub(" ", text.replace("\u3000", " ")).strip()


def plan_import(
    session: Session,
    campaign: Campaign,
    table: RawTable,
    *,
    now: datetime | None = None,
    notify: NotifyConfig | None = None,
) -> ImportReport:
    """Validate every row and work out what would be created; writes nothing.

    Given `now`, the report also counts the escalations the new events would arm already due
    (`note_past_escalations`), so a preview can say what importing would send at once.
    """
    report = ImportReport(
        source_format=table.source_format,
        encoding=table.encoding,
        rows=len(table.rows),
        unknown_columns=list(table.unknown_columns),
    )
    _note_ignored_columns(table, report)
    units = {u.name: u for u in session.exec(_units_of(campaign)).all()}
    existing = _imported_keys(session, campaign)
    seen: dict[str, int] = {}
    for raw in table.rows:
        planned = _plan_row(raw, campaign, report.issues)
        if planned is None:
            continue
        planned.new_unit = planned.unit_name not in units
        key = source_key(planned.unit_name, planned.theme)
        planned.exists = key in existing
        if planned.exists and key not in seen:
            _note_date_change(planned, existing[key], report.issues)
        if key in seen:
            planned.duplicate_of = seen[key]
            report.issues.append(_duplicate_issue(raw.row_number, seen[key]))
        else:
            seen[key] = raw.row_number
        report.events.append(planned)
    if now is not None:
        note_past_escalations(session, campaign, report, now, notify)
    return report


def _new_events(report: ImportReport) -> list[PlannedEvent]:
    """The planned rows that become new events (not imported before, not a repeat)."""
    return [p for p in report.events if not p.exists and p.duplicate_of is None]


def note_past_escalations(
    session: Session,
    campaign: Campaign,
    report: ImportReport,
    now: datetime,
    notify: NotifyConfig | None = None,
) -> None:
    """Count what importing would set off at once, into `report.past_*`.

    The hold timers are worked out by the same code the import writes them with
    (`deadlines.hold_timer_rows`); an escalation due at or before `now` fires on the scheduler's
    next pass, and each sends one notification per recipient (`escalation.recipients`, with the
    service's channel settings `notify`; without them, the log channel alone).
    """
    planned = _new_events(report)
    rules = CampaignRules.of(campaign.rules)
    rows = deadlines.hold_timer_rows(
        range(len(planned)),
        [p.latest for p in planned],
        rules,
        deadlines.load_calendar(session),
        now,
    )
    units = {u.name: u for u in session.exec(_units_of(campaign)).all()}
    config = notify or NotifyConfig()
    audiences: dict[tuple[str, int], list[escalation.Recipient]] = {}
    events, escalations, at_once, digested = set(), 0, 0, 0
    waiting: set[tuple[str, str]] = set()  # (channel, address): one digest each
    for row in rows:
        if row["kind"] != deadlines.ESCALATION or row["due_at"] > now:
            continue
        event = planned[row["subject_id"]]
        events.add(row["subject_id"])
        escalations += 1
        key = (event.unit_name, row["level"])
        if key not in audiences:
            unit = units.get(event.unit_name) or Unit(
                district_id=campaign.district_id,
                name=event.unit_name,
                kind=event.unit_kind,
                created_at=now,
            )  # a new unit has no contacts yet: the log channel (and supervisors) only
            audience = audience_for(row["kind"], row["level"], rules)
            audiences[key] = escalation.recipients(session, audience, unit, config)
        for r in audiences[key]:
            if _takes_digest(r, rules):
                digested += 1
                waiting.add((r.channel, r.address))
            else:
                at_once += 1
    report.past_events, report.past_escalations = len(events), escalations
    report.past_notifications, report.past_digested = at_once, digested
    report.past_digests, report.past_digest_hour = len(waiting), rules.digest_hour


def _takes_digest(recipient: escalation.Recipient, rules: CampaignRules) -> bool:
    """Whether a recipient's notice waits for the digest hour (as the escalating worker
    decides it: the recipient's choice, else the campaign's; the log records at once)."""
    if recipient.channel in escalation.INLINE_CHANNELS:
        return False
    return (recipient.delivery or rules.escalation_delivery) == "digest"


def _note_ignored_columns(table: RawTable, report: ImportReport) -> None:
    """Warn about columns whose cells are not imported: unknown headers, and no header at all."""
    for header in table.unknown_columns:
        report.issues.append(
            RowIssue(
                "warning",
                None,
                header,
                "unknown_column",
                f"未识别的列“{header}”，其内容不会导入",
                f"unknown column '{header}'; its cells are not imported",
            )
        )
    # Cells under a blank header (or past the last one) are not imported either: say so.
    unlabelled: dict[str, list[int]] = {}
    for raw in table.rows:
        for name, text in raw.extra.items():
            if text and name not in table.unknown_columns:
                unlabelled.setdefault(name, []).append(raw.row_number)
    for name, rows in unlabelled.items():
        shown = "、".join(map(str, rows[:5])) + ("…" if len(rows) > 5 else "")
        report.unknown_columns.append(name)
        report.issues.append(
            RowIssue(
                "warning",
                rows[0],
                name,
                "unlabelled_column",
                f"{name}没有表头，其内容（第 {shown} 行）不会导入",
                f"column '{name}' has no header; its cells (rows {shown.replace('、', ', ')}) "
                "are not imported",
            )
        )


def _imported_keys(session: Session, campaign: Campaign) -> dict[str, Any]:
    """The campaign's events imported earlier, by source key: (id, earliest, latest, state)."""
    rows = session.execute(  # five columns: sqlmodel's select() is typed for at most four
        sa.select(
            col(Event.source_key),
            col(Event.id),
            col(Event.date_earliest),
            col(Event.date_latest),
            col(Event.state),
        ).where(col(Event.campaign_id) == campaign.id, col(Event.source_key).is_not(None))
    ).all()
    return {key: (eid, earliest, latest, state) for key, eid, earliest, latest, state in rows}


def _note_date_change(planned: PlannedEvent, known: Any, issues: list[RowIssue]) -> None:
    """A row of an event imported earlier whose dates differ: shown in the preview as a
    warning (so applying it is an explicit choice) and applied as a reschedule."""
    event_id, earliest, latest, state = known
    if (earliest, latest) == (planned.earliest, planned.latest):
        return
    old = earliest.isoformat() if earliest == latest else f"{earliest}–{latest}"
    new = (
        planned.earliest.isoformat()
        if planned.earliest == planned.latest
        else f"{planned.earliest}–{planned.latest}"
    )
    if state not in (EventState.planned, EventState.invited):
        issues.append(
            RowIssue(
                "warning",
                planned.row,
                "开展时间",
                "date_changed_after_held",
                f"第 {planned.row} 行：活动已开展或已结束，日期 {old} → {new} 的变更不会导入",
                f"row {planned.row}: the event is past planning; the date change {old} → {new} "
                "is not imported",
            )
        )
        return
    planned.existing_event_id, planned.reschedule_from = event_id, (earliest, latest)
    issues.append(
        RowIssue(
            "warning",
            planned.row,
            "开展时间",
            "date_changed",
            f"第 {planned.row} 行：日期由 {old} 改为 {new}，导入时将按改期办理",
            f"row {planned.row}: the date changes from {old} to {new}; the import reschedules it",
        )
    )


def _duplicate_issue(row: int, first: int) -> RowIssue:
    """The warning for a row that repeats an earlier row's unit and theme."""
    return RowIssue(
        "warning",
        row,
        None,
        "duplicate_row",
        f"第 {row} 行与第 {first} 行的单位和主题相同，只导入一次",
        f"row {row} repeats row {first} (same unit and theme); imported once",
    )


def _plan_row(raw: RawRow, campaign: Campaign, issues: list[RowIssue]) -> PlannedEvent | None:
    """One row as a planned event, its problems added to issues; None when it cannot be."""
    n = raw.row_number
    cell_errors = _cell_errors(raw)
    issues.extend(cell_errors)
    if cell_errors:
        return None
    date_text = raw.cells["when"].strip()
    when = _row_when(n, date_text, campaign, issues)
    if when is None:
        return None
    unit_name = _fold(raw.cells["unit"])
    seq_text = raw.cells.get("seq", "").strip()
    if when.earliest < campaign.starts_on or when.latest > campaign.ends_on:
        issues.append(_outside_window_issue(n, seq_text, unit_name, date_text, campaign))
    seq = int(seq_text) if seq_text.isdigit() else None
    if seq_text and seq is None:
        issues.append(
            RowIssue(
                "warning",
                n,
                "序号",
                "seq_not_a_number",
                f"第 {n} 行序号“{seq_text}”不是数字，已忽略",
                f"row {n}: 序号 '{seq_text}' is not a number; ignored",
            )
        )
    return PlannedEvent(
        row=n,
        seq=seq,
        unit_name=unit_name,
        unit_kind=infer_unit_kind(unit_name),
        new_unit=False,
        theme=_fold(raw.cells["theme"]),
        date_text=date_text,
        earliest=when.earliest,
        latest=when.latest,
        tentative=when.tentative,
        location=_fold(raw.cells.get("location", "")) or None,
        exists=False,
        start_time=when.start_time,
        end_time=when.end_time,
        planned_until=when.latest if when.precision == "multiday" else None,
    )


def _cell_errors(raw: RawRow) -> list[RowIssue]:
    """Blank required cells, then cells longer than their database column holds."""
    n = raw.row_number
    errors = [
        RowIssue(
            "error",
            n,
            header,
            "required_cell_blank",
            f"第 {n} 行“{header}”为空",
            f"row {n}: '{header}' is blank",
        )
        for key, header in REQUIRED.items()
        if not raw.cells.get(key, "").strip()
    ]
    for key, (header, limit) in MAX_CHARS.items():
        length = len(_fold(raw.cells.get(key, "")))
        if length > limit:
            errors.append(
                RowIssue(
                    "error",
                    n,
                    header,
                    "cell_too_long",
                    f"第 {n} 行“{header}”有 {length} 个字，最多 {limit} 个",
                    f"row {n}: '{header}' is {length} characters long; at most {limit} fit",
                )
            )
    return errors


def _row_when(
    n: int, date_text: str, campaign: Campaign, issues: list[RowIssue]
) -> ParsedWhen | None:
    """The row's 开展时间 as dates, warnings added to issues; None (an error added) if unread."""
    try:
        when: ParsedWhen = parse_when(date_text, campaign.starts_on.year)
        if when.latest < campaign.starts_on and campaign.ends_on.year > campaign.starts_on.year:
            # A campaign across the new year: a year-less "1月10日" belongs to its later year.
            later = parse_when(date_text, campaign.ends_on.year)
            if later.earliest <= campaign.ends_on:
                when = later
    except DatePhraseError as exc:
        issues.append(
            RowIssue(
                "error",
                n,
                REQUIRED["when"],
                exc.code,
                f"第 {n} 行“开展时间”：{exc.message_zh}",
                f"row {n}, '开展时间': {exc.message_en}",
            )
        )
        return None
    issues.extend(
        RowIssue(
            "warning",
            n,
            REQUIRED["when"],
            w.code,
            f"第 {n} 行：{w.message_zh}",
            f"row {n}: {w.message_en}",
        )
        for w in when.warnings
    )
    return when


def _outside_window_issue(
    n: int, seq_text: str, unit_name: str, date_text: str, campaign: Campaign
) -> RowIssue:
    """The warning for a row dated (partly) outside the campaign window."""
    label = f"（序号 {seq_text}）" if seq_text else ""
    return RowIssue(
        "warning",
        n,
        REQUIRED["when"],
        "outside_campaign_window",
        f"第 {n} 行{label} {unit_name}“{date_text}”不在活动时间 {campaign.starts_on}至"
        f"{campaign.ends_on} 内",
        f"row {n}{f' (No. {seq_text})' if seq_text else ''} {unit_name} '{date_text}' "
        f"falls outside the campaign window {campaign.starts_on} to {campaign.ends_on}",
    )


def apply_import(
    session: Session,
    campaign: Campaign,
    report: ImportReport,
    *,
    accept_warnings: bool,
    actor: Actor,
    now: datetime,
    confirm_past_escalations: bool = False,
    notify: NotifyConfig | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Write what `plan_import` planned, in the caller's transaction; refuse while issues stand,
    and while the import would send escalations at once without `confirm_past_escalations`."""
    if report.errors:
        raise ImportRefused(report, "errors")
    if report.warnings and not accept_warnings:
        raise ImportRefused(report, "warnings")
    note_past_escalations(session, campaign, report, now, notify)
    if report.past_escalations and not confirm_past_escalations:
        raise ImportRefused(report, "past_escalations")
    units = _create_units(session, campaign, report, now)
    rows: list[dict[str, Any]] = []
    source_rows: list[int] = []
    for planned in report.events:
        if planned.exists or planned.duplicate_of is not None:
            # A repeated row of an existing event is one existing event, not two.
            report.existing_events += planned.exists and planned.duplicate_of is None
            continue
        rows.append(_event_values(planned, campaign, units[planned.unit_name], now))
        source_rows.append(planned.row)
    _insert_events(session, campaign, rows, source_rows, actor, now, progress)
    report.rescheduled_events = _reschedule_changed(session, report, actor, now)
    if rows:
        deadlines.wake_schedulers(session)
    report.created_events = len(rows)
    report.committed = True
    return report


def _reschedule_changed(session: Session, report: ImportReport, actor: Actor, now: datetime) -> int:
    """Apply each changed date as a reschedule move (reason: the import), with its guards."""
    done = 0
    for planned in report.events:
        if planned.existing_event_id is None or planned.duplicate_of is not None:
            continue
        event = session.exec(
            select(Event).where(Event.id == planned.existing_event_id).with_for_update()
        ).one()
        old = f"{planned.reschedule_from[0]}–{planned.reschedule_from[1]}"  # type: ignore[index]
        event_machine.fire(
            session,
            event,
            "reschedule",
            expected_version=event.version,
            actor=actor,
            now=now,
            reason=f"重新导入日程表（第 {planned.row} 行）：日期由 {old} 改为 "
            f"{planned.earliest}–{planned.latest}",
            data={"earliest": planned.earliest, "latest": planned.latest},
        )
        event.planned_until = planned.planned_until  # the row's days, after the move's window
        done += 1
    return done


def _units_of(campaign: Campaign) -> Any:
    """The units of the campaign's district: a name in the table is looked up there only (the
    same name may be another district's unit)."""
    return select(Unit).where(Unit.district_id == campaign.district_id)


def _create_units(
    session: Session, campaign: Campaign, report: ImportReport, now: datetime
) -> dict[str, int | None]:
    """Add the units the plan names that do not exist yet in the campaign's district; every
    unit's id by name."""
    units = {u.name: u.id for u in session.exec(_units_of(campaign)).all()}
    new_units: dict[str, Unit] = {}
    for planned in report.events:
        if planned.unit_name not in units and planned.unit_name not in new_units:
            new_units[planned.unit_name] = Unit(
                district_id=campaign.district_id,
                name=planned.unit_name,
                kind=planned.unit_kind,
                created_at=now,
            )
    session.add_all(new_units.values())
    session.flush()  # one batched INSERT … RETURNING for all new units, not one per unit
    units.update({name: unit.id for name, unit in new_units.items()})
    report.created_units += len(new_units)
    return units


def _event_values(
    planned: PlannedEvent, campaign: Campaign, unit_id: int | None, now: datetime
) -> dict[str, Any]:
    """The column values of one new event row."""
    return {
        "campaign_id": campaign.id,
        "unit_id": unit_id,
        "seq": planned.seq,
        "source_key": source_key(planned.unit_name, planned.theme),
        "theme": planned.theme,
        "date_earliest": planned.earliest,
        "date_latest": planned.latest,
        "date_text": planned.date_text,
        "tentative": planned.tentative,
        "planned_until": planned.planned_until,
        "location": planned.location,
        "start_time": planned.start_time,
        "end_time": planned.end_time,
        "forms": [],
        "state": EventState.planned.value,
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }


def _insert_events(
    session: Session,
    campaign: Campaign,
    rows: list[dict[str, Any]],
    source_rows: list[int],
    actor: Actor,
    now: datetime,
    progress: Callable[[int], None] | None,
) -> None:
    """Insert events with their creation log lines and hold timers, a thousand at a time."""
    rules = CampaignRules.of(campaign.rules)
    calendar = deadlines.load_calendar(session)
    batch = 1000
    for start in range(0, len(rows), batch):
        chunk = rows[start : start + batch]
        # sort_by_parameter_order: ids come back in the order of the rows, to pair with their logs.
        stmt = insert(Event).returning(col(Event.id), sort_by_parameter_order=True)
        ids = session.execute(stmt, chunk).scalars().all()
        logs = [
            {
                "event_id": event_id,
                "trigger": "create",
                "from_state": None,
                "to_state": EventState.planned.value,
                "version": 1,
                "actor_id": actor.id,
                "actor_name": actor.name,
                "at": now,
                "reason": "导入活动安排表",
                "data": {"import_row": row, "date_text": values["date_text"]},
            }
            for event_id, row, values in zip(
                ids, source_rows[start : start + batch], chunk, strict=True
            )
        ]
        audit.seal(session, TransitionLog, logs)  # the audit rows' hash chain
        session.execute(insert(TransitionLog), logs)
        session.execute(
            insert(Timer),
            deadlines.hold_timer_rows(
                ids, [values["date_latest"] for values in chunk], rules, calendar, now
            )
            + filing.rows_for_import(
                ids, [values["date_earliest"] for values in chunk], rules, calendar, now
            ),
        )
        if progress:
            progress(len(chunk))


def past_sends(report: ImportReport) -> tuple[str, str]:
    """What importing would send for past events, in Chinese and English: the notifications
    going out at once, and in digest mode those waiting for the digest hour."""
    zh = f"立即发出 {report.past_escalations} 次催办、共 {report.past_notifications} 条通知"
    en = (
        f"sends {report.past_escalations} escalations ({report.past_notifications} "
        "notifications) at once"
    )
    if report.past_digested:
        hour = f"{report.past_digest_hour:02d}:00"
        zh += (
            f"，另有 {report.past_digested} 条通知并入 {report.past_digests} 份催办汇总，"
            f"于 {hour} 发出"
        )
        en += f", {report.past_digested} more wait in {report.past_digests} digests sent at {hour}"
    return zh, en


class ImportRefused(DomainError):
    """The import has errors, or warnings not accepted; nothing was written (HTTP 422).

    ``report`` is the whole import report: the API answers it as ``error.report`` and the CLI
    prints it; ``details`` holds only the counts.
    """

    status = 422

    def __init__(self, report: ImportReport, why: str) -> None:
        counts = {"errors": len(report.errors), "warnings": len(report.warnings)}
        counts["past_events"] = report.past_events
        counts["past_escalations"] = report.past_escalations
        counts["past_notifications"] = report.past_notifications
        counts["past_digested"] = report.past_digested
        counts["past_digests"] = report.past_digests
        if why == "errors":
            super().__init__(
                "import_has_errors",
                f"导入文件有 {len(report.errors)} 处错误，未导入任何数据",
                f"the file has {len(report.errors)} errors; nothing was imported",
                details=counts,
            )
        elif why == "past_escalations":
            zh, en = past_sends(report)
            super().__init__(
                "import_arms_past_escalations",
                f"导入后有 {report.past_events} 个活动的开展期限已过，将{zh}；"
                "确认无误后请加 --confirm-past-escalations（API：confirm_past_escalations=true；"
                "页面：勾选确认）再导入；未导入任何数据",
                f"{report.past_events} events of this import are past their date: importing "
                f"{en}; re-run with --confirm-past-escalations (API: "
                "confirm_past_escalations=true) to import anyway; nothing was imported",
                details=counts,
            )
        else:
            super().__init__(
                "import_has_warnings",
                f"导入文件有 {len(report.warnings)} 处警告，确认无误后请加 --accept-warnings "
                "（API：accept_warnings=true）再导入；未导入任何数据",
                f"the file has {len(report.warnings)} warnings; re-run with --accept-warnings "
                "(API: accept_warnings=true) to import anyway; nothing was imported",
                details=counts,
            )
        self.report = report
