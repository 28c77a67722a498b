"""How notices word numbers, shares, periods and date windows (issue 30).

Each reader takes a phrase as a notice writes it and answers a plain value, or None when the
phrase is not one it knows: 十五 → 15, 三分之一 → 1/3, 一周内 → 7 days, "9月至11月" (in a 2023
notice) → 2023-09-01 … 2023-11-30. Nothing here knows which rule a phrase belongs to; that is
workflows/campaign/notice_import.py.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from fractions import Fraction

_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}
_DIGITS.update({"六": 6, "七": 7, "八": 8, "九": 9})
_UNITS = {"十": 10, "百": 100, "千": 1000}
# A number as notices write it: Arabic digits (ASCII or full width) or Chinese numerals.
NUMBER = (
    r"(?:[0-9０-９]{1,9}|[〇零一二两三四五六七八九十百千]{1,9})"  # bounded: no backtracking runs
)


def number(text: str) -> int | None:
    """十五 → 15, 二十 → 20, 一百零五 → 105, 15 / １５ → 15; None for anything else."""
    text = text.strip()
    if not text:
        return None
    folded = text.translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    if folded.isdigit():
        return int(folded)
    total, digit = 0, None
    for char in text:
        if char in _DIGITS:
            digit = _DIGITS[char]
        elif char in _UNITS:
            total += (1 if digit is None else digit) * _UNITS[char]
            digit = None
        else:
            return None
    return total + (digit or 0)


_FRACTION = re.compile(rf"({NUMBER})分之({NUMBER})")
_SLASH = re.compile(r"([0-9]+)\s*/\s*([0-9]+)")
_PERCENT = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*[%％]|百分之({NUMBER})")
_WORDS = {"一半": Fraction(1, 2), "半数": Fraction(1, 2)}


def share(text: str) -> Fraction | None:
    """三分之一 → 1/3, 1/3 → 1/3, 40% / 百分之四十 → 2/5, 一半 → 1/2; the first one in `text`."""
    found: list[tuple[int, Fraction]] = []
    if m := _FRACTION.search(text):
        below, above = number(m.group(1)), number(m.group(2))
        if below and above is not None:
            found.append((m.start(), Fraction(above, below)))
    if (m := _SLASH.search(text)) and int(m.group(2)):
        found.append((m.start(), Fraction(int(m.group(1)), int(m.group(2)))))
    if m := _PERCENT.search(text):
        value = Fraction(m.group(1)) if m.group(1) else Fraction(number(m.group(2)) or 0)
        found.append((m.start(), value / 100))
    for word, value in _WORDS.items():
        if (at := text.find(word)) >= 0:
            found.append((at, value))
    return min(found)[1] if found else None


@dataclass(frozen=True)
class Period:
    """A time limit: how many days, and whether they are working days."""

    days: int
    workdays: bool

    @property
    def zh(self) -> str:
        """15个工作日 / 3日."""
        return f"{self.days}个工作日" if self.workdays else f"{self.days}日"


_PERIOD = re.compile(
    rf"({NUMBER})\s*(个工作日|个?工作日|个?自然日|日|天|周|个?星期|个月)内?"
    r"|(一周|一个星期|一星期|两周|半个月)内"
)


def period(text: str) -> tuple[Period, re.Match[str]] | None:
    """The first limit in `text`: 15个工作日 / 三日 / 5天 / 一周内 / 两周内 (weeks in days)."""
    m = _PERIOD.search(text)
    if m is None:
        return None
    if m.group(3):
        days = {"一周": 7, "一个星期": 7, "一星期": 7, "两周": 14, "半个月": 15}[m.group(3)]
        return Period(days, False), m
    count = number(m.group(1))
    if count is None:
        return None
    word = m.group(2)
    if "工作日" in word:
        return Period(count, True), m
    scale = 7 if ("周" in word or "星期" in word) else 30 if "月" in word else 1
    return Period(count * scale, False), m


# --- date windows ------------------------------------------------------------------------------

# One end of a window: [YYYY年]M月[D日|上旬|中旬|下旬|初|底|末|中]; years and months as digits or
# Chinese numerals (二〇二三年十月八日).


def _end(p: str) -> str:
    year = r"[0-9]{4}|[〇零一二三四五六七八九]{4}"
    return (
        rf"(?P<{p}next>次年|翌年|第二年)?(?:(?P<{p}y>{year})\s*年\s*)?(?P<{p}m>{NUMBER})\s*月\s*"
        rf"(?:(?P<{p}d>{NUMBER})\s*[日号]|(?P<{p}part>上旬|中旬|下旬|初|底|末|中))?"
    )


_WINDOW = re.compile(
    _end("a") + r"\s*(?:起|开始)?\s*(?:至|到|—|–|－|-|~|～)+\s*" + _end("b") + r"(?:止|结束)?"
)
_MONTH_ONLY = re.compile(
    rf"(?P<y>[0-9]{{4}})\s*年\s*(?P<m>{NUMBER})\s*月(?:份)?(?:期间|内|开展|举办|组织)"
)


def _year(text: str | None) -> int | None:
    if text is None:
        return None
    if text.isdigit():
        return int(text)
    return int("".join(str(_DIGITS[c]) for c in text))


def _month_end(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


_PART_START = {"上旬": 1, "初": 1, "中旬": 11, "中": 11, "下旬": 21, "底": 21, "末": 21}
_PART_END = {"上旬": 10, "初": 10, "中旬": 20, "中": 20}


def _day(year: int, month: int, day_text: str | None, part: str | None, first: bool) -> date:
    if day_text is not None:
        return date(year, month, number(day_text) or 0)
    if part is not None:
        if first:
            return date(year, month, _PART_START[part])
        return date(year, month, _PART_END.get(part) or _month_end(year, month))
    return date(year, month, 1 if first else _month_end(year, month))


@dataclass(frozen=True)
class Window:
    """A campaign's window and the words it was read from."""

    starts_on: date
    ends_on: date
    text: str


