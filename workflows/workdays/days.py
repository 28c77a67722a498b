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
silently drop days.  The format is the pydantic model :class:`CalendarDocument` (``extra="forbid"``
at every level).  Problems raise :class:`CalendarFileError` (a ``DomainError``, HTTP 422) with a
stable ``code`` and a message in Chinese and English that names the field path
(``years[0].holidays[2]``) and the offending value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import PurePath
from typing import Annotated, Any

import yaml
from chinese_calendar import constants as _cc
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from workflows.kernel.errors import InvalidData

__all__ = [
    "CalendarDocument",
    "CalendarFile",
    "CalendarFileError",
    "DayOverride",
    "DaySpan",
    "DayRule",
    "WorkdayCalendar",
    "WorkdayResult",
    "YearArrangement",
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


# workdays_between counts by running totals for days in this range (the dates moves accept).
_PREFIX_FIRST, _PREFIX_END = date(2000, 1, 1), date(2101, 1, 1)


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
        self._prefix: list[int] = [0]  # see _prefix_upto

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
        if _PREFIX_FIRST <= start < end < _PREFIX_END:
            # A list of 50 overdue answers asks this 50 times with long spans: two lookups in
            # the running count of working days instead of a walk day by day.
            prefix = self._prefix_upto(end)
            count = (
                prefix[(end - _PREFIX_FIRST).days + 1] - prefix[(start - _PREFIX_FIRST).days + 1]
            )
            first = (start + timedelta(days=1)).year
            missing_years = tuple(y for y in range(first, end.year + 1) if not self.has_data(y))
            return WorkdayResult(end, bool(missing_years), missing_years, count)
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

    def _prefix_upto(self, day: date) -> list[int]:
        """Working days in [_PREFIX_FIRST, _PREFIX_FIRST + i) at index i, grown to reach `day`
        (the calendar never changes after it is built, so the counts stay true)."""
        prefix = self._prefix
        need = (day - _PREFIX_FIRST).days + 2
        if len(prefix) < need:
            current = _PREFIX_FIRST + timedelta(days=len(prefix) - 1)
            one = timedelta(days=1)
            running = prefix[-1]
            # Grow a year at a time at least, so a date creeping forward costs one extension.
            target = max(need, len(prefix) + 366)
            while len(prefix) < target and current < _PREFIX_END:
                running += self._is_workday(current)
                prefix.append(running)
                current += one
        return prefix

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


class CalendarFileError(InvalidData):
    """A calendar file that cannot be loaded (HTTP 422; also a ValueError).

    ``code`` and the messages describe the first problem found; ``details["errors"]`` lists every
    problem with its field path (``years[0].holidays[2]``), code and messages.
    """


@dataclass(frozen=True)
class CalendarFile:
    """A parsed calendar file: its source, the years it publishes in full, and its day rules."""

    source: str
    complete_years: tuple[int, ...]
    # Holidays (workday=False) and adjusted workdays (workday=True) of those years, plus
    # overrides; one rule per day, sorted by day.
    days: tuple[DayRule, ...]


_SUFFIXES = (".json", ".yaml", ".yml")
_YEAR_MIN, _YEAR_MAX = 1949, 2100
# Text limits that keep "local override: <source>" and reasons within a 300-character column.
_SOURCE_MAX, _REASON_MAX = 200, 300
_SHOW_MAX = 400  # a raw value longer than this is cut short in messages
_ISO_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_WEEKDAYS_ZH = "一二三四五六日"


def _iso(day: date) -> str:
    """A date as YYYY-MM-DD with its weekday in Chinese, for messages."""
    return f"{day.isoformat()}（星期{_WEEKDAYS_ZH[day.weekday()]}）"


def _show(value: Any) -> str:
    """A raw file value as it should appear in a message."""
    if isinstance(value, date):
        return value.isoformat()
    shown = json.dumps(value, ensure_ascii=False, default=str)
    return shown if len(shown) <= _SHOW_MAX else f"{shown[:_SHOW_MAX]}…"


def _refuse(code: str, zh: str, en: str, at: tuple[str | int, ...] = ()) -> PydanticCustomError:
    """A validation failure with its stable code and both messages; `at` extends its path."""
    return PydanticCustomError(code, "{en}", {"en": en, "zh": zh, "at": at})


@dataclass(frozen=True)
class DaySpan:
    """One entry of a day list: a single date or an inclusive range "A..B"."""

    first: date
    last: date
    text: str  # as written, for messages

    def days(self) -> list[date]:
        """Every day of the span, in order."""
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]


