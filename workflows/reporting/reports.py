"""The campaign report per unit, and the facts it and the assessment read.

`collect` reads a campaign with one aggregate query (GROUP BY unit) per source — events,
invitees, opinions, extensions, summaries and their logs, spot checks, escalations — so the
database does the counting and Python only sees a row per unit. The assessment also needs the
records behind its deductions (event ids, opinion ids, log ids); `records=True` adds one
filtered query per kind of deduction, which returns only the deviating records.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from models import (
    OPEN_FEEDBACK_STATES,
    Campaign,
    CancellationRequest,
    CancellationState,
    Event,
    EventForm,
    EventState,
    EventTally,
    ExtensionRequest,
    FeedbackItem,
    FeedbackState,
    Invitee,
    Notification,
    Rectification,
    RectificationState,
    SiteVisit,
    SpotCheck,
    SpotCheckResult,
    Summary,
    TransitionLog,
    Unit,
)
from workflows.accounts import districts, unit_history
from workflows.campaign import service as campaigns
from workflows.campaign.rules import CampaignRules
from workflows.feedback import tally
from workflows.kernel.clock import LOCAL_TZ, local_date
from workflows.kernel.visibility import SOLE_OFFICE, SYSTEM, Actor, UnitScope, scope, within
from workflows.reporting import ratings
from workflows.reporting.exports import Column, Sheet, backdated_note

HOLD_OPEN = (EventState.planned, EventState.invited)
CATEGORIES = ("npc_deputy", "cppcc_member", "citizen")

# Report columns: key, Chinese header (the page, the xlsx and the JSON share them). How the
# 开展 columns read cancelled events is said in NOTES (the page shows them under the table).
COLUMNS: list[tuple[str, str]] = [
    ("events", "活动数"),
    ("due", "已到期"),
    ("cancelled", "已取消"),
    ("cancelled_exempt", "取消不计扣分"),
    ("held", "已开展"),
    ("held_on_time", "按期开展"),
    ("held_late", "逾期开展"),
    ("not_held_overdue", "逾期未开展"),
    ("invitees", "邀请人数"),
    ("npc_deputy", "人大代表"),
    ("cppcc_member", "政协委员"),
    ("citizen", "市民代表"),
    ("citizen_targeted", "定向邀请"),
    ("citizen_public", "公开邀请"),
    ("attended", "出席人数"),
    ("attended_citizens", "出席市民代表"),
    ("flag_invitee_count", "邀请人数偏离"),
    ("flag_citizen_share", "市民代表比例不足"),
    ("form_office_visit", "参观机关办公场所"),
    ("form_site_visit", "现场参观考察"),
    ("form_dialogue", "政民恳谈交流"),
    ("form_feedback", "意见反馈"),
    ("flag_leader", "无负责人出面"),
    ("opinions", "意见建议"),
    ("answered", "已答复"),
    ("answered_not_told", "已答复未送达"),
    ("answered_on_time", "按时答复"),
    ("answered_late", "逾期答复"),
    ("open_overdue", "逾期未答复"),
    ("answered_backdated", "补录答复"),
    ("workdays_late", "累计超期工作日"),
    ("extensions", "申请延期"),
    ("extensions_approved", "批准延期"),
    *ratings.COLUMNS,
    ("summaries", "已报送总结"),
    ("summaries_on_time", "总结按时"),
    ("summaries_late", "总结逾期"),
    ("summaries_missing", "总结逾期未报送"),
    ("reworks", "退回整改"),
    ("spot_satisfactory", "抽查合格（轮）"),
    ("spot_needs_improvement", "抽查需整改（轮）"),
    ("spot_unsatisfactory", "抽查不合格（轮）"),
    ("visits", "现场走访"),
    ("visit_problems", "走访发现问题"),
    ("rectifications", "整改通知"),
    ("rectifications_closed", "整改已销号"),
    ("rectifications_overdue", "整改逾期"),
    ("escalations_level_1", "一级催办"),
    ("escalations_level_2", "二级催办"),
]
# The columns in groups, in COLUMNS' order: the report page's and the xlsx's two header rows.
COLUMN_GROUPS: list[tuple[str, tuple[str, ...]]] = [
    ("开展", ("events", "due", "cancelled", "cancelled_exempt", "held", "held_on_time",
              "held_late", "not_held_overdue")),
    ("邀请与出席", ("invitees", "npc_deputy", "cppcc_member", "citizen", "citizen_targeted",
                    "citizen_public", "attended", "attended_citizens", "flag_invitee_count",
                    "flag_citizen_share")),
    ("实际开展形式", ("form_office_visit", "form_site_visit", "form_dialogue", "form_feedback",
                      "flag_leader")),
    ("意见", ("opinions", "answered", "answered_not_told", "answered_on_time", "answered_late",
              "open_overdue", "answered_backdated", "workdays_late", "extensions",
              "extensions_approved")),
    ("回访满意度", tuple(k for k, _ in ratings.COLUMNS)),
    ("总结", ("summaries", "summaries_on_time", "summaries_late", "summaries_missing", "reworks")),
    ("抽查", ("spot_satisfactory", "spot_needs_improvement", "spot_unsatisfactory")),
    ("走访与整改", ("visits", "visit_problems", "rectifications", "rectifications_closed",
                    "rectifications_overdue")),
    ("催办", ("escalations_level_1", "escalations_level_2")),
]  # fmt: skip


NOTES: list[tuple[str, str]] = [  # a city of one district's words: see notes()
    ("活动数", "该单位的全部活动，含已取消的。"),
    ("已到期", "已开展的活动，加上最晚开展日期已过的活动（含已取消的，经批准不计扣分的除外）；"
               "“按期开展”的比例以此为分母，尚未到期的活动不计入。"),
    ("已取消", "经区政府办批准（或由区政府办直接）取消的活动，理由见“已取消的活动”。"),
    ("取消不计扣分", "已取消且经区政府办批准不计扣分的活动，不计入“逾期未开展”，考核不扣分。"),
    ("逾期未开展", "最晚开展日期已过仍未开展的活动，含已取消而计扣分的（取消等同未开展）；"
                 "与考核“活动未开展”的扣分一一对应。"),
    ("补录答复", "答复日期早于录入系统当天的答复（事后补录），"
               "录入人和录入时间见总结报告与意见清单。"),
    ("回访评价", "提出人在查询页面或经电话回访对答复的评价；“不满意”的意见转回重新办理，"
               "经区政府办认定申诉成立的不计入“不满意”，另列“不满意申诉成立”。"),
    ("已答复", "答复已送达提出人（短信、邮件发出或答复信寄出；无署名的意见录入即公开）；"
             "15 个工作日按送达之日计算。“已答复未送达”是已录入答复、尚未送达的意见。"),
]  # fmt: skip


@dataclass
class UnitFacts:
    """One unit's numbers and the records behind the ones the assessment deducts for."""

    unit_id: int
    unit_name: str
    unit_kind: str
    counts: Counter[str] = field(default_factory=Counter)
    held_late: list[dict[str, Any]] = field(default_factory=list)
    not_held: list[dict[str, Any]] = field(default_factory=list)
    flagged: list[dict[str, Any]] = field(default_factory=list)
    late_answers: list[dict[str, Any]] = field(default_factory=list)
    backdated_answers: list[dict[str, Any]] = field(default_factory=list)
    open_overdue: list[dict[str, Any]] = field(default_factory=list)
    late_summaries: list[dict[str, Any]] = field(default_factory=list)
    summary_missing: list[dict[str, Any]] = field(default_factory=list)
    reworks: list[dict[str, Any]] = field(default_factory=list)
    spot_checks: list[dict[str, Any]] = field(default_factory=list)
    visit_problems: list[dict[str, Any]] = field(default_factory=list)
    rectifications_overdue: list[dict[str, Any]] = field(default_factory=list)
    dissatisfied: list[dict[str, Any]] = field(default_factory=list)  # 不满意 that stand
    rectifications: list[dict[str, Any]] = field(default_factory=list)  # every notice, any state
    cancellations: list[dict[str, Any]] = field(default_factory=list)  # approved, any date

    def row(self) -> dict[str, Any]:
        """The report row: the unit and every column's number."""
        out: dict[str, Any] = {
            "unit_id": self.unit_id,
            "unit_name": self.unit_name,
            "unit_kind": self.unit_kind,
        }
        out.update({key: int(self.counts.get(key, 0)) for key, _ in COLUMNS})
        return out


