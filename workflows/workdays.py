"""Working days (工作日) under mainland China's official holiday arrangement.

Deadlines such as "在15个工作日内办结并及时反馈" are counted in working days: Saturdays, Sundays
and statutory holidays are off, adjusted working weekends (调休上班) are on, as set by the State
Council's yearly notice (国务院办公厅关于××年部分节假日安排的通知).

Where the days come from, in order of precedence:

1. Loaded rules (:class:`DayRule`): a newly published year or a local override, loaded by an
   admin from a calendar file (:func:`parse_calendar_file`) and persisted by the caller.  When two
   loaded rules name the same day, the later one passed to :class:`WorkdayCalendar` wins.
2. The ``chinesecalendar`` package, for the years it has data for (2004–2026 in version 1.11).
3. Plain Monday–Friday.  A count that examines a day in a year with no data (neither in
   ``chinesecalendar`` nor declared complete by a loaded file) still uses Monday–Friday for that
   year, but its :class:`WorkdayResult` is marked ``provisional`` and names the year in
   ``missing_years``: it is never silently treated as final.

Counting "N working days after START" starts the day after START; the due date is the Nth
working day.  Example: 2022-09-16 + 15 working days = 2022-10-12 (National Day 10-01..10-07 off,
Saturday 10-08 and Sunday 10-09 adjusted working days).

Calendar file format (``.yaml``/``.yml``, or ``.json`` with the same shape, UTF-8)::

    source: 国务院办公厅关于2027年部分节假日安排的通知    # required when `years` is given
    years:                       # each year listed is complete: its counts are not provisional
      - year: 2027
        holidays:                # days off: single dates or inclusive ranges "A..B"
          - 2027-01-01
          - "2027-02-06..2027-02-12"
        workdays:                # adjusted working weekends (调休上班); Saturdays/Sundays only
          - 2027-02-14
    overrides:                   # optional, any year; they do NOT make a year complete
      - date: 2026-12-01         # a single date or an inclusive range "A..B"
        workday: false           # true or false
        reason: 紧急情况延长假期  # optional

Every date of a ``years`` entry must lie in that year.  A notice that also moves days at the
end of the previous year (the 2019 notice made 2018-12-29 a working day and 2018-12-31 a
holiday) must list those days under ``overrides``.  An override wins over a ``years`` entry of
the same file for the same day.  Unknown keys are refused so that typos (``holiday:``) do not
silently drop days.  Problems raise :class:`CalendarFileError` with a stable ``code`` and a
message in Chinese and English that names the offending value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import PurePath
from typing import Any

import yaml
from chinese_calendar import constants as _cc

__all__ = [
    "CalendarFile",
    "CalendarFileError",
    "DayRule",
    "WorkdayCalendar",
    "WorkdayResult",
    "parse_calendar_file",
]

# chinesecalendar's data, read directly: `chinese_calendar.is_workday` recomputes the covered year
# range over every holiday on each call, far too slow for a loop over hundreds of days.
_CC_HOLIDAYS: Mapping[date, Any] = _cc.holidays
_CC_WORKDAYS: Mapping[date, Any] = _cc.workdays
# The same range chinesecalendar itself accepts (it raises NotImplementedError outside it).
_CC_FIRST_YEAR: int = min(d.year for d in _CC_HOLIDAYS)
_CC_LAST_YEAR: int = max(d.year for d in _CC_HOLIDAYS)

_LOCAL_OVERRIDE = "local override"
_HOLIDAY_REASON = "节假日放假 / holiday"
_ADJUSTED_REASON = "调休上班 / adjusted working day"


@dataclass(frozen=True)
class DayRule:
    """One day's status as set by a loaded calendar file, with where it came from."""

    day: date
    workday: bool
    source: str  # e.g. "国务院办公厅关于2027年部分节假日安排的通知" or "local override"
    reason: str | None = None


@dataclass(frozen=True)
class WorkdayResult:
    """A day reached by counting working days, and whether the count rests on guessed years."""

    day: date
    provisional: bool  # some day counted lies in a year without data
    missing_years: tuple[int, ...]  # those years, sorted
    count: int = 0  # working days counted (n for add/subtract, the answer for workdays_between)


