"""Dates in words, one format for every page, export and message (issue 24).

2022年9月16日（星期五）: the year always, the weekday always; a time follows on the same line
(2022年9月16日（星期五）14:30). Pages register these as Jinja filters (pages/render.py).
"""

from __future__ import annotations

from datetime import date, datetime, time

from workflows.kernel.clock import LOCAL_TZ

WEEKDAYS = "一二三四五六日"


def day_zh(day: date | str | None) -> str:
    """2022年9月16日（星期五）; a stored ISO day is read first, other text passes through."""
    if day is None or day == "":
        return ""
    if isinstance(day, datetime):
        day = day.date()
    if isinstance(day, str):
        raw = day
        try:
            day = date.fromisoformat(raw[:10])
        except ValueError:
            return raw
    return f"{day.year}年{day.month}月{day.day}日（星期{WEEKDAYS[day.weekday()]}）"


def moment_zh(moment: datetime | None) -> str:
    """A stored moment in Shanghai time, on one line: 2022年9月16日（星期五）14:30.

    A naive moment is taken as already local (EXIF times are)."""
    if moment is None:
        return ""
    local = moment.astimezone(LOCAL_TZ) if moment.tzinfo else moment
    return f"{day_zh(local.date())}{local:%H:%M}"


def window_zh(earliest: date, latest: date) -> str:
    """One day, or a window: 2022年9月11日（星期日）至2022年9月20日（星期二）."""
    if earliest == latest:
        return day_zh(earliest)
    return f"{day_zh(earliest)}至{day_zh(latest)}"


def hours_zh(start: time | None, end: time | None) -> str:
    """14:30–17:00, 14:30, or nothing."""
    if start is None:
        return ""
    return f"{start:%H:%M}" + (f"–{end:%H:%M}" if end else "")


def span_zh(first: date, last: date) -> str:
    """Days held over a span, the shared year and month said once: 2022年9月15日至17日,
    2022年9月30日至10月2日, 2022年12月31日至2023年1月1日; one day as day_zh."""
    if last == first:
        return day_zh(first)
    head = f"{first.year}年{first.month}月{first.day}日"
    if last.year != first.year:
        return f"{head}至{last.year}年{last.month}月{last.day}日"
    if last.month != first.month:
        return f"{head}至{last.month}月{last.day}日"
    return f"{head}至{last.day}日"