def _parse_day(value: Any) -> date:
    """One YYYY-MM-DD date (a YAML date or a string); anything else is calendar_invalid_date."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_RE.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise _refuse(
        "calendar_invalid_date",
        f"日期 {_show(value)} 无效，应为 YYYY-MM-DD 或 YYYY-MM-DD..YYYY-MM-DD",
        f"invalid date {_show(value)}; expected YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD",
    )


def _parse_span(value: Any) -> DaySpan:
    """A single date or an inclusive range 'A..B', as a DaySpan."""
    if isinstance(value, str) and ".." in value:
        first_text, last_text = value.split("..", 1)
        first, last = _parse_day(first_text), _parse_day(last_text)
        if last < first:
            raise _refuse(
                "calendar_range_reversed",
                f"日期范围 {_show(value)} 的结束日早于开始日",
                f"range {_show(value)} ends before it starts",
            )
        return DaySpan(first, last, value)
    day = _parse_day(value)
    return DaySpan(day, day, value if isinstance(value, str) else day.isoformat())


def _none_as_empty(value: Any) -> Any:
    """A list left empty in the file (`holidays:`) is an empty list."""
    return [] if value is None else value


_SPAN_SCHEMA = {
    "type": "string",
    "description": "YYYY-MM-DD, or an inclusive range YYYY-MM-DD..YYYY-MM-DD",
    "examples": ["2027-01-01", "2027-02-06..2027-02-12"],
}
Span = Annotated[DaySpan, PlainValidator(_parse_span), WithJsonSchema(_SPAN_SCHEMA)]
SpanList = Annotated[list[Span], BeforeValidator(_none_as_empty)]
_SOURCE_RULE_ZH = f"应为不超过 {_SOURCE_MAX} 字的非空文字"
_SOURCE_RULE_EN = f"must be non-empty text of at most {_SOURCE_MAX} characters"


class YearArrangement(BaseModel):
    """One ``years`` entry: a year's holiday arrangement, published in full."""

    model_config = ConfigDict(extra="forbid")

    year: Annotated[int, Field(strict=True, ge=_YEAR_MIN, le=_YEAR_MAX)]
    holidays: SpanList = []  # days off
    workdays: SpanList = []  # adjusted working weekends (调休上班)

    @model_validator(mode="after")
    def _consistent(self) -> YearArrangement:
        """Dates inside the year, some holiday, no day both ways, adjusted days on weekends."""
        holidays, workdays = set(self.holiday_days()), set(self.workday_days())
        if not holidays:
            raise _refuse(
                "calendar_year_without_holidays",
                f"{self.year} 年没有列出任何放假日期，无法作为完整年份载入",
                f"year {self.year} lists no holidays, so it cannot be loaded as a complete year",
                ("holidays",),
            )
        both = sorted(holidays & workdays)
        if both:
            raise _refuse(
                "calendar_holiday_and_workday",
                f"{_iso(both[0])} 同时列为放假日和调休上班日",
                f"{both[0].isoformat()} is listed both as a holiday and as an adjusted workday",
            )
        weekdays = sorted(d for d in workdays if d.weekday() < 5)
        if weekdays:
            raise _refuse(
                "calendar_workday_not_weekend",
                f"调休上班日 {_iso(weekdays[0])} 不是星期六或星期日",
                f"adjusted workday {weekdays[0].isoformat()} "
                f"({weekdays[0].strftime('%A')}) is not a Saturday or Sunday",
                ("workdays",),
            )
        return self

    def holiday_days(self) -> list[date]:
        """Every day off listed, checked to lie in the year."""
        return self._days_in_year("holidays", self.holidays)

    def workday_days(self) -> list[date]:
        """Every adjusted working day listed, checked to lie in the year."""
        return self._days_in_year("workdays", self.workdays)

    def _days_in_year(self, key: str, spans: list[DaySpan]) -> list[date]:
        """The days of spans; a day of another year is calendar_date_outside_year."""
        found: list[date] = []
        for index, span in enumerate(spans):
            days = span.days()
            if days[0].year != self.year or days[-1].year != self.year:
                raise _refuse(
                    "calendar_date_outside_year",
                    f"{_show(span.text)} 不在 {self.year} 年内"
                    "（上一年年末的调整请写在 overrides 中）",
                    f"{_show(span.text)} is not in {self.year} "
                    "(put changes to the end of the previous year under overrides)",
                    (key, index),
                )
            found += days
        return found

    def rules(self, source: str) -> list[DayRule]:
        """The year's holidays and adjusted workdays as day rules."""
        rules = [DayRule(d, False, source, _HOLIDAY_REASON) for d in self.holiday_days()]
        return rules + [DayRule(d, True, source, _ADJUSTED_REASON) for d in self.workday_days()]