@dataclass
class Facts:
    """A campaign's facts at `now`: per unit, in unit name order."""

    campaign: Campaign
    rules: CampaignRules
    now: datetime
    units: dict[int, UnitFacts]
    office: str = SOLE_OFFICE  # the campaign's district office in words (districts.office_words)


def notes(office: str = SOLE_OFFICE) -> list[tuple[str, str]]:
    """NOTES naming the campaign's district office (经安岳县政府办批准 …)."""
    return [(label, note.replace(SOLE_OFFICE, office)) for label, note in NOTES]


def collect(
    session: Session,
    campaign_id: int,
    now: datetime,
    *,
    unit_id: UnitScope = None,
    records: bool = True,
) -> Facts:
    """The counts per unit (and with `records`, the records the assessment deducts for), for
    every unit with events in the campaign, or only `unit_id`'s."""
    campaign = campaigns.get(session, campaign_id, SYSTEM)
    return collect_many(session, [campaign], now, unit_id=unit_id, records=records)[campaign_id]


def collect_many(
    session: Session,
    chosen: Sequence[Campaign],
    now: datetime,
    *,
    unit_id: UnitScope = None,
    records: bool = True,
) -> dict[int, Facts]:
    """`collect` for several campaigns of different districts at once (全市对比: each
    district's campaign of the year), each query sent once for all of them; the facts per
    campaign id. A unit belongs to one district and an event's campaign is of its unit's
    district, so no unit has events in two of the campaigns (checked)."""
    if not chosen:
        return {}
    by_id = {c.id: c for c in chosen if c.id is not None}
    scope = _Scope(tuple(by_id), unit_id, records)
    merged = Facts(chosen[0], CampaignRules.of(chosen[0].rules), now, {})
    campaign_of = _events(session, merged, scope, local_date(now))
    # Each unit under the name it had when its campaign started (issue 30).
    starts: dict[date, list[int]] = {}
    for unit, cid in campaign_of.items():
        starts.setdefault(by_id[cid].starts_on, []).append(unit)
    for day, unit_ids in starts.items():
        for unit, name in unit_history.names_on(session, unit_ids, day).items():
            merged.units[unit].unit_name = name
    if merged.units:
        for count in (
            _invitees, _flags, _opinions, _extensions, _summaries, _spot_checks, _oversight,
            _escalations, _cancellations, _ratings,
        ):  # fmt: skip
            count(session, merged, scope)
        if records:
            _records(session, merged, scope, local_date(now))
    offices = districts.offices(session, (c.district_id for c in chosen))
    merged.office = offices[chosen[0].district_id]
    out = {
        cid: Facts(c, CampaignRules.of(c.rules), now, {}, offices[c.district_id])
        if len(by_id) > 1
        else merged
        for cid, c in by_id.items()
    }
    if len(by_id) > 1:
        for unit, facts in merged.units.items():  # unit name order kept
            out[campaign_of[unit]].units[unit] = facts
    return out


