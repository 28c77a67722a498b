"""The year-over-year charts as inline SVG, drawn on the server (no script, nothing fetched):
each unit's score change as a bar left (fell back) or right (improved) of zero, and the
district's on-time shares year by year. Every text is escaped; the page embeds the markup."""

from __future__ import annotations

from html import escape
from typing import Any

ROW = 26  # px per unit bar
# Narrow enough to show at its own size on a 360 px phone; longer unit names are shortened
# (the table below names them in full).
NAME_W, BAR_W, VALUE_W = 120, 170, 60
NAME_CHARS = 8
GREEN, RED, GREY, BLUE, TEAL = "#00703c", "#d4351c", "#505a5f", "#1d70b8", "#28a197"


def _text(x: float, y: float, text: str, anchor: str = "start", fill: str = "#0b0c0c") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}" '
        f'font-size="14">{escape(text)}</text>'
    )


def _open(width: float, height: float, ident: str, title: str) -> str:
    """The svg element, drawn at its own size and shrunk to fit a narrow screen, titled."""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" class="svg-chart" '
        f'aria-labelledby="{ident}"><title id="{ident}">{escape(title)}</title>'
    )


def score_changes(units: list[dict[str, Any]], title: str) -> str:
    """Each unit's score change since its previous year, best first; units without an earlier
    year are left out (nothing to compare)."""
    rows = [(u["unit_name"], u["change"]["score"]["delta"]) for u in units]
    rows = [(name, d) for name, d in rows if d is not None]
    if not rows:
        return ""
    span = max(abs(d) for _, d in rows) or 1.0
    width, height = NAME_W + BAR_W + VALUE_W, ROW * len(rows) + 30
    mid = NAME_W + BAR_W / 2
    parts = [
        _open(width, height, "score-chart-title", title),
        f'<line x1="{mid}" y1="4" x2="{mid}" y2="{height - 22}" stroke="{GREY}"/>',
    ]
    for i, (name, delta) in enumerate(rows):
        y = 6 + i * ROW
        length = BAR_W / 2 * abs(delta) / span
        x = mid if delta >= 0 else mid - length
        colour = GREEN if delta > 0 else RED if delta < 0 else GREY
        short = name if len(name) <= NAME_CHARS else name[: NAME_CHARS - 1] + "…"
        parts.append(_text(NAME_W - 8, y + 15, short, "end"))
        parts.append(
            f'<rect x="{x:.1f}" y="{y + 3}" width="{max(length, 1):.1f}" height="{ROW - 8}" '
            f'fill="{colour}"/>'
        )
        parts.append(
            _text(NAME_W + BAR_W + 6, y + 15, f"{delta:+g} 分" if delta else "±0 分", fill=colour)
        )
    parts.append(_text(mid - 6, height - 6, "← 退步", "end", RED))
    parts.append(_text(mid + 6, height - 6, "进步 →", "start", GREEN))
    parts.append("</svg>")
    return "".join(parts)


def district_shares(district: list[dict[str, Any]], title: str) -> str:
    """按期开展率 and 按时答复率 of the district, a pair of bars per year (0–100%)."""
    if not district:
        return ""
    pair, gap, top, plot = 36, 28, 24, 160
    width = max(60 + len(district) * (2 * pair + gap), 260)
    height = top + plot + 48
    parts = [
        _open(width, height, "district-chart-title", title),
        _text(0, 16, "■ 按期开展率", fill=BLUE),
        _text(120, 16, "■ 按时答复率", fill=TEAL),
        f'<line x1="40" y1="{top + plot}" x2="{width}" y2="{top + plot}" stroke="{GREY}"/>',
    ]
    for i, d in enumerate(district):
        x0 = 50 + i * (2 * pair + gap)
        for j, (key, colour) in enumerate(
            (("held_on_time_rate", BLUE), ("answered_on_time_rate", TEAL))
        ):
            value = d.get(key)
            x = x0 + j * pair
            if value is None:
                parts.append(_text(x + pair / 2, top + plot - 4, "—", "middle", GREY))
                continue
            h = plot * value / 100
            parts.append(
                f'<rect x="{x}" y="{top + plot - h:.1f}" width="{pair - 4}" height="{h:.1f}" '
                f'fill="{colour}"/>'
            )
            parts.append(_text(x + pair / 2 - 2, top + plot - h - 4, f"{value:g}%", "middle"))
        parts.append(_text(x0 + pair, top + plot + 20, f"{d['year']}年", "middle"))
    parts.append("</svg>")
    return "".join(parts)