class DayOverride(BaseModel):
    """One ``overrides`` entry: a day or range made a working day or a day off."""

    model_config = ConfigDict(extra="forbid", populate_by_name=False)

    # `date` in the file; named `day` here so it does not shadow datetime.date in the class body.
    day: Span = Field(alias="date")
    workday: Annotated[bool, Field(strict=True)]
    reason: Annotated[str, StringConstraints(strict=True, max_length=_REASON_MAX)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _null_is_missing(cls, data: Any) -> Any:
        """`date: ~` or `workday: ~` is a missing field, not a wrong value."""
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None or k not in ("date", "workday")}
        return data

    def rules(self, source: str) -> list[DayRule]:
        """One day rule per day of the span."""
        reason = self.reason.strip() if self.reason else None
        return [DayRule(d, self.workday, source, reason) for d in self.day.days()]


class CalendarDocument(BaseModel):
    """A calendar file as written (format in the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    source: Annotated[str, StringConstraints(strict=True, max_length=_SOURCE_MAX)] | None = None
    years: Annotated[list[YearArrangement], BeforeValidator(_none_as_empty)] = []
    overrides: Annotated[list[DayOverride], BeforeValidator(_none_as_empty)] = []

    @field_validator("source")
    @classmethod
    def _source_not_blank(cls, source: str | None) -> str | None:
        """A blank source names nothing."""
        if source is not None and not source.strip():
            raise _refuse("calendar_invalid_structure", _SOURCE_RULE_ZH, _SOURCE_RULE_EN)
        return source

    @model_validator(mode="after")
    def _complete(self) -> CalendarDocument:
        """Something to load, a source for whole years, no year or override day twice."""
        if not self.years and not self.overrides:
            raise _refuse(
                "calendar_empty", "既没有 years 也没有 overrides", "has neither years nor overrides"
            )
        if self.source is None and self.years:
            raise _refuse(
                "calendar_missing_source",
                "载入整年安排时必须填写 source（如“国务院办公厅关于2027年部分节假日安排的通知”）",
                "source is required when a file publishes whole years "
                "(name the State Council notice)",
                ("source",),
            )
        seen_years: set[int] = set()
        for index, entry in enumerate(self.years):
            if entry.year in seen_years:
                raise _refuse(
                    "calendar_duplicate_year",
                    f"年份 {entry.year} 在 years 中出现了两次",
                    f"year {entry.year} is listed twice in years",
                    ("years", index, "year"),
                )
            seen_years.add(entry.year)
        seen_days: set[date] = set()
        for index, override in enumerate(self.overrides):
            for day in override.day.days():
                if day in seen_days:
                    raise _refuse(
                        "calendar_duplicate_override",
                        f"{_iso(day)} 在 overrides 中出现了两次",
                        f"{day.isoformat()} appears twice in overrides",
                        ("overrides", index, "date"),
                    )
                seen_days.add(day)
        return self

    def to_calendar_file(self) -> CalendarFile:
        """The day rules of the file; an override wins over the same file's years."""
        source = self.source.strip() if self.source else _LOCAL_OVERRIDE
        override_source = (
            _LOCAL_OVERRIDE if source == _LOCAL_OVERRIDE else f"{_LOCAL_OVERRIDE}: {source}"
        )
        rules: dict[date, DayRule] = {}
        for entry in self.years:
            rules.update((rule.day, rule) for rule in entry.rules(source))
        for override in self.overrides:
            rules.update((rule.day, rule) for rule in override.rules(override_source))
        return CalendarFile(
            source=source,
            complete_years=tuple(sorted(entry.year for entry in self.years)),
            days=tuple(rules[d] for d in sorted(rules)),
        )


# --- turning pydantic's findings into CalendarFileError ------------------------------------------

_ALLOWED_KEYS = {
    "": sorted(CalendarDocument.model_fields),
    "years": sorted(YearArrangement.model_fields),
    "overrides": sorted(f.alias or n for n, f in DayOverride.model_fields.items()),
}