def collect_for(
    session: Session, actor: Actor, campaign_id: int, now: datetime, *, records: bool = True
) -> Facts:
    """The campaign's facts as `actor` may see them (with the records behind deductions when
    `records`): staff see their own unit's row only; another district's campaign is 404."""
    campaigns.get(session, campaign_id, actor)
    return collect(session, campaign_id, now, unit_id=scope(actor, None), records=records)


@dataclass(frozen=True)
class _Scope:
    campaign_ids: tuple[int, ...]  # one, or each district's campaign (全市对比)
    unit_id: UnitScope
    # The records behind deductions are read too: counts equal to a list's length are taken
    # from the list (one statement less each) instead of being counted apart.
    records: bool = False

    def campaigns(self) -> Any:
        """The condition on `event.campaign_id`."""
        if len(self.campaign_ids) == 1:
            return col(Event.campaign_id) == self.campaign_ids[0]
        return col(Event.campaign_id).in_(self.campaign_ids)

    def events(self, stmt: Any) -> Any:
        """`stmt` (which joins or selects `event`) narrowed to the campaigns and unit."""
        return within(stmt.where(self.campaigns()), col(Event.unit_id), self.unit_id)


def _n(condition: Any) -> Any:
    """COUNT of the group's rows meeting `condition` (portable: SUM of a CASE)."""
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def _add(facts: Facts, unit_id: int, values: dict[str, Any]) -> None:
    u = facts.units.get(unit_id)
    if u is None:  # a record whose unit has no event in the campaign: not the report's
        return
    for key, n in values.items():
        if n:
            u.counts[key] += int(n)


def _exempt() -> Any:
    """The event's cancellation was approved 不计扣分 (exempt from "not held")."""
    return (
        sa.select(col(CancellationRequest.id))
        .where(
            col(CancellationRequest.event_id) == Event.id,
            col(CancellationRequest.state) == CancellationState.approved,
            col(CancellationRequest.exempt).is_(True),
        )
        .exists()
    )


def _not_held_due(today: date) -> Any:
    """Events whose last day has passed unheld: still open, or cancelled and not exempt
    (cancelling costs what not holding costs unless a supervisor exempted it)."""
    cancelled = col(Event.state) == EventState.cancelled
    return sa.and_(
        col(Event.held_on).is_(None),
        col(Event.date_latest) < today,
        sa.or_(col(Event.state).in_(HOLD_OPEN), sa.and_(cancelled, ~_exempt())),
    )


def _events(session: Session, facts: Facts, scope: _Scope, today: date) -> dict[int, int]:
    """The units with events, their counts; each unit's campaign."""
    live = col(Event.state) != EventState.cancelled
    cancelled = col(Event.state) == EventState.cancelled
    held = sa.and_(live, col(Event.held_on).is_not(None))
    forms = sa.cast(col(Event.forms_held), sa.Text)  # the forms held, not those planned
    stmt = scope.events(
        sa.select(
            col(Unit.id), col(Unit.name), col(Unit.kind),
            sa.func.count().label("events"),
            _n(sa.or_(held, _not_held_due(today))).label("due"),
            _n(cancelled).label("cancelled"),
            _n(sa.and_(cancelled, _exempt())).label("cancelled_exempt"),
            _n(held).label("held"),
            _n(sa.and_(held, col(Event.held_on) <= Event.date_latest)).label("held_on_time"),
            _n(sa.and_(held, col(Event.held_on) > Event.date_latest)).label("held_late"),
            _n(_not_held_due(today)).label("not_held_overdue"),
            *(_n(sa.and_(held, forms.like(f'%"{f.value}"%'))).label(f"form_{f.value}")
              for f in EventForm),
            sa.func.min(col(Event.campaign_id)).label("first_campaign"),
            sa.func.max(col(Event.campaign_id)).label("last_campaign"),
        ).join(Unit, col(Unit.id) == Event.unit_id)
    ).group_by(col(Unit.id), col(Unit.name), col(Unit.kind)).order_by(
        col(Unit.name), col(Unit.id)
    )  # fmt: skip
    campaign_of: dict[int, int] = {}
    for r in session.execute(stmt).mappings():
        if r["first_campaign"] != r["last_campaign"]:  # never: an event's campaign is its unit's
            raise ValueError(f"unit {r['id']} has events in two of the campaigns compared")
        campaign_of[r["id"]] = r["first_campaign"]
        u = facts.units[r["id"]] = UnitFacts(r["id"], r["name"], r["kind"])
        u.counts.update({k: int(v) for k, v in r.items() if k not in EVENT_KEYS and v})
    return campaign_of


