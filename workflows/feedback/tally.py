"""The opinion tally (models/tally.py) kept equal to the opinions, in the writing transaction.

The campaign report and 全市对比 count a campaign's opinions per unit: answered (told), answered
and not told, late and on time, working days late, back-dated. At city scale that is a scan of
every opinion of every district's campaign on each page view; instead these counts are kept per
(campaign, event's unit, holding unit). Each count is a property of the opinion row alone, so
the share of one opinion (`share`) is known from its columns, and a `before_flush` listener (as
workflows/campaign/closure.py's guard: no door can forget it) subtracts, for every opinion the
flush inserts, changes or deletes, the share its row had in the database before the flush, and
adds the share it has now: one upsert per (event, holding unit) touched, in the same transaction
as the write. Nothing is cached and nothing runs later, so the tally is never stale. The report
still reads what depends on the clock (opinions overdue now) from the opinions themselves.

`rebuild` recounts the table from the opinions (the migration's backfill, the benchmarks' SQL
seeds); tests/reporting/test_opinion_tally.py proves the kept tally equals the recount.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col

from models import FeedbackItem, OpinionTally
from workflows.kernel.clock import LOCAL_TZ
from workflows.kernel.visibility import UnitScope, within

COUNTS = (
    "opinions", "answered", "answered_not_told", "answered_late", "answered_on_time",
    "workdays_late", "answered_backdated",
)  # fmt: skip
# The columns a share is read from: a flush changing none of them changes no count.
WATCHED = ("event_id", "unit_id", "told_at", "answered_at", "answered_on", "answered_late_workdays")


def backdated(answered_at: datetime | None, answered_on: date | None) -> bool:
    """An answer typed in after the local day it was given (补录), as the report reads it."""
    if answered_at is None or answered_on is None:
        return False
    at = answered_at if answered_at.tzinfo else answered_at.replace(tzinfo=UTC)
    return answered_on < at.astimezone(LOCAL_TZ).date()


def share(
    told_at: datetime | None,
    answered_at: datetime | None,
    answered_on: date | None,
    late_workdays: int | None,
) -> dict[str, int]:
    """One opinion's part of each count (the report's definitions: an answer counts when it
    reached the person, issue 26)."""
    told = told_at is not None
    late = late_workdays or 0
    return {
        "opinions": 1,
        "answered": int(told),
        "answered_not_told": int(answered_at is not None and not told),
        "answered_late": int(told and late > 0),
        "answered_on_time": int(told and late <= 0),
        "workdays_late": late if told and late > 0 else 0,
        "answered_backdated": int(backdated(answered_at, answered_on)),
    }


def _item_share(item: Any) -> dict[str, int]:
    return share(item.told_at, item.answered_at, item.answered_on, item.answered_late_workdays)


def _item_share_of(values: dict[str, Any]) -> dict[str, int]:
    return share(values["told_at"], values["answered_at"], values["answered_on"],
                 values["answered_late_workdays"])  # fmt: skip


def _loaded_before(item: FeedbackItem) -> dict[str, Any] | None:
    """The watched columns as the database has them before this flush, when the session holds
    them all (the usual case: a move loads its opinion first); None when one was set without
    its old value loaded (then the row is read)."""
    state = sa.inspect(item)
    out: dict[str, Any] = {}
    for name in WATCHED:
        history = state.attrs[name].history
        if history.deleted:
            out[name] = history.deleted[0]
        elif history.unchanged:
            out[name] = history.unchanged[0]
        else:
            return None
    return out


def _touches(item: FeedbackItem) -> bool:
    state = sa.inspect(item)
    return any(state.attrs[name].history.has_changes() for name in WATCHED)


_BEFORE = sa.select(
    col(FeedbackItem.event_id), col(FeedbackItem.unit_id), col(FeedbackItem.told_at),
    col(FeedbackItem.answered_at), col(FeedbackItem.answered_on),
    col(FeedbackItem.answered_late_workdays),
).where(col(FeedbackItem.id).in_(sa.bindparam("ids", expanding=True)))  # fmt: skip

_UPSERT = sa.text(
    "INSERT INTO opinion_tally (campaign_id, event_unit_id, unit_id, district_id, "
    + ", ".join(COUNTS)
    + ") SELECT e.campaign_id, e.unit_id, :unit_id, c.district_id, "
    + ", ".join(f":{k}" for k in COUNTS)
    + " FROM event e JOIN campaign c ON c.id = e.campaign_id WHERE e.id = :event_id"
    " ON CONFLICT (campaign_id, event_unit_id, unit_id) DO UPDATE SET "
    + ", ".join(f"{k} = opinion_tally.{k} + excluded.{k}" for k in COUNTS)
)


def keep(session: OrmSession, _context: Any = None, _instances: Any = None) -> None:
    """Apply this flush's opinion writes to the tally (before_flush)."""
    new = [r for r in session.new if isinstance(r, FeedbackItem)]
    gone = [r for r in session.deleted if isinstance(r, FeedbackItem)]
    changed = [r for r in session.dirty if isinstance(r, FeedbackItem) and _touches(r)]
    if not (new or gone or changed):
        return
    delta: dict[tuple[int, int], Counter[str]] = {}
    with session.no_autoflush:
        unknown = []  # rows whose values before this flush are not all in the session
        for item in (*gone, *changed):
            before = _loaded_before(item)
            if before is not None:
                _add(delta, before["event_id"], before["unit_id"], _item_share_of(before), -1)
            elif item.id is not None:
                unknown.append(item.id)
        if unknown:
            for row in session.execute(_BEFORE, {"ids": unknown}):
                _add(delta, row.event_id, row.unit_id, _item_share(row), -1)
        for item in (*new, *changed):
            _add(delta, item.event_id, item.unit_id, _item_share(item), 1)
        _write(session, delta)


