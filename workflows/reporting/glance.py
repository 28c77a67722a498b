"""The report page at a glance (issue 24): the key figures, a chart of units by score, and the
table's column groups and order. Pure data from `reports.report` and `assessment.assess`;
pages/reports.py renders it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workflows.reporting.ratings import satisfaction_share
from workflows.reporting.reports import COLUMN_GROUPS, COLUMNS

# The table's grouped headers: (group label, the columns under it, in COLUMNS order).
GROUPS = COLUMN_GROUPS  # the table's header groups, shared with the xlsx
LABELS = dict(COLUMNS)
SORTABLE = {"unit_name", "score", *LABELS}


@dataclass(frozen=True)
class Figure:
    """One key figure: what, the number as text, and whether it needs attention."""

    label: str
    value: str
    alert: bool = False


@dataclass(frozen=True)
class Order:
    """The table's order from the query: a known column, and which way."""

    key: str
    descending: bool

    def link(self, key: str) -> str:
        """The query a header links to: its column, the other way if it is the current one."""
        descending = not self.descending if key == self.key else key != "unit_name"
        return f"sort={key}&dir={'desc' if descending else 'asc'}"


def order_of(sort: str | None, direction: str | None) -> Order:
    """The order asked for; unknown keys fall back to the units' own order."""
    key = sort if sort in SORTABLE else "unit_name"
    return Order(key, direction == "desc" if direction in ("asc", "desc") else key != "unit_name")


def _share(part: int, whole: int) -> str:
    return f"{round(100 * part / whole)}%" if whole else "—"


def figures(totals: dict[str, int]) -> list[Figure]:
    """The campaign's key figures, first on the page. 按期开展 counts against the events already
    due (held, or past their last day unheld — a cancellation counted as not held included),
    not those still ahead."""
    due = totals["due"]
    held = totals["held_on_time"]
    late_summaries = totals["summaries_late"] + totals["summaries_missing"]
    return [
        Figure("按期开展", f"{held}/{due}", held < due),
        Figure("逾期未开展", str(totals["not_held_overdue"]), totals["not_held_overdue"] > 0),
        Figure("按时答复", _share(totals["answered_on_time"], totals["answered"])),
        Figure("逾期未答复", str(totals["open_overdue"]), totals["open_overdue"] > 0),
        Figure("满意率", satisfaction_share(totals), totals.get("rated_dissatisfied", 0) > 0),
        Figure("总结逾期", str(late_summaries), late_summaries > 0),
        Figure("退回整改", str(totals["reworks"])),
    ]


def rows(report: dict[str, Any], scores: dict[str, Any], order: Order) -> list[dict[str, Any]]:
    """The report's unit rows with each unit's score, in the order asked for."""
    by_unit = {s["unit_id"]: s for s in scores["units"]} if scores else {}
    out = [{**r, "score": by_unit.get(r["unit_id"], {}).get("score")} for r in report["units"]]
    if order.key == "unit_name":
        return list(reversed(out)) if order.descending else out
    present = [r for r in out if r[order.key] is not None]
    present.sort(key=lambda r: r[order.key], reverse=order.descending)  # stable: name order
    return present + [r for r in out if r[order.key] is None]


def chart(scores: dict[str, Any]) -> list[tuple[str, float, float]]:
    """(unit, score, width in % of full marks) for the bar chart, best first."""
    base = float(scores["rules"]["base_points"]) or 1.0
    return [
        (s["unit_name"], s["score"], round(100 * s["score"] / base, 1)) for s in scores["units"]
    ]