# The `_events` columns that are not counts.
EVENT_KEYS = ("id", "name", "kind", "first_campaign", "last_campaign")


def _invitees(session: Session, facts: Facts, scope: _Scope) -> None:
    citizen = col(Invitee.category) == "citizen"
    attended = col(Invitee.attended).is_(True)
    stmt = scope.events(
        sa.select(
            col(Event.unit_id),
            sa.func.count().label("invitees"),
            *(_n(col(Invitee.category) == c).label(c) for c in CATEGORIES),
            _n(sa.and_(citizen, col(Invitee.invitation) == "targeted")).label("citizen_targeted"),
            _n(sa.and_(citizen, col(Invitee.invitation) == "public")).label("citizen_public"),
            _n(attended).label("attended"),
            _n(sa.and_(attended, citizen)).label("attended_citizens"),
        )
        .join_from(Invitee, Event, col(Event.id) == Invitee.event_id)
        .where(col(Invitee.invited).is_(True))
    ).group_by(col(Event.unit_id))  # fmt: skip
    for r in session.execute(stmt).mappings():
        _add(facts, r["unit_id"], {k: v for k, v in r.items() if k != "unit_id"})


def _flags(session: Session, facts: Facts, scope: _Scope) -> None:
    """Events whose record carries flagged deviations (few): a count per unit and rule (an
    event counts once per rule, whether flagged at invite, at hold or both), and each event's
    flags for the assessment."""
    stmt = scope.events(
        sa.select(col(Event.unit_id), col(Event.id), col(Event.flags)).where(
            col(Event.flags).is_not(None), col(Event.state) != EventState.cancelled
        )
    ).order_by(col(Event.id))
    for r in session.execute(stmt):
        u = facts.units.get(r.unit_id)
        if u is None:
            continue
        by_rule: dict[str, list[dict[str, Any]]] = {}
        for f in r.flags or []:
            by_rule.setdefault(f["rule"], []).append(f)
        for rule, found in by_rule.items():
            u.counts[f"flag_{rule}"] += 1
            u.flagged.append({"event_id": r.id, "rule": rule, "flags": found})


def _opinions(session: Session, facts: Facts, scope: _Scope) -> None:
    """The opinion counts: those of the opinions' own columns from the tally kept with every
    write (workflows/feedback/tally.py: answered counts when it reached the person, issue 26),
    those of the clock (overdue now) from the open opinions' partial indexes."""
    for r in tally.counts(session, scope.campaign_ids, scope.unit_id):
        _add(facts, r["unit_id"], {k: v for k, v in r.items() if k != "unit_id"})
    if scope.records:  # counted from the records (_opinion_records), not apart
        return
    for where in _open_overdue_parts(facts.now):
        stmt = scope.events(
            sa.select(col(FeedbackItem.unit_id), sa.func.count().label("open_overdue"))
            .join_from(FeedbackItem, Event, col(Event.id) == FeedbackItem.event_id)
            .where(*where)
        ).group_by(col(FeedbackItem.unit_id))
        for r in session.execute(stmt).mappings():
            _add(facts, r["unit_id"], {"open_overdue": r["open_overdue"]})


def _backdated(session: Session) -> Any:
    """An answer typed in after the local day it was given (补录): answered_on before the local
    (Asia/Shanghai, no daylight saving) day of answered_at."""
    at = col(FeedbackItem.answered_at)
    if session.get_bind().dialect.name == "postgresql":
        typed_on: Any = sa.cast(sa.func.timezone(LOCAL_TZ.key, at), sa.Date)
    else:  # SQLite keeps naive UTC text; its date() shifts it to the local day
        typed_on = sa.func.date(at, "+8 hours")
    answered_on = col(FeedbackItem.answered_on)
    return sa.and_(at.is_not(None), answered_on.is_not(None), answered_on < typed_on)


def _open_overdue(now: datetime) -> Any:
    """Past its due day and the answer not yet with the person (typed or not: issue 26)."""
    return sa.and_(
        col(FeedbackItem.told_at).is_(None),
        col(FeedbackItem.state).in_([*OPEN_FEEDBACK_STATES, FeedbackState.answered]),
        col(FeedbackItem.due_at).is_not(None),
        col(FeedbackItem.due_at) < now,
    )


def _open_overdue_parts(now: datetime) -> list[list[Any]]:
    """`_open_overdue` as two disjoint conditions, each matching a partial index: open
    opinions past due (ix_feedback_item_open_due), answers typed and not told past due
    (ix_feedback_item_answered_not_told)."""
    past_due = [col(FeedbackItem.due_at).is_not(None), col(FeedbackItem.due_at) < now]
    return [
        [col(FeedbackItem.state).in_(OPEN_FEEDBACK_STATES), col(FeedbackItem.told_at).is_(None),
         *past_due],
        [col(FeedbackItem.state) == FeedbackState.answered, col(FeedbackItem.told_at).is_(None),
         *past_due],
    ]  # fmt: skip


def _ratings(session: Session, facts: Facts, scope: _Scope) -> None:
    """回访: ratings per unit, and the 不满意 that stand (issue 26)."""
    rated = ratings.of_campaign(session, scope.campaign_ids, scope.unit_id)
    for unit_id, values in ratings.counts(rated).items():
        _add(facts, unit_id, values)
    for unit_id, found in ratings.dissatisfied_records(rated).items():
        if unit_id in facts.units:
            facts.units[unit_id].dissatisfied.extend(found)