def updated(session: OrmSession, item: FeedbackItem, **values: Any) -> None:
    """An UPDATE of `item`'s row sent around the flush (a Core statement, as telling the
    person does so the opinion's version stays) set `values`: apply it to the tally. `item`
    holds the row as it was before the UPDATE."""
    after = {name: values.get(name, getattr(item, name)) for name in WATCHED}
    delta: dict[tuple[int, int], Counter[str]] = {}
    _add(delta, item.event_id, item.unit_id, _item_share(item), -1)
    _add(delta, after["event_id"], after["unit_id"], share(
        after["told_at"], after["answered_at"], after["answered_on"],
        after["answered_late_workdays"]), 1)  # fmt: skip
    with session.no_autoflush:
        _write(session, delta)


def _add(
    delta: dict[tuple[int, int], Counter[str]],
    event_id: int,
    unit_id: int,
    part: dict[str, int],
    sign: int,
) -> None:
    counter = delta.setdefault((event_id, unit_id), Counter())
    for key, n in part.items():
        counter[key] += sign * n


def _write(session: OrmSession, delta: dict[tuple[int, int], Counter[str]]) -> None:
    """One upsert per (event, holding unit) whose counts changed."""
    rows = [
        {"event_id": event_id, "unit_id": unit_id, **{k: c[k] for k in COUNTS}}
        for (event_id, unit_id), c in delta.items()
        if any(c.values())
    ]
    if rows:
        session.execute(_UPSERT, rows)


sa_event.listen(OrmSession, "before_flush", keep)


def counts(session: Session, campaign_ids: Sequence[int], units: UnitScope) -> list[Any]:
    """Per holding unit: the tallied counts of the campaigns' opinions on the events of
    `units` (the report's scope is the event's unit, its rows the holding unit's)."""
    tally = OpinionTally
    stmt = sa.select(
        col(tally.unit_id), *(sa.func.sum(getattr(tally, k)).label(k) for k in COUNTS)
    ).where(col(tally.campaign_id).in_(list(campaign_ids)))
    stmt = within(stmt, col(tally.event_unit_id), units).group_by(col(tally.unit_id))
    return list(session.execute(stmt).mappings())


def _backdated_sql(dialect: str) -> str:
    if dialect == "postgresql":
        return "f.answered_on < CAST(timezone('Asia/Shanghai', f.answered_at) AS DATE)"
    return "f.answered_on < date(f.answered_at, '+8 hours')"


def recount_sql(dialect: str) -> str:
    """INSERT … SELECT of the whole tally from the opinions (the table must be empty); the
    migration that made the table runs the same statement."""
    told = "f.told_at IS NOT NULL"
    late = "coalesce(f.answered_late_workdays, 0)"
    back = f"f.answered_at IS NOT NULL AND f.answered_on IS NOT NULL AND {_backdated_sql(dialect)}"
    return (
        "INSERT INTO opinion_tally (campaign_id, event_unit_id, unit_id, district_id, "
        + ", ".join(COUNTS)
        + ") SELECT e.campaign_id, e.unit_id, f.unit_id, min(c.district_id), count(*), "
        f"sum(CASE WHEN {told} THEN 1 ELSE 0 END), "
        f"sum(CASE WHEN f.answered_at IS NOT NULL AND f.told_at IS NULL THEN 1 ELSE 0 END), "
        f"sum(CASE WHEN {told} AND {late} > 0 THEN 1 ELSE 0 END), "
        f"sum(CASE WHEN {told} AND {late} <= 0 THEN 1 ELSE 0 END), "
        f"sum(CASE WHEN {told} AND {late} > 0 THEN {late} ELSE 0 END), "
        f"sum(CASE WHEN {back} THEN 1 ELSE 0 END) "
        "FROM feedback_item f JOIN event e ON e.id = f.event_id "
        "JOIN campaign c ON c.id = e.campaign_id "
        "GROUP BY e.campaign_id, e.unit_id, f.unit_id"
    )


def rebuild(session: Session) -> None:
    """Recount the whole tally from the opinions (for data written around the workflows: the
    benchmarks' set-based seeds; a city-wide scope is needed under row-level security)."""
    session.execute(sa.delete(OpinionTally))
    session.execute(sa.text(recount_sql(session.get_bind().dialect.name)))