def _path(loc: tuple[str | int, ...]) -> str:
    """A field path as written in messages: years[0].holidays[2]."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def _code(kind: str, loc: tuple[str | int, ...]) -> str:
    """The stable code of one of pydantic's own error kinds at a place in the file."""
    if kind in ("extra_forbidden", "invalid_key"):
        return "calendar_unknown_key"
    if len(loc) == 3 and loc[0] == "years" and loc[2] == "year":
        return "calendar_missing_year" if kind == "missing" else "calendar_invalid_year"
    if len(loc) == 3 and loc[0] == "overrides":
        return "calendar_override_incomplete" if kind == "missing" else "calendar_override_invalid"
    return "calendar_invalid_structure"


def _rule(kind: str, loc: tuple[str | int, ...]) -> tuple[str, str]:
    """What the value at loc should have been, in Chinese and English."""
    field = loc[-1] if loc else ""
    if field == "year":
        return f"应为 {_YEAR_MIN}–{_YEAR_MAX} 的整数", f"must be an integer {_YEAR_MIN}-{_YEAR_MAX}"
    if field == "source":
        return _SOURCE_RULE_ZH, _SOURCE_RULE_EN
    if field == "reason":
        return (
            f"应为不超过 {_REASON_MAX} 字的文字",
            f"must be text of at most {_REASON_MAX} characters",
        )
    if kind == "bool_type":
        return "应为 true 或 false", "must be true or false"
    if kind == "list_type":
        return "应为列表", "must be a list"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return "应为映射", "must be a mapping"
    return "格式不符合要求", "has the wrong type or shape"


def _problem(error: ErrorDetails) -> dict[str, Any]:
    """One pydantic error as a code, a field path and messages in Chinese and English."""
    loc, kind, ctx = tuple(error["loc"]), error["type"], error.get("ctx") or {}
    if kind.startswith("calendar_"):  # raised by our own validators with both messages
        loc += tuple(ctx.get("at", ()))
        return {"code": kind, "path": _path(loc), "message": ctx["zh"], "message_en": ctx["en"]}
    if kind == "missing":
        zh, en = f"缺少 {loc[-1]} 字段", f"'{loc[-1]}' is missing"
    elif kind in ("extra_forbidden", "invalid_key"):
        key = loc[-1]
        allowed = ", ".join(_ALLOWED_KEYS[str(loc[0]) if len(loc) > 1 else ""])
        zh = f"未知字段 {_show(key)}（允许的字段：{allowed}）"
        en = f"unknown key {_show(key)} (allowed: {allowed})"
    else:
        rule_zh, rule_en = _rule(kind, loc)
        zh = f"{rule_zh}，收到 {_show(error['input'])}"
        en = f"{rule_en}, got {_show(error['input'])}"
    return {"code": _code(kind, loc), "path": _path(loc), "message": zh, "message_en": en}


def _file_error(exc: ValidationError, filename: str) -> CalendarFileError:
    """The error to raise for a calendar file pydantic refused: the first problem, all listed."""
    problems = [_problem(error) for error in exc.errors(include_url=False)]
    first, more = problems[0], len(problems) - 1
    where_zh = f"日历文件 {_show(filename)}" + (f" 的 {first['path']}" if first["path"] else "")
    where_en = f"calendar file {_show(filename)}" + (f", {first['path']}" if first["path"] else "")
    return CalendarFileError(
        first["code"],
        f"{where_zh}：{first['message']}" + (f"（另有 {more} 处问题）" if more else ""),
        f"{where_en}: {first['message_en']}" + (f" (and {more} more problems)" if more else ""),
        details={"errors": problems},
    )


class _TextDatesLoader(yaml.SafeLoader):
    """SafeLoader that leaves dates as text: an impossible date (2027-13-01) is then refused with
    its field path by the models instead of crashing inside PyYAML's date constructor."""


_TextDatesLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


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
        return yaml.load(text, Loader=_TextDatesLoader)  # noqa: S506 - a SafeLoader subclass
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


def parse_calendar_file(data: bytes, filename: str) -> CalendarFile:
    """Parse and validate a calendar file (.json, .yaml or .yml) into day rules."""
    doc = _read_document(data, filename)
    try:
        document = CalendarDocument.model_validate({} if doc is None else doc)
    except ValidationError as exc:
        raise _file_error(exc, filename) from None
    return document.to_calendar_file()