def _extensions(session: Session, facts: Facts, scope: _Scope) -> None:
    stmt = scope.events(
        sa.select(
            col(ExtensionRequest.unit_id),
            sa.func.count().label("extensions"),
            _n(col(ExtensionRequest.state) == "approved").label("extensions_approved"),
        ).join_from(ExtensionRequest, Event, col(Event.id) == ExtensionRequest.event_id)
    ).group_by(col(ExtensionRequest.unit_id))
    for r in session.execute(stmt).mappings():
        _add(facts, r["unit_id"], {k: v for k, v in r.items() if k != "unit_id"})


def _first_late() -> Any:
    """Events whose summary was first submitted late (at least a whole second): the first
    submission decides, as `Event.summary_late_seconds` keeps it (the partial index
    ix_event_summary_late; a literal, so the planner can use it)."""
    return col(Event.summary_late_seconds) >= sa.literal_column("1")


def _first_line() -> Any:
    """The event's first submit_summary line (its id, for the record), by the trigger's partial
    index."""
    return (
        sa.select(sa.func.min(col(TransitionLog.id)))
        .where(
            col(TransitionLog.event_id) == Event.id, col(TransitionLog.trigger) == "submit_summary"
        )
        .correlate(Event)
        .scalar_subquery()
    )


def _summaries(session: Session, facts: Facts, scope: _Scope) -> None:
    submitted = scope.events(
        sa.select(col(Event.unit_id), sa.func.count())
        .join_from(Summary, Event, col(Event.id) == Summary.event_id)
        .where(col(Summary.submitted_at).is_not(None))
    ).group_by(col(Event.unit_id))
    for unit_id, n in session.execute(submitted):
        _add(facts, unit_id, {"summaries": n})
    if not scope.records:  # else counted from the records (_summary_records, _round_records)
        reworks = scope.events(
            sa.select(col(Event.unit_id), sa.func.count())
            .join_from(TransitionLog, Event, col(Event.id) == TransitionLog.event_id)
            .where(col(TransitionLog.trigger) == "return_for_rework")
        ).group_by(col(Event.unit_id))
        for unit_id, n in session.execute(reworks):
            _add(facts, unit_id, {"reworks": n})
        missing = scope.events(
            sa.select(col(Event.unit_id), sa.func.count()).where(_never_submitted(facts.now))
        ).group_by(col(Event.unit_id))
        for unit_id, n in session.execute(missing):
            _add(facts, unit_id, {"summaries_missing": n})
    # On time or late by the first submission, kept per unit in the event tally.
    tallied = within(
        sa.select(
            col(EventTally.unit_id),
            sa.func.sum(col(EventTally.summaries_late)).label("summaries_late"),
            sa.func.sum(col(EventTally.summaries_on_time)).label("summaries_on_time"),
        ).where(col(EventTally.campaign_id).in_(scope.campaign_ids)),
        col(EventTally.unit_id),
        scope.unit_id,
    ).group_by(col(EventTally.unit_id))
    for r in session.execute(tallied).mappings():
        _add(facts, r["unit_id"], {k: v for k, v in r.items() if k != "unit_id"})


def _spot_checks(session: Session, facts: Facts, scope: _Scope) -> None:
    """Every spot-check round by its result: a satisfactory later round does not erase an
    earlier round found lacking."""
    stmt = scope.events(
        sa.select(col(Event.unit_id), col(SpotCheck.result), sa.func.count()).join_from(
            SpotCheck, Event, col(Event.id) == SpotCheck.event_id
        )
    ).group_by(col(Event.unit_id), col(SpotCheck.result))
    for unit_id, result, n in session.execute(stmt):
        _add(facts, unit_id, {f"spot_{result}": n})


def _rect_overdue(now: datetime) -> Any:
    """A rectification reported late (or escalated), or still unreported past its due day."""
    return sa.or_(
        col(Rectification.overdue).is_(True),
        sa.and_(col(Rectification.state) == RectificationState.issued,
                col(Rectification.due_at) < now),
    )  # fmt: skip


def _oversight(session: Session, facts: Facts, scope: _Scope) -> None:
    """On-site visits (and those whose findings are marked a problem), rectification notices,
    those closed and those overdue."""
    visits = scope.events(
        sa.select(col(Event.unit_id), sa.func.count().label("visits"),
                  _n(col(SiteVisit.problem).is_(True)).label("visit_problems"))
        .join_from(SiteVisit, Event, col(Event.id) == SiteVisit.event_id)
    ).group_by(col(Event.unit_id))  # fmt: skip
    rects = scope.events(
        sa.select(
            col(Event.unit_id), sa.func.count().label("rectifications"),
            _n(col(Rectification.state) == RectificationState.closed).label(
                "rectifications_closed"),
            _n(_rect_overdue(facts.now)).label("rectifications_overdue"),
        ).join_from(Rectification, Event, col(Event.id) == Rectification.event_id)
    ).group_by(col(Event.unit_id))  # fmt: skip
    for stmt in (visits, rects):
        for r in session.execute(stmt).mappings():
            _add(facts, r["unit_id"], {k: v for k, v in r.items() if k != "unit_id"})