class WindowError(ValueError):
    """A window whose words name no real day (9月31日, 13月)."""


def window(text: str, default_year: int | None) -> Window | None:
    """The first window in `text`; a year left out is the other end's, else `default_year`.

    "2022年8月22日至2022年9月22日", "9月至11月", "2023年10月8日至11月30日", "9月中旬至10月底",
    "2023年12月1日至2024年1月15日", "11月至次年1月", "2023年5月期间" (the whole month). A
    window whose end comes before its start is returned as written: the caller refuses it.
    """
    if m := _WINDOW.search(text):
        g = m.groupdict()
        year_a, year_b = _year(g["ay"]), _year(g["by"])
        if year_a is None and year_b is not None:  # 12月1日至2024年1月15日
            year_a = year_b - 1 if _month(g["am"]) > _month(g["bm"]) else year_b
        year_a = year_a or default_year
        if year_a is None:
            return None
        if year_b is None:
            year_b = year_a + 1 if g["bnext"] else year_a
        try:
            start = _day(year_a, _month(g["am"]), g["ad"], g["apart"], first=True)
            end = _day(year_b, _month(g["bm"]), g["bd"], g["bpart"], first=False)
        except ValueError as exc:
            raise WindowError(m.group(0)) from exc
        return Window(start, end, m.group(0))
    if m := _MONTH_ONLY.search(text):
        year, month = int(m.group("y")), _month(m.group("m"))
        return Window(date(year, month, 1), date(year, month, _month_end(year, month)), m.group(0))
    return None


def _month(text: str) -> int:
    value = number(text)
    if value is None or not 1 <= value <= 12:
        raise ValueError(f"not a month: {text}")
    return value


_DATE = re.compile(
    r"(?P<y>[0-9]{4}|[〇零一二三四五六七八九]{4})\s*年\s*"
    rf"(?P<m>{NUMBER})\s*月\s*(?P<d>{NUMBER})\s*日"
)


def full_date(text: str) -> date | None:
    """2022年8月22日 / 二〇二二年八月二十二日 → that day, when `text` holds one."""
    m = _DATE.search(text)
    if m is None:
        return None
    try:
        return date(_year(m.group("y")) or 0, _month(m.group("m")), number(m.group("d")) or 0)
    except ValueError:
        return None


# --- how far ahead: 提前3日 / 活动前5个工作日 / 3日前 / 前一周 (issue 30) -------------------

_SPAN = (
    rf"(?:{NUMBER}\s*(?:个工作日|个?工作日|个?自然日|日|天|周|个?星期)|一周|一个星期|两周|半个月)"
)
_AHEAD = re.compile(
    rf"(?:提前|开展前|开始前|举办前|活动前|之前|前)\s*({_SPAN})|({_SPAN})\s*(?:以|之)?前"
)


def ahead(text: str) -> Period | None:
    """How far ahead of the event something is due: 提前3日 → 3 days, 活动开展前5个工作日 →
    5 working days, 3日前 → 3 days, 前一周 → 7 days; None when `text` names no such span."""
    m = _AHEAD.search(text)
    if m is None:
        return None
    span = m.group(1) or m.group(2)
    found = period(span + ("内" if span in ("一周", "一个星期", "两周", "半个月") else ""))
    return found[0] if found else None
