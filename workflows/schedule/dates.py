"""Parse the free-text "开展时间" (when) cell of an Open Day schedule table.

Offices write dates in many shapes: ``9月16日``, ``2022年9月16日（星期五）``, ``9月中旬``,
``9月15日—16日``, ``9月30日至10月2日``, ``2026年3-6月``, ``9月16日下午3:00（暂定）``, the days of
one event held over several days (``9月16日、17日``, ``9月16、17日``), the start or end of a month
(``9月初``, ``9月底``, ``9月末``: a 上旬 or 下旬 window marked tentative), ``9/16``, or the
ISO strings our spreadsheet reader produces (``2022-09-16``). A quarter (``第三季度``) is refused
with its own message: it is no date an office can be chased by.  :func:`parse_when` turns one such
phrase into a :class:`ParsedWhen` with an inclusive date window, or raises
:class:`DatePhraseError` with a stable code and a bilingual message.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, time

from workflows.kernel.errors import InvalidData

__all__ = ["DateIssue", "DatePhraseError", "ParsedWhen", "parse_when"]


@dataclass(frozen=True)
class DateIssue:
    """A non-fatal problem found while parsing a date phrase."""

    code: str
    message_zh: str
    message_en: str


class DatePhraseError(InvalidData):
    """A date phrase that cannot be turned into dates (HTTP 422; also a ValueError)."""


@dataclass(frozen=True)
class ParsedWhen:
    """An inclusive date window, optional times of day, and any warnings."""

    earliest: date
    latest: date
    tentative: bool
    start_time: time | None
    end_time: time | None
    # "day" | "days" | "dekad" | "month" | "months"; "multiday": the listed days of one event
    # held over several days (9月16日、17日), earliest its first day and latest its last.
    precision: str
    warnings: tuple[DateIssue, ...]


# --- patterns (applied after NFKC normalisation, which folds full-width digits/punctuation) ---

# A range separator between two dates or two clock times: -, —, –, ~, 〜 (possibly doubled), 至, 到.
_SEP = r"(?:[-‐‑‒–—―~〜]+|至|到)"

# "(暂定)" / "暂定": the date is provisional.
_TENTATIVE_RE = re.compile(r"\(?暂定\)?")

# A clock time: optional part of day, then "14:20" (seconds ignored), "3点", "3点半", "3点20分"
# or "14时30分" ("3点30" too, unless the digits are really a date: "上午9点9月16日").
_CLOCK = (
    r"(?P<{p}period>上午|早上|中午|下午|晚上)?(?<!\d)(?P<{p}hour>\d{{1,2}})"
    r"(?::(?P<{p}minute>\d{{2}})(?::\d{{2}})?"  # 14:20 or 14:20:00
    r"|[点时](?:(?P<{p}half>半)|(?P<{p}pmin>\d{{1,2}})(?:分|(?![\d月日号])))?)"  # 3点/3点半/3点20分
)
# "上午10.00": a dot after a part of day is a clock separator, not a month.day date.
_DOTTED_CLOCK_RE = re.compile(r"(上午|早上|中午|下午|晚上)(\d{1,2})\.(\d{2})(?!\d)")
_TIME_RANGE_RE = re.compile(_CLOCK.format(p="a") + _SEP + _CLOCK.format(p="b"))
_TIME_RE = re.compile(_CLOCK.format(p="a"))

# A weekday note, "(星期二)", "(周五)", "礼拜三": replaced by a private-use marker plus 0..6 so
# the note stays attached to the date it follows when the phrase is split into range ends.
_WEEKDAY_RE = re.compile(r"\(?(?:星期|周|礼拜)([一二三四五六日天七1-7])\)?")
_WEEKDAY_MARK = "\ue000"
_WEEKDAY_INDEX = (
    {c: i for i, c in enumerate("一二三四五六日")}
    | {"天": 6, "七": 6}
    | {str(n): n - 1 for n in range(1, 8)}
)
_WEEKDAY_ZH = "一二三四五六日"

# Numeric dates rewritten into the 年月日 form: "2022-09-16", "2022/9/16", "2022.9.16", then "9.16".
_ISO_DATE_RE = re.compile(r"(?<!\d)(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)")
_DOTTED_DATE_RE = re.compile(r"(?<![\d.])(\d{1,2})\.(\d{1,2})(?![\d.])")
# "9/16" (no year; "2022/9/16" is taken by _ISO_DATE_RE first): in the default year.
_SLASHED_DATE_RE = re.compile(r"(?<![\d/])(\d{1,2})/(\d{1,2})(?![\d/])")

# "9月初", "9月底", "9月末": the month's 上旬 or 下旬, tentative (no day was named).
_MONTH_PART_RE = re.compile(r"(\d{1,2}月)(初|底|末)(?!\d)")
_MONTH_PART_DEKAD = {"初": "上旬", "底": "下旬", "末": "下旬"}

# The days of one event held over several days: "9月16日、17日", "9月16、17日".
_LIST_SEP_RE = re.compile(r"[、,]")

# A quarter ("第三季度", "2022年第3季度", "Q3"): refused with its own message.
_QUARTER_RE = re.compile(r"季度|^(?:\d{4}年)?Q[1-4]$", re.IGNORECASE)

# Any other parenthesised remark, e.g. "(视天气情况)": ignored with a warning.
_NOTE_RE = re.compile(r"\(([^()]*)\)")

# Words that carry no date information once clock times are gone.
_FILLER_RE = re.compile(r"上午|早上|中午|下午|晚上|全天")

# One end of a range: [YYYY年][M月][D[日|号]][旬] [weekday marker].  A bare number ("15" in
# "9月15-16日", "3" in "2026年3-6月") is resolved against the other end of the range.
_POINT_RE = re.compile(
    r"(?:(?P<year>\d{4})年)?(?:(?P<month>\d{1,2})月)?"
    r"(?:(?P<num>\d{1,2})(?P<day_unit>[日号])?)?"
    r"(?P<dekad>上中旬|中下旬|上旬|中旬|下旬)?"
    rf"(?:{_WEEKDAY_MARK}(?P<weekday>\d))?"
)
_RANGE_SPLIT_RE = re.compile(_SEP)

# First and last day of each dekad wording; None means "the last day of the month".
_DEKADS: dict[str, tuple[int, int | None]] = {
    "上旬": (1, 10),
    "中旬": (11, 20),
    "下旬": (21, None),
    "上中旬": (1, 20),
    "中下旬": (11, None),
}

_GRAIN_ORDER = {"day": 0, "dekad": 1, "month": 2}
_RANGE_PRECISION = {"day": "days", "dekad": "dekad", "month": "months"}


@dataclass
class _Point:
    """One end of a date phrase before defaults are filled in."""

    year: int | None
    month: int | None
    day: int | None
    bare: int | None  # a number with no unit; becomes a month or a day from context
    dekad: str | None
    weekday: int | None
    text: str


def _unparseable(text: str, why_zh: str = "", why_en: str = "") -> DatePhraseError:
    """Build the standard 'cannot read this' error."""
    zh = f"无法识别的日期“{text}”" + (f"：{why_zh}" if why_zh else "")
    en = f'unrecognised date "{text}"' + (f": {why_en}" if why_en else "")
    return DatePhraseError("date_unparseable", zh, en)


def _to_time(m: re.Match[str], p: str, text: str, inherit_pm: bool = False) -> tuple[time, bool]:
    """Convert one _CLOCK match group set to a time; also report whether it was afternoon."""
    period = m.group(f"{p}period")
    hour = int(m.group(f"{p}hour"))
    if m.group(f"{p}minute"):
        minute = int(m.group(f"{p}minute"))
    elif m.group(f"{p}half"):
        minute = 30
    else:
        minute = int(m.group(f"{p}pmin") or 0)
    pm = period in ("下午", "晚上") or (period == "中午" and hour < 11)
    if period is None and inherit_pm and hour < 12:
        pm = True
    if pm and hour < 12:
        hour += 12
    if hour > 23 or minute > 59:
        raise DatePhraseError(
            "time_invalid",
            f"无效的时间“{m.group(0)}”（日期“{text}”）",
            f'invalid time "{m.group(0)}" (in date "{text}")',
        )
    return time(hour, minute), pm


def _extract_times(s: str, text: str) -> tuple[str, time | None, time | None]:
    """Remove a clock time or clock range from s and return it."""
    m = _TIME_RANGE_RE.search(s)
    if m:
        start, pm = _to_time(m, "a", text)
        end, _ = _to_time(m, "b", text, inherit_pm=pm)
        return s[: m.start()] + s[m.end() :], start, end
    m = _TIME_RE.search(s)
    if m:
        start, _ = _to_time(m, "a", text)
        return s[: m.start()] + s[m.end() :], start, None
    return s, None, None


def _int(value: str | None) -> int | None:
    """int() that passes None through."""
    return int(value) if value else None


def _parse_point(segment: str, text: str) -> _Point:
    """Match one range end against _POINT_RE."""
    m = _POINT_RE.fullmatch(segment)
    if not segment or not m or not any(m.group("year", "month", "num", "dekad")):
        raise _unparseable(text)
    num, month = _int(m.group("num")), _int(m.group("month"))
    day = bare = None
    if num is not None and (m.group("day_unit") or month is not None):
        day = num  # "16日", or "9月15" (a number after 月 is a day)
    elif num is not None and m.group("year"):
        month = num  # "2026年3" in "2026年3-6月"
    else:
        bare = num
    weekday = _int(m.group("weekday"))
    return _Point(_int(m.group("year")), month, day, bare, m.group("dekad"), weekday, segment)


def _resolve_bare(a: _Point, b: _Point | None, text: str) -> None:
    """Decide whether bare numbers are months or days, using the other end of a range."""
    if b is None:
        if a.bare is not None:
            raise _unparseable(text, "缺少“月”或“日”", 'no "月" (month) or "日" (day)')
        return
    for this, other in ((a, b), (b, a)):
        if this.bare is None:
            continue
        if other.month is not None and other.day is None and other.dekad is None:
            this.month, this.bare = this.bare, None  # "3-6月"
        elif other.bare is None:
            this.day, this.bare = this.bare, None  # "9月15日-16"
        else:
            raise _unparseable(text, "缺少“月”或“日”", 'no "月" (month) or "日" (day)')


def _fill_in(a: _Point, b: _Point | None, default_year: int, text: str) -> list[DateIssue]:
    """Give both range ends a year and month, borrowing from each other or default_year."""
    a_year_given = a.year is not None
    a.year = a.year or (b.year if b is not None and b.year else default_year)
    if b is None:
        return []
    b.month = b.month or a.month
    a.month = a.month or b.month
    if b.year is not None:
        if not a_year_given and a.month and b.month and a.month > b.month:
            a.year = b.year - 1  # "12月28日至2023年1月3日"
        return []
    b.year = a.year
    # "12月30日至1月2日": an end month well before the start month means the next year.
    if a.month and b.month and a.month - b.month >= 6:
        b.year += 1
        return [
            DateIssue(
                "year_rollover",
                f"“{text}”跨年，结束日期按{b.year}年计",
                f'"{text}" crosses the new year; the end is taken to be in {b.year}',
            )
        ]
    return []


def _bounds(p: _Point, text: str) -> tuple[date, date, str]:
    """Return the first day, last day and grain ("day"/"dekad"/"month") of a filled-in point."""
    if p.month is None:
        raise _unparseable(text, "缺少月份", "no month given")
    if p.day is not None and p.dekad is not None:
        raise _unparseable(text)
    assert p.year is not None
    if not 1 <= p.month <= 12:
        raise DatePhraseError(
            "date_invalid",
            f"不存在的日期“{text}”：没有{p.month}月",
            f'impossible date "{text}": there is no month {p.month}',
        )
    last = calendar.monthrange(p.year, p.month)[1]
    if p.day is not None:
        if not 1 <= p.day <= last:
            raise DatePhraseError(
                "date_invalid",
                f"不存在的日期“{text}”：{p.year}年{p.month}月只有{last}天",
                f'impossible date "{text}": {p.year}-{p.month:02d} has only {last} days',
            )
        d = date(p.year, p.month, p.day)
        return d, d, "day"
    if p.dekad is not None:
        first_day, last_day = _DEKADS[p.dekad]
        return date(p.year, p.month, first_day), date(p.year, p.month, last_day or last), "dekad"
    return date(p.year, p.month, 1), date(p.year, p.month, last), "month"


def _check_weekday(p: _Point, d: date, grain: str, text: str) -> DateIssue | None:
    """Warn when a weekday note disagrees with the date it annotates."""
    if p.weekday is None or grain != "day" or d.weekday() == p.weekday:
        return None
    actual, noted = _WEEKDAY_ZH[d.weekday()], _WEEKDAY_ZH[p.weekday]
    return DateIssue(
        "weekday_mismatch",
        f"“{text}”中的星期不符：{d.isoformat()}是星期{actual}，不是星期{noted}",
        f'weekday mismatch in "{text}": {d.isoformat()} is a {d:%A}, '
        f"not a {calendar.day_name[p.weekday]}",
    )


def parse_when(text: str, default_year: int) -> ParsedWhen:
    """Parse a Chinese schedule date phrase into an inclusive date window."""
    original = (text or "").strip()
    if not original:
        raise DatePhraseError("date_empty", "日期为空", "date is empty")
    s, tentative, start_time, end_time, warnings = _simplify(original)
    if _QUARTER_RE.search(s):
        raise DatePhraseError(
            "date_quarter",
            f"“{original}”是季度，不是开展日期：请填写具体日期（如9月16日）或旬（如9月中旬）",
            f'"{original}" is a quarter, not a date to hold an event by: give a day '
            "(9月16日) or a third of a month (9月中旬)",
        )
    if _LIST_SEP_RE.search(s):
        first, last = _listed_days(s, default_year, original, warnings)
        return ParsedWhen(first, last, tentative, start_time, end_time, "multiday", tuple(warnings))

    segments = _RANGE_SPLIT_RE.split(s)
    if len(segments) > 2:
        raise _unparseable(original, "包含多个日期范围", "more than one range")
    a = _parse_point(segments[0], original)
    b = _parse_point(segments[1], original) if len(segments) == 2 else None
    _resolve_bare(a, b, original)

    warnings.extend(_fill_in(a, b, default_year, original))
    earliest, latest, precision = _window(a, b, original, warnings)
    if start_time is not None and end_time is not None and end_time < start_time:
        warnings.append(
            DateIssue(
                "time_range_reversed",
                f"“{original}”中的结束时间早于开始时间",
                f'in "{original}" the end time is before the start time',
            )
        )
    return ParsedWhen(
        earliest=earliest,
        latest=latest,
        tentative=tentative,
        start_time=start_time,
        end_time=end_time,
        precision=precision,
        warnings=tuple(warnings),
    )


# Chinese numerals before 年/月/日/号/点/时: 二〇二二年九月十六日, 下午三点 (issue 10).
_CN_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
              "七": 7, "八": 8, "九": 9}  # fmt: skip
_CN_NUMBER_RE = re.compile(r"([〇零一二两三四五六七八九十]+)(?=[年月日号点时])")


def _cn_number(token: str) -> str:
    """二〇二二 → 2022 (digit by digit), 九 → 9, 十六 → 16, 二十 → 20, 三十一 → 31."""
    if "十" not in token:
        return "".join(str(_CN_DIGITS[c]) for c in token)
    tens, _, ones = token.partition("十")
    if len(tens) > 1 or len(ones) > 1 or "十" in ones:
        return token  # not a number a date uses; left for the parser to refuse
    return str((_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0))


def _simplify(original: str) -> tuple[str, bool, time | None, time | None, list[DateIssue]]:
    """Normalise a phrase down to its dates: fold forms, take out the tentative mark, clock
    times, weekday notes (as markers), remarks and filler words; dotted dates become 月日."""
    s = unicodedata.normalize("NFKC", original)
    s = _CN_NUMBER_RE.sub(lambda m: _cn_number(m.group(1)), s)
    s = _ISO_DATE_RE.sub(r"\1年\2月\3日", s)
    s = re.sub(r"\s+", "", s)
    s, tentative = _TENTATIVE_RE.subn("", s)
    s = _DOTTED_CLOCK_RE.sub(r"\1\2:\3", s)
    s, start_time, end_time = _extract_times(s, original)
    s = _WEEKDAY_RE.sub(lambda m: f"{_WEEKDAY_MARK}{_WEEKDAY_INDEX[m.group(1)]}", s)
    warnings = [
        DateIssue(
            "note_ignored",
            f"已忽略“{original}”中的备注“{note}”",
            f'ignored the remark "{note}" in "{original}"',
        )
        for note in _NOTE_RE.findall(s)
    ]
    s = _NOTE_RE.sub("", s)
    s = _FILLER_RE.sub("", s)
    s = _DOTTED_DATE_RE.sub(r"\1月\2日", s)
    s = _SLASHED_DATE_RE.sub(r"\1月\2日", s)
    s, approximate = _MONTH_PART_RE.subn(lambda m: m.group(1) + _MONTH_PART_DEKAD[m.group(2)], s)
    return s, bool(tentative or approximate), start_time, end_time, warnings


def _listed_days(
    s: str, default_year: int, original: str, warnings: list[DateIssue]
) -> tuple[date, date]:
    """The first and last of the listed days of one event ("9月16日、17日", "9月16、17日"):
    each a day, in order, one after another, the month and year carried from the day before."""
    days: list[date] = []
    year, month = default_year, None
    for segment in _LIST_SEP_RE.split(s):
        p = _parse_point(segment, original)
        if p.bare is not None:
            p.day, p.bare = p.bare, None  # "16" in "9月16、17日"
        if p.day is None or p.dekad is not None:
            raise _unparseable(original, "列出的须是日期", "listed items must be days")
        if p.month is not None and month is not None and p.month < month and p.year is None:
            year += 1  # "12月31日、1月1日"
        year, month = p.year or year, p.month or month
        p.year, p.month = year, month
        day, _, _ = _bounds(p, original)
        if days and day <= days[-1]:
            raise DatePhraseError(
                "date_range_reversed",
                f"“{original}”中列出的日期须由早到晚、不重复",
                f'the days listed in "{original}" must be in order, without repeats',
            )
        if days and (day - days[-1]).days > 1:  # two events, or one with a gap: ask
            raise _unparseable(
                original, "列出的须是一个活动连续开展的几天", "listed days must follow each other"
            )
        issue = _check_weekday(p, day, "day", original)
        if issue is not None:
            warnings.append(issue)
        days.append(day)
    return days[0], days[-1]


def _window(
    a: _Point, b: _Point | None, original: str, warnings: list[DateIssue]
) -> tuple[date, date, str]:
    """The first day, last day and precision of one point or a range; weekday notes checked."""
    earliest, latest, grain = _bounds(a, original)
    issues = [_check_weekday(a, earliest, grain, original)]
    precision = grain
    if b is not None:
        b_first, latest, b_grain = _bounds(b, original)
        if b_first < earliest or latest < earliest:
            raise DatePhraseError(
                "date_range_reversed",
                f"日期范围“{original}”的结束早于开始",
                f'date range "{original}" ends before it starts',
            )
        issues.append(_check_weekday(b, b_first, b_grain, original))
        coarsest = max(grain, b_grain, key=_GRAIN_ORDER.__getitem__)
        precision = "day" if earliest == latest else _RANGE_PRECISION[coarsest]
    warnings.extend(i for i in issues if i is not None)
    return earliest, latest, precision