def _cancellations(session: Session, facts: Facts, scope: _Scope) -> None:
    """Every approved cancellation with its reason, who asked and who decided, and whether it
    is exempt (few rows: the report lists them all)."""
    stmt = scope.events(
        sa.select(
            col(CancellationRequest.unit_id), col(CancellationRequest.event_id),
            col(Event.theme), col(Event.date_latest), col(CancellationRequest.reason),
            col(CancellationRequest.direct), col(CancellationRequest.requested_by_name),
            col(CancellationRequest.decided_by_name), col(CancellationRequest.decided_at),
            col(CancellationRequest.decision_note), col(CancellationRequest.exempt),
            col(CancellationRequest.exempt_reason),
        )
        .join_from(CancellationRequest, Event, col(Event.id) == CancellationRequest.event_id)
        .where(col(CancellationRequest.state) == CancellationState.approved,
               col(Event.state) == EventState.cancelled)
    ).order_by(col(CancellationRequest.event_id))  # fmt: skip
    for r in session.execute(stmt):
        u = facts.units.get(r.unit_id)
        if u is None:
            continue
        u.cancellations.append(
            {"event_id": r.event_id, "theme": r.theme, "due_on": r.date_latest.isoformat(),
             "reason": r.reason, "direct": r.direct, "requested_by": r.requested_by_name,
             "decided_by": r.decided_by_name, "decided_at": r.decided_at,
             "note": r.decision_note, "exempt": bool(r.exempt),
             "exempt_reason": r.exempt_reason}
        )  # fmt: skip


def _escalations(session: Session, facts: Facts, scope: _Scope) -> None:
    # One escalation per item, rule and level, however many channels and recipients it reached.
    sent = scope.events(
        sa.select(
            col(Notification.unit_id), col(Notification.subject_type), col(Notification.subject_id),
            col(Notification.rule), col(Notification.level),
        )
        .join_from(Notification, Event, col(Event.id) == Notification.event_id)
        .where(col(Notification.kind) == "escalation")
        .distinct()
    ).subquery()  # fmt: skip
    stmt = sa.select(sent.c.unit_id, sent.c.level, sa.func.count()).group_by(
        sent.c.unit_id, sent.c.level
    )
    for unit_id, level, n in session.execute(stmt):
        _add(facts, unit_id, {f"escalations_level_{level}": n})


# ---- the records behind the assessment's deductions -------------------------------------------


def _records(session: Session, facts: Facts, scope: _Scope, today: date) -> None:
    """Only the deviating records, each kind in one filtered query, in id order."""
    _hold_records(session, facts, scope, today)
    _opinion_records(session, facts, scope)
    _summary_records(session, facts, scope)
    _round_records(session, facts, scope)
    _oversight_records(session, facts, scope)


def _oversight_records(session: Session, facts: Facts, scope: _Scope) -> None:
    """Visits whose findings are a problem (with the round they informed), and overdue
    rectifications (with the round they follow)."""
    units = facts.units
    problems = scope.events(
        sa.select(col(Event.unit_id), col(SiteVisit.id), col(SiteVisit.event_id),
                  col(SiteVisit.visited_on), col(SiteVisit.findings), col(SpotCheck.round))
        .join_from(SiteVisit, Event, col(Event.id) == SiteVisit.event_id)
        .outerjoin(SpotCheck, col(SpotCheck.id) == SiteVisit.spot_check_id)
        .where(col(SiteVisit.problem).is_(True))
    ).order_by(col(SiteVisit.id))  # fmt: skip
    for r in session.execute(problems):
        findings = r.findings if len(r.findings) <= 60 else r.findings[:60] + "…"
        units[r.unit_id].visit_problems.append(
            {"event_id": r.event_id, "visit_id": r.id, "visited_on": r.visited_on.isoformat(),
             "round": r.round, "findings": findings}
        )  # fmt: skip
    overdue = _rect_overdue(facts.now)
    rects = scope.events(
        sa.select(col(Event.unit_id), col(Rectification.id), col(Rectification.event_id),
                  col(Rectification.due_on), col(Rectification.state), col(SpotCheck.round),
                  sa.case((overdue, True), else_=False).label("overdue"))
        .join_from(Rectification, Event, col(Event.id) == Rectification.event_id)
        .join(SpotCheck, col(SpotCheck.id) == Rectification.spot_check_id)
    ).order_by(col(Rectification.id))  # fmt: skip
    for r in session.execute(rects):
        row = {"event_id": r.event_id, "rectification_id": r.id, "due_on": r.due_on.isoformat(),
               "round": r.round, "reported": r.state != RectificationState.issued}  # fmt: skip
        units[r.unit_id].rectifications.append({**row, "state": str(r.state),
                                                "overdue": bool(r.overdue)})  # fmt: skip
        if r.overdue:
            units[r.unit_id].rectifications_overdue.append(row)