def _as_date(value: date) -> date:
    """Drop the time of a datetime; dates pass through."""
    return value.date() if isinstance(value, datetime) else value


def _check_n(n: int) -> None:
    """Refuse a working-day count that is not a positive whole number."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"工作日数必须为正整数，收到 {n!r} / n must be an integer >= 1, got {n!r}")


class WorkdayCalendar:
    """Answers 'is this a working day' and counts working days, marking guessed years."""

    def __init__(
        self, loaded_days: Iterable[DayRule] = (), complete_years: Iterable[int] = ()
    ) -> None:
        """Build a calendar from loaded rules (later rules win) and fully published years."""
        self._loaded: dict[date, bool] = {}
        for rule in loaded_days:
            self._loaded[_as_date(rule.day)] = rule.workday
        self._complete_years = frozenset(int(y) for y in complete_years)

    def has_data(self, year: int) -> bool:
        """True when chinesecalendar covers the year or a loaded file published it in full."""
        return _CC_FIRST_YEAR <= year <= _CC_LAST_YEAR or year in self._complete_years

    def is_workday(self, day: date) -> bool:
        """Whether people work on this day: loaded rule, else chinesecalendar, else Mon–Fri."""
        return self._is_workday(_as_date(day))

    def _is_workday(self, day: date) -> bool:
        """is_workday for a plain date; the hot path of every count."""
        loaded = self._loaded.get(day)
        if loaded is not None:
            return loaded
        if _CC_FIRST_YEAR <= day.year <= _CC_LAST_YEAR:
            if day in _CC_WORKDAYS:
                return True
            if day in _CC_HOLIDAYS:
                return False
        return day.weekday() < 5

    def add_workdays(self, start: date, n: int) -> WorkdayResult:
        """The Nth working day after start (counting from the day after start)."""
        _check_n(n)
        return self._walk(_as_date(start), n, 1)

    def subtract_workdays(self, end: date, n: int) -> WorkdayResult:
        """The Nth working day before end (end itself not counted), e.g. for reminders."""
        _check_n(n)
        return self._walk(_as_date(end), n, -1)

    def workdays_between(self, start: date, end: date) -> WorkdayResult:
        """Working days in (start, end], e.g. how late an answer is; 0 if end <= start."""
        start, end = _as_date(start), _as_date(end)
        count = 0
        missing: set[int] = set()
        day = start
        one = timedelta(days=1)
        while day < end:
            day += one
            if not self.has_data(day.year):
                missing.add(day.year)
            if self._is_workday(day):
                count += 1
        return WorkdayResult(end, bool(missing), tuple(sorted(missing)), count)

    def _walk(self, origin: date, n: int, step: int) -> WorkdayResult:
        """Step one day at a time from origin until n working days have been passed."""
        missing: set[int] = set()
        day = origin
        delta = timedelta(days=step)
        remaining = n
        while remaining:
            day += delta
            if not self.has_data(day.year):
                missing.add(day.year)
            if self._is_workday(day):
                remaining -= 1
        return WorkdayResult(day, bool(missing), tuple(sorted(missing)), n)

    @property
    def published_years(self) -> list[int]:
        """Years with full data (chinesecalendar's plus loaded complete years), sorted."""
        years = set(range(_CC_FIRST_YEAR, _CC_LAST_YEAR + 1)) | self._complete_years
        return sorted(years)


# --- calendar files ---------------------------------------------------------------------------


class CalendarFileError(ValueError):
    """A calendar file that cannot be loaded; stable code, message in Chinese and English."""

    def __init__(self, code: str, message_zh: str, message_en: str) -> None:
        super().__init__(f"{message_zh} / {message_en}")
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en


@dataclass(frozen=True)
class CalendarFile:
    """A parsed calendar file: its source, the years it publishes in full, and its day rules."""

    source: str
    complete_years: tuple[int, ...]
    # Holidays (workday=False) and adjusted workdays (workday=True) of those years, plus
    # overrides; one rule per day, sorted by day.
    days: tuple[DayRule, ...]


_SUFFIXES = (".json", ".yaml", ".yml")
_TOP_KEYS = frozenset({"source", "years", "overrides"})
_YEAR_KEYS = frozenset({"year", "holidays", "workdays"})
_OVERRIDE_KEYS = frozenset({"date", "workday", "reason"})
_YEAR_MIN, _YEAR_MAX = 1949, 2100
# Text limits that keep "local override: <source>" and reasons within a 300-character column.
_SOURCE_MAX, _REASON_MAX = 200, 300
_ISO_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_WEEKDAYS_ZH = "一二三四五六日"


def _iso(day: date) -> str:
    """A date as YYYY-MM-DD with its weekday in Chinese, for messages."""
    return f"{day.isoformat()}（星期{_WEEKDAYS_ZH[day.weekday()]}）"


def _show(value: Any) -> str:
    """A raw file value as it should appear in a message."""
    if isinstance(value, date):
        return value.isoformat()
    return json.dumps(value, ensure_ascii=False, default=str)


def _parse_day(value: Any, where_zh: str, where_en: str) -> date:
    """One YYYY-MM-DD date (a YAML date or a string); anything else is calendar_invalid_date."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_RE.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise CalendarFileError(
        "calendar_invalid_date",
        f"{where_zh}中的日期 {_show(value)} 无效，应为 YYYY-MM-DD 或 YYYY-MM-DD..YYYY-MM-DD",
        f"invalid date {_show(value)} in {where_en}; expected YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD",
    )


def _parse_span(value: Any, where_zh: str, where_en: str) -> list[date]:
    """Every day of one entry: a single date or an inclusive range 'A..B'."""
    if isinstance(value, str) and ".." in value:
        first_text, last_text = value.split("..", 1)
        first = _parse_day(first_text, where_zh, where_en)
        last = _parse_day(last_text, where_zh, where_en)
        if last < first:
            raise CalendarFileError(
                "calendar_range_reversed",
                f"{where_zh}中的日期范围 {_show(value)} 的结束日早于开始日",
                f"range {_show(value)} in {where_en} ends before it starts",
            )
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]
    return [_parse_day(value, where_zh, where_en)]


def _structure_error(what_zh: str, what_en: str, value: Any) -> CalendarFileError:
    """The standard 'wrong shape' error."""
    return CalendarFileError(
        "calendar_invalid_structure",
        f"日历文件格式错误：{what_zh}，收到 {_show(value)}",
        f"malformed calendar file: {what_en}, got {_show(value)}",
    )


def _check_keys(
    entry: Mapping[Any, Any], allowed: frozenset[str], where_zh: str, where_en: str
) -> None:
    """Refuse keys the format does not know, so typos do not silently drop days."""
    unknown = sorted(str(k) for k in entry if k not in allowed)
    if unknown:
        names = ", ".join(unknown)
        expected = ", ".join(sorted(allowed))
        raise CalendarFileError(
            "calendar_unknown_key",
            f"{where_zh}中有未知字段：{names}（允许的字段：{expected}）",
            f"unknown key(s) in {where_en}: {names} (allowed: {expected})",
        )


def _as_list(value: Any, what_zh: str, what_en: str) -> list[Any]:
    """A list, or [] for a missing value; anything else is a structure error."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise _structure_error(f"{what_zh}应为列表", f"{what_en} must be a list", value)
    return value


def _read_document(data: bytes, filename: str) -> Any:
    """Decode and parse the file by its suffix."""
    suffix = PurePath(filename).suffix.lower()
    if suffix not in _SUFFIXES:
        raise CalendarFileError(
            "calendar_unsupported_suffix",
            f"不支持的日历文件类型 {_show(filename)}，仅支持 .json、.yaml、.yml",
            f"unsupported calendar file type {_show(filename)}; use .json, .yaml or .yml",
        )
    try:
        text = data.decode("utf-8-sig")
        if suffix == ".json":
            return json.loads(text)
        return yaml.safe_load(text)
    except UnicodeDecodeError as exc:
        zh, en = f"不是 UTF-8 编码（第 {exc.start} 字节）", f"not UTF-8 (byte {exc.start})"
    except json.JSONDecodeError as exc:
        zh = f"第 {exc.lineno} 行第 {exc.colno} 列：{exc.msg}"
        en = f"line {exc.lineno} column {exc.colno}: {exc.msg}"
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or type(exc).__name__
        if mark is not None:
            zh = f"第 {mark.line + 1} 行第 {mark.column + 1} 列：{problem}"
            en = f"line {mark.line + 1} column {mark.column + 1}: {problem}"
        else:
            zh = en = str(problem)
    raise CalendarFileError(
        "calendar_unreadable",
        f"无法读取日历文件 {_show(filename)}：{zh}",
        f"cannot read calendar file {_show(filename)}: {en}",
    )


def _parse_year(entry: Any, index: int, source: str, seen: set[int]) -> list[DayRule]:
    """The holidays and adjusted workdays of one `years` entry, validated."""
    if not isinstance(entry, dict):
        raise _structure_error(
            f"years 第 {index + 1} 项应为映射", f"years[{index}] must be a mapping", entry
        )
    if "year" not in entry:
        raise CalendarFileError(
            "calendar_missing_year",
            f"years 第 {index + 1} 项缺少 year 字段",
            f"years[{index}] has no 'year'",
        )
    year = entry["year"]
    if isinstance(year, bool) or not isinstance(year, int) or not _YEAR_MIN <= year <= _YEAR_MAX:
        raise CalendarFileError(
            "calendar_invalid_year",
            f"years 第 {index + 1} 项的年份 {_show(year)} 无效，"
            f"应为 {_YEAR_MIN}–{_YEAR_MAX} 的整数",
            f"invalid year {_show(year)} in years[{index}]; expected an integer "
            f"{_YEAR_MIN}-{_YEAR_MAX}",
        )
    if year in seen:
        raise CalendarFileError(
            "calendar_duplicate_year",
            f"年份 {year} 在 years 中出现了两次",
            f"year {year} is listed twice in years",
        )
    seen.add(year)
    _check_keys(entry, _YEAR_KEYS, f"{year} 年", f"year {year}")

    days: dict[str, set[date]] = {}
    for key, label_zh, label_en in (
        ("holidays", "放假日期", "holidays"),
        ("workdays", "调休上班日期", "adjusted workdays"),
    ):
        where_zh, where_en = f"{year} 年的{label_zh}", f"{label_en} of {year}"
        found: set[date] = set()
        for item in _as_list(entry.get(key), where_zh, where_en):
            for day in _parse_span(item, where_zh, where_en):
                if day.year != year:
                    raise CalendarFileError(
                        "calendar_date_outside_year",
                        f"{where_zh}中的 {_show(item)} 不在 {year} 年内"
                        "（上一年年末的调整请写在 overrides 中）",
                        f"{_show(item)} in {where_en} is not in {year} "
                        "(put changes to the end of the previous year under overrides)",
                    )
                found.add(day)
        days[key] = found

    holidays, workdays = days["holidays"], days["workdays"]
    if not holidays:
        raise CalendarFileError(
            "calendar_year_without_holidays",
            f"{year} 年没有列出任何放假日期，无法作为完整年份载入",
            f"year {year} lists no holidays, so it cannot be loaded as a complete year",
        )
    both = sorted(holidays & workdays)
    if both:
        raise CalendarFileError(
            "calendar_holiday_and_workday",
            f"{_iso(both[0])} 同时列为放假日和调休上班日",
            f"{both[0].isoformat()} is listed both as a holiday and as an adjusted workday",
        )
    weekdays = sorted(d for d in workdays if d.weekday() < 5)
    if weekdays:
        raise CalendarFileError(
            "calendar_workday_not_weekend",
            f"调休上班日 {_iso(weekdays[0])} 不是星期六或星期日",
            f"adjusted workday {weekdays[0].isoformat()} "
            f"({weekdays[0].strftime('%A')}) is not a Saturday or Sunday",
        )
    rules = [DayRule(d, False, source, _HOLIDAY_REASON) for d in holidays]
    rules += [DayRule(d, True, source, _ADJUSTED_REASON) for d in workdays]
    return rules


def _parse_override(entry: Any, index: int, source: str, seen: set[date]) -> list[DayRule]:
    """The day rules of one `overrides` entry, validated."""
    if not isinstance(entry, dict):
        raise _structure_error(
            f"overrides 第 {index + 1} 项应为映射", f"overrides[{index}] must be a mapping", entry
        )
    missing = [key for key in ("date", "workday") if entry.get(key) is None]
    if missing:
        names = "、".join(missing)
        raise CalendarFileError(
            "calendar_override_incomplete",
            f"overrides 第 {index + 1} 项缺少 {names} 字段：{_show(entry)}",
            f"overrides[{index}] lacks {' and '.join(missing)}: {_show(entry)}",
        )
    _check_keys(entry, _OVERRIDE_KEYS, f"overrides 第 {index + 1} 项", f"overrides[{index}]")
    workday, reason = entry["workday"], entry.get("reason")
    if not isinstance(workday, bool):
        raise CalendarFileError(
            "calendar_override_invalid",
            f"overrides 第 {index + 1} 项的 workday 应为 true 或 false，收到 {_show(workday)}",
            f"workday in overrides[{index}] must be true or false, got {_show(workday)}",
        )
    if reason is not None and (not isinstance(reason, str) or len(reason) > _REASON_MAX):
        raise CalendarFileError(
            "calendar_override_invalid",
            f"overrides 第 {index + 1} 项的 reason 应为不超过 {_REASON_MAX} 字的文字，"
            f"收到 {_show(reason)}",
            f"reason in overrides[{index}] must be text of at most {_REASON_MAX} characters, "
            f"got {_show(reason)}",
        )
    where_zh, where_en = f"overrides 第 {index + 1} 项", f"overrides[{index}]"
    rules = []
    for day in _parse_span(entry["date"], where_zh, where_en):
        if day in seen:
            raise CalendarFileError(
                "calendar_duplicate_override",
                f"{_iso(day)} 在 overrides 中出现了两次",
                f"{day.isoformat()} appears twice in overrides",
            )
        seen.add(day)
        rules.append(DayRule(day, workday, source, reason.strip() if reason else None))
    return rules


def parse_calendar_file(data: bytes, filename: str) -> CalendarFile:
    """Parse and validate a calendar file (.json, .yaml or .yml) into day rules."""
    doc = _read_document(data, filename)
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise _structure_error("顶层应为映射", "the top level must be a mapping", doc)
    _check_keys(doc, _TOP_KEYS, "日历文件顶层", "the top level")
    years = _as_list(doc.get("years"), "years", "years")
    overrides = _as_list(doc.get("overrides"), "overrides", "overrides")
    source = doc.get("source")
    if source is not None and (
        not isinstance(source, str) or not source.strip() or len(source) > _SOURCE_MAX
    ):
        raise _structure_error(
            f"source 应为不超过 {_SOURCE_MAX} 字的非空文字",
            f"source must be non-empty text of at most {_SOURCE_MAX} characters",
            source,
        )
    if not years and not overrides:
        raise CalendarFileError(
            "calendar_empty",
            f"日历文件 {_show(filename)} 既没有 years 也没有 overrides",
            f"calendar file {_show(filename)} has neither years nor overrides",
        )
    if source is None and years:
        raise CalendarFileError(
            "calendar_missing_source",
            "载入整年安排时必须填写 source（如“国务院办公厅关于2027年部分节假日安排的通知”）",
            "source is required when a file publishes whole years (name the State Council notice)",
        )
    source = source.strip() if source else _LOCAL_OVERRIDE
    override_source = (
        _LOCAL_OVERRIDE if source == _LOCAL_OVERRIDE else f"{_LOCAL_OVERRIDE}: {source}"
    )

    rules: dict[date, DayRule] = {}
    seen_years: set[int] = set()
    for index, entry in enumerate(years):
        for rule in _parse_year(entry, index, source, seen_years):
            rules[rule.day] = rule
    seen_overrides: set[date] = set()
    for index, entry in enumerate(overrides):
        for rule in _parse_override(entry, index, override_source, seen_overrides):
            rules[rule.day] = rule  # an override wins over the same file's years
    return CalendarFile(
        source=source,
        complete_years=tuple(sorted(seen_years)),
        days=tuple(rules[d] for d in sorted(rules)),
    )