def _hold_records(session: Session, facts: Facts, scope: _Scope, today: date) -> None:
    """Events held after their last day; events whose last day has passed unheld — a
    cancelled one included (cancelling does not make an event held) unless a supervisor
    exempted its cancellation (不计扣分)."""
    units = facts.units
    late_held = scope.events(
        sa.select(col(Event.unit_id), col(Event.id), col(Event.date_latest), col(Event.held_on))
        .where(col(Event.state) != EventState.cancelled, col(Event.held_on).is_not(None),
               col(Event.held_on) > Event.date_latest)
    ).order_by(col(Event.id))  # fmt: skip
    for r in session.execute(late_held):
        units[r.unit_id].held_late.append(
            {"event_id": r.id, "due_on": r.date_latest.isoformat(),
             "held_on": r.held_on.isoformat()}
        )  # fmt: skip
    not_held = scope.events(
        sa.select(col(Event.unit_id), col(Event.id), col(Event.date_latest), col(Event.state))
        .where(_not_held_due(today))
    ).order_by(col(Event.id))  # fmt: skip
    for r in session.execute(not_held):
        u = units[r.unit_id]
        why = next((c["reason"] for c in u.cancellations if c["event_id"] == r.id), None)
        u.not_held.append(
            {"event_id": r.id, "due_on": r.date_latest.isoformat(),
             "cancelled": r.state == EventState.cancelled, "cancel_reason": why}
        )  # fmt: skip


def _never_submitted(now: datetime) -> Any:
    """Held events whose summary was due before `now` and never submitted (no submit_summary
    line at all: a summary sent back for rework was submitted, and late or not by its first)."""
    return sa.and_(
        col(Event.state) != EventState.cancelled,
        col(Event.held_on).is_not(None),
        col(Event.summary_late_seconds).is_(None),  # no submission (ix_event_summary_unsent)
        col(Event.summary_due_at).is_not(None),
        col(Event.summary_due_at) < now,
    )


def _summary_records(session: Session, facts: Facts, scope: _Scope) -> None:
    """Summaries first submitted late (the first submission's lateness), and summaries never
    submitted past their due day."""
    units = facts.units
    late = scope.events(
        sa.select(col(Event.unit_id), col(Event.id).label("event_id"), _first_line().label("id"),
                  col(Event.summary_late_seconds).label("late"))
        .where(_first_late())
    )  # fmt: skip
    for r in sorted(session.execute(late), key=lambda r: r.id or 0):  # in the lines' order
        if r.unit_id in units:
            units[r.unit_id].late_summaries.append(
                {"event_id": r.event_id, "log_id": r.id,
                 "late_hours": round(int(r.late) / 3600, 1)}
            )  # fmt: skip
    missing = scope.events(
        sa.select(col(Event.unit_id), col(Event.id), col(Event.summary_due_on))
        .where(_never_submitted(facts.now))
    ).order_by(col(Event.id))  # fmt: skip
    for r in session.execute(missing):
        due = r.summary_due_on.isoformat() if r.summary_due_on else None
        units[r.unit_id].summary_missing.append({"event_id": r.id, "due_on": due})
        units[r.unit_id].counts["summaries_missing"] += 1  # the count is the list's length


def _round_records(session: Session, facts: Facts, scope: _Scope) -> None:
    """Every return for rework, and every spot-check round found lacking (not only the
    latest round: a later satisfactory round does not undo an earlier finding)."""
    units = facts.units
    reworks = scope.events(
        sa.select(col(Event.unit_id), col(TransitionLog.id), col(TransitionLog.event_id))
        .join_from(TransitionLog, Event, col(Event.id) == TransitionLog.event_id)
        .where(col(TransitionLog.trigger) == "return_for_rework")
    ).order_by(col(TransitionLog.id))
    for r in session.execute(reworks):
        units[r.unit_id].reworks.append({"event_id": r.event_id, "log_id": r.id})
        units[r.unit_id].counts["reworks"] += 1  # the count is the list's length
    lacking = scope.events(
        sa.select(col(Event.unit_id), col(SpotCheck.id), col(SpotCheck.event_id),
                  col(SpotCheck.round), col(SpotCheck.result))
        .join_from(SpotCheck, Event, col(Event.id) == SpotCheck.event_id)
        .where(col(SpotCheck.result) != SpotCheckResult.satisfactory)
    ).order_by(col(SpotCheck.event_id), col(SpotCheck.round), col(SpotCheck.id))  # fmt: skip
    for r in session.execute(lacking):
        units[r.unit_id].spot_checks.append(
            {"event_id": r.event_id, "spot_check_id": r.id, "round": r.round,
             "result": r.result}
        )  # fmt: skip


def _opinion_records(session: Session, facts: Facts, scope: _Scope) -> None:
    """Answers told late and opinions overdue now, each list in id order; a kind the tally
    counts is asked only when the counts say there is one (the tally is exact, so an empty kind
    costs no scan)."""
    counted: Counter[str] = Counter()
    for facts_of_unit in facts.units.values():
        counted.update(facts_of_unit.counts)
    columns = _ref_columns()
    if counted["answered_late"]:
        late = col(FeedbackItem.answered_late_workdays)
        stmt = scope.events(
            sa.select(*columns, late.label("late"), col(FeedbackItem.answered_on),
                      col(FeedbackItem.answered_at), col(FeedbackItem.answered_by))
            .join_from(FeedbackItem, Event, col(Event.id) == FeedbackItem.event_id)
            .where(col(FeedbackItem.told_at).is_not(None), late > 0)
        ).order_by(col(FeedbackItem.id))  # fmt: skip
        for r in session.execute(stmt):
            if (holder := facts.units.get(r.unit_id)) is not None:
                holder.late_answers.append(
                    {**_ref(r), "workdays_late": int(r.late),
                     "answered_on": r.answered_on.isoformat() if r.answered_on else None,
                     "backdated": backdated_note(r)}
                )  # fmt: skip
    _open_overdue_records(session, facts, scope)
    if counted["answered_backdated"]:
        _backdated_records(session, facts, scope)


def _open_overdue_records(session: Session, facts: Facts, scope: _Scope) -> None:
    """Opinions overdue now (the clock's, so not in the tally), in id order; their count is the
    list's length (one query each part, not a count and then the rows)."""
    columns = _ref_columns()
    found: list[Any] = []
    for where in _open_overdue_parts(facts.now):
        stmt = scope.events(
            sa.select(*columns)
            .join_from(FeedbackItem, Event, col(Event.id) == FeedbackItem.event_id)
            .where(*where)
        )
        found += session.execute(stmt).all()
    for r in sorted(found, key=lambda r: r.id):
        if (holder := facts.units.get(r.unit_id)) is not None:
            holder.open_overdue.append(_ref(r))
            holder.counts["open_overdue"] += 1


def _ref_columns() -> tuple[Any, ...]:
    """The columns `_ref` reads."""
    return (col(FeedbackItem.id), col(FeedbackItem.event_id), col(FeedbackItem.unit_id),
            col(FeedbackItem.due_on))  # fmt: skip


def _ref(r: Any) -> dict[str, Any]:
    return {"item_id": r.id, "event_id": r.event_id,
            "due_on": r.due_on.isoformat() if r.due_on else None}  # fmt: skip


def _backdated_records(session: Session, facts: Facts, scope: _Scope) -> None:
    """Answers entered after the day they were given: who typed them in and when."""
    stmt = scope.events(
        sa.select(col(FeedbackItem.id), col(FeedbackItem.event_id), col(FeedbackItem.unit_id),
                  col(FeedbackItem.answered_on), col(FeedbackItem.answered_at),
                  col(FeedbackItem.answered_by))
        .join_from(FeedbackItem, Event, col(Event.id) == FeedbackItem.event_id)
        .where(_backdated(session))
    ).order_by(col(FeedbackItem.id))  # fmt: skip
    for r in session.execute(stmt):
        u = facts.units.get(r.unit_id)
        if u is not None:
            u.backdated_answers.append(
                {"item_id": r.id, "event_id": r.event_id, "answered_on": r.answered_on,
                 "answered_by": r.answered_by or "（未记录）", "answered_at": r.answered_at}
            )  # fmt: skip


def report(facts: Facts) -> dict[str, Any]:
    """Rows per unit and the district's totals."""
    rows = [u.row() for u in facts.units.values()]
    totals = {key: sum(r[key] for r in rows) for key, _ in COLUMNS}
    return {
        "campaign_id": facts.campaign.id,
        "campaign_title": facts.campaign.title,
        "doc_number": facts.campaign.doc_number,
        "as_of": facts.now,
        "columns": [{"key": k, "label": label} for k, label in COLUMNS],
        "office": facts.office,
        "whole": districts.whole_of(facts.office),  # 全区 / 全县 / 全市
        "notes": [{"label": label, "note": note} for label, note in notes(facts.office)],
        "units": rows,
        "totals": totals,
        "cancellations": [
            {"unit_id": u.unit_id, "unit_name": u.unit_name, **c}
            for u in facts.units.values()
            for c in u.cancellations
        ],
    }


def cancellation_zh(c: dict[str, Any]) -> str:
    """Whether a cancellation counts in the assessment, in words."""
    if c["exempt"]:
        return f"不计扣分（{c['exempt_reason'] or ''}）"
    return "按未开展计扣分"


def sheets(data: dict[str, Any]) -> list[Sheet]:
    """The report, and every approved cancellation with its reason and how it counts."""
    office = data.get("office", SOLE_OFFICE)
    cancelled = Sheet(
        "已取消的活动",
        [Column("责任单位", 20), Column("活动编号", 10), Column("活动主题", 30),
         Column("应开展日期", 12), Column("取消理由", 40), Column("申请人", 12),
         Column("批准人", 12), Column("考核", 30)],
        [[c["unit_name"], c["event_id"], c["theme"], c["due_on"], c["reason"],
          f"（{office}直接取消）" if c["direct"] else c["requested_by"], c["decided_by"],
          cancellation_zh(c)] for c in data.get("cancellations", [])],
        "report",
    )  # fmt: skip
    return [sheet(data), cancelled]


def sheet(data: dict[str, Any]) -> Sheet:
    """The report as one sheet: a row per unit, then the district's totals; the columns in
    their groups' order, under the groups' labels."""
    labels = dict(COLUMNS)
    keys = [k for _, group in COLUMN_GROUPS for k in group]
    columns = [Column("责任单位", 20)] + [
        Column(labels[k], max(8, 2 * len(labels[k]) + 2)) for k in keys
    ]
    rows = [[r["unit_name"], *(r[k] for k in keys)] for r in data["units"]]
    whole = districts.whole_of(data.get("office", SOLE_OFFICE))
    rows.append([f"{whole}合计", *(data["totals"][k] for k in keys)])
    groups: list[tuple[str | None, int]] = [(None, 1)]  # 责任单位 spans both header rows
    groups += [(label, len(group)) for label, group in COLUMN_GROUPS]
    return Sheet("分单位情况", columns, rows, "report", groups=groups)
