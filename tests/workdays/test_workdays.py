"""Tests for workflows.workdays.days: working-day counting and calendar files."""

import json
from bisect import bisect_left, bisect_right
from datetime import date, datetime, timedelta

import chinese_calendar
import pytest
import yaml

from workflows.kernel.errors import DomainError
from workflows.workdays.days import (
    CalendarDocument,
    CalendarFile,
    CalendarFileError,
    DayRule,
    WorkdayCalendar,
    WorkdayResult,
    parse_calendar_file,
)

D = date
CAL = WorkdayCalendar()

# A MADE-UP but plausible 2027 arrangement (the real notice is not published yet): New Year
# 01-01..01-03 off; Spring Festival 02-05..02-12 off with Sunday 02-14 and Saturday 02-20 worked;
# May Day 05-01..05-05 off with Sunday 04-25 worked; National Day 10-01..10-07 off with
# Saturday 09-25 and Saturday 10-09 worked.
YEAR_2027_YAML = """\
source: 国务院办公厅关于2027年部分节假日安排的通知（测试用虚构数据）
years:
  - year: 2027
    holidays:
      - "2027-01-01..2027-01-03"
      - "2027-02-05..2027-02-12"
      - "2027-05-01..2027-05-05"
      - "2027-10-01..2027-10-07"
    workdays: [2027-02-14, 2027-02-20, 2027-04-25, 2027-09-25, 2027-10-09]
"""
YEAR_2027_JSON = json.dumps(
    {
        "source": "国务院办公厅关于2027年部分节假日安排的通知（测试用虚构数据）",
        "years": [
            {
                "year": 2027,
                "holidays": [
                    "2027-01-01..2027-01-03",
                    "2027-02-05..2027-02-12",
                    "2027-05-01..2027-05-05",
                    "2027-10-01..2027-10-07",
                ],
                "workdays": ["2027-02-14", "2027-02-20", "2027-04-25", "2027-09-25", "2027-10-09"],
            }
        ],
    },
    ensure_ascii=False,
)

OVERRIDE_2026_YAML = """\
source: 区政府办公室关于延长假期的紧急通知（测试用）
overrides:
  - date: 2026-12-01
    workday: false
    reason: 紧急情况延长假期
"""


def calendar_from(*files: CalendarFile) -> WorkdayCalendar:
    """A calendar loaded with the rules and complete years of the given files, in order."""
    days = [rule for f in files for rule in f.days]
    years = [y for f in files for y in f.complete_years]
    return WorkdayCalendar(days, years)


def plain_weekdays_after(start: date, n: int) -> date:
    """The Nth Monday–Friday after start, ignoring every holiday: the provisional fallback."""
    day = start
    while n:
        day += timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


# --- counting with chinesecalendar's data --------------------------------------------------------


def test_issue_example_national_day_2022():
    """2022-09-16 + 15 working days = 2022-10-12, crossing National Day and two adjusted days."""
    result = CAL.add_workdays(D(2022, 9, 16), 15)
    assert result == WorkdayResult(D(2022, 10, 12), False, (), 15)


def test_start_on_last_day_before_national_day_2022():
    """2022-09-30 + 15 working days = 2022-10-26 (10-08 and 10-09 count, 10-01..10-07 don't)."""
    assert CAL.add_workdays(D(2022, 9, 30), 15) == WorkdayResult(D(2022, 10, 26), False, (), 15)


@pytest.mark.parametrize(
    ("start", "n", "due"),
    [
        # Spring Festival 2024: 02-10..02-17 off; Sundays 02-04 and 02-18 worked; 02-09 除夕 worked.
        (D(2024, 2, 2), 1, D(2024, 2, 4)),
        (D(2024, 2, 2), 3, D(2024, 2, 6)),
        (D(2024, 2, 8), 1, D(2024, 2, 9)),
        (D(2024, 2, 8), 2, D(2024, 2, 18)),
        (D(2024, 2, 8), 3, D(2024, 2, 19)),
        # Spring Festival 2025: 01-28..02-04 off; Sunday 01-26 and Saturday 02-08 worked.
        (D(2025, 1, 24), 1, D(2025, 1, 26)),
        (D(2025, 1, 24), 3, D(2025, 2, 5)),
        (D(2025, 2, 6), 2, D(2025, 2, 8)),
        # May Day 2025: 05-01..05-05 off; Sunday 04-27 worked.
        (D(2025, 4, 25), 1, D(2025, 4, 27)),
        (D(2025, 4, 25), 4, D(2025, 4, 30)),
        (D(2025, 4, 25), 5, D(2025, 5, 6)),
        # May Day 2024: 05-01..05-05 off; Sunday 04-28 and Saturday 05-11 worked.
        (D(2024, 4, 26), 1, D(2024, 4, 28)),
        (D(2024, 4, 30), 1, D(2024, 5, 6)),
        (D(2024, 5, 10), 1, D(2024, 5, 11)),
    ],
)
def test_hand_checked_spring_festival_and_may_day(start, n, due):
    """Hand-checked counts around Spring Festival and May Day with adjusted weekends."""
    assert CAL.add_workdays(start, n) == WorkdayResult(due, False, (), n)


def test_hand_checked_days_agree_with_chinese_calendar():
    """The adjusted days and holidays the hand-checked cases rely on are chinesecalendar's own."""
    for worked in (D(2024, 2, 4), D(2024, 2, 9), D(2024, 2, 18), D(2025, 1, 26), D(2025, 2, 8)):
        assert chinese_calendar.is_workday(worked) and CAL.is_workday(worked)
    for worked in (D(2025, 4, 27), D(2024, 4, 28), D(2024, 5, 11), D(2022, 10, 8), D(2022, 10, 9)):
        assert chinese_calendar.is_workday(worked) and CAL.is_workday(worked)
    for off in (D(2024, 2, 10), D(2024, 2, 16), D(2025, 1, 28), D(2025, 2, 4), D(2025, 5, 5)):
        assert chinese_calendar.is_holiday(off) and not CAL.is_workday(off)


def test_is_workday_matches_chinese_calendar_for_every_covered_day():
    """is_workday equals chinese_calendar.is_workday on every day 2004-01-01..2026-12-31."""
    day = D(2004, 1, 1)
    while day.year <= 2026:
        assert CAL.is_workday(day) == chinese_calendar.is_workday(day), day
        day += timedelta(days=1)


def test_is_workday_accepts_datetimes():
    """A datetime is judged by its date (2022-10-08 09:00 is an adjusted working Saturday)."""
    assert CAL.is_workday(datetime(2022, 10, 8, 9, 0))
    assert not CAL.is_workday(datetime(2022, 10, 3, 9, 0))
    assert CAL.add_workdays(datetime(2022, 9, 16, 15, 30), 15).day == D(2022, 10, 12)


# Every working day from 2022 to early 2026 per chinesecalendar itself: the oracle.
ORACLE = chinese_calendar.get_workdays(D(2021, 11, 1), D(2026, 3, 31))
STARTS_2022_2025 = [
    D(2022, 1, 1) + timedelta(days=i) for i in range((D(2026, 1, 1) - D(2022, 1, 1)).days)
]


@pytest.mark.parametrize("n", [1, 3, 15])
def test_add_workdays_oracle_2022_2025(n):
    """add_workdays equals chinese_calendar.get_workdays for every start day of 2022–2025."""
    for start in STARTS_2022_2025:
        expected = ORACLE[bisect_right(ORACLE, start) + n - 1]
        assert CAL.add_workdays(start, n) == WorkdayResult(expected, False, (), n), start


@pytest.mark.parametrize("n", [1, 3, 15])
def test_subtract_workdays_oracle_2022_2025(n):
    """subtract_workdays is the Nth chinesecalendar working day strictly before every end day."""
    for end in STARTS_2022_2025:
        expected = ORACLE[bisect_left(ORACLE, end) - n]
        assert CAL.subtract_workdays(end, n) == WorkdayResult(expected, False, (), n), end


def test_workdays_between_oracle_2022_2025():
    """workdays_between counts chinesecalendar working days in (start, end] for many spans."""
    for start in STARTS_2022_2025[::7]:
        for length in (0, 1, 6, 10, 30):
            end = start + timedelta(days=length)
            expected = bisect_right(ORACLE, end) - bisect_right(ORACLE, start)
            assert CAL.workdays_between(start, end).count == expected, (start, end)


def test_workdays_between_running_totals_agree_with_a_day_by_day_walk():
    """The running-total shortcut (2000-2100) gives the count, provisional flag and missing
    years a plain walk gives, on spans crossing loaded rules, guessed years and the range's
    edges."""
    import random

    rules = [DayRule(D(2030, 5, 4), True, "x"), DayRule(D(2026, 12, 1), False, "y")]
    cal = WorkdayCalendar(rules, [2030])
    rng = random.Random(20261201)
    for _ in range(400):
        start = D(2000, 1, 1) + timedelta(days=rng.randint(-40, 36900))
        end = start + timedelta(days=rng.randint(-3, 3000))
        count, missing, day = 0, set(), start
        while day < end:
            day += timedelta(days=1)
            if not cal.has_data(day.year):
                missing.add(day.year)
            count += cal.is_workday(day)
        got = cal.workdays_between(start, end)
        assert (got.count, got.missing_years, got.provisional) == (
            count,
            tuple(sorted(missing)),
            bool(missing),
        ), (start, end)


# --- reminders and lateness ----------------------------------------------------------------------


def test_subtract_workdays_for_reminder_lands_on_adjusted_sunday():
    """3 working days before due 2022-10-12 is Sunday 2022-10-09 (10-11, 10-10, 10-09 worked)."""
    assert CAL.subtract_workdays(D(2022, 10, 12), 3) == WorkdayResult(D(2022, 10, 9), False, (), 3)
    # One more steps back over National Day to Saturday 10-08, two more to Friday 09-30.
    assert CAL.subtract_workdays(D(2022, 10, 12), 4).day == D(2022, 10, 8)
    assert CAL.subtract_workdays(D(2022, 10, 12), 5).day == D(2022, 9, 30)


def test_subtract_undoes_add_when_the_due_date_is_a_working_day():
    """subtract_workdays(add_workdays(s, n).day, n) comes back to the last working day <= s."""
    for start in (D(2022, 9, 16), D(2024, 2, 8), D(2025, 4, 25)):
        due = CAL.add_workdays(start, 15).day
        assert CAL.subtract_workdays(due, 15).day == start


def test_workdays_between_measures_lateness():
    """An answer due 2022-10-12 given 2022-10-14 is 2 working days late; on time or early is 0."""
    due = D(2022, 10, 12)
    assert CAL.workdays_between(due, D(2022, 10, 14)) == WorkdayResult(
        D(2022, 10, 14), False, (), 2
    )
    assert CAL.workdays_between(due, due).count == 0
    assert CAL.workdays_between(due, D(2022, 10, 1)).count == 0
    # (09-30, 10-12]: 10-08, 10-09, 10-10, 10-11, 10-12; the holiday week counts for nothing.
    assert CAL.workdays_between(D(2022, 9, 30), due).count == 5
    assert CAL.workdays_between(D(2022, 9, 30), D(2022, 10, 7)).count == 0


@pytest.mark.parametrize("n", [0, -1, True, 1.5])
def test_counts_must_be_positive_integers(n):
    """n < 1 (or not an integer) is refused for add and subtract."""
    with pytest.raises(ValueError):
        CAL.add_workdays(D(2022, 9, 16), n)
    with pytest.raises(ValueError):
        CAL.subtract_workdays(D(2022, 9, 16), n)


# --- years without data --------------------------------------------------------------------------


def test_has_data_and_published_years():
    """chinesecalendar covers 2004–2026; 2003 and 2027 have no data until a year is loaded."""
    assert CAL.has_data(2004) and CAL.has_data(2026)
    assert not CAL.has_data(2003) and not CAL.has_data(2027)
    assert CAL.published_years == list(range(2004, 2027))
    loaded = calendar_from(parse_calendar_file(YEAR_2027_YAML.encode(), "2027.yaml"))
    assert loaded.has_data(2027) and not loaded.has_data(2028)
    assert loaded.published_years == list(range(2004, 2028))


def test_count_into_2027_is_provisional_monday_to_friday():
    """2026-12-21 + 15 reaches 2027 without data: plain Mon–Fri, provisional, missing (2027,)."""
    result = CAL.add_workdays(D(2026, 12, 21), 15)
    assert result == WorkdayResult(D(2027, 1, 11), True, (2027,), 15)
    assert result.day == plain_weekdays_after(D(2026, 12, 21), 15)
    # 2027-01-01 is a Friday and counted as a working day: that is exactly what is uncertain.
    assert CAL.is_workday(D(2027, 1, 1))


def test_counts_inside_2027_and_beyond_are_provisional():
    """Every count that touches a year without data says so, in all three operations."""
    for start in (D(2027, 3, 1), D(2027, 9, 24), D(2028, 1, 10)):
        result = CAL.add_workdays(start, 15)
        assert result.provisional and result.day == plain_weekdays_after(start, 15)
    assert CAL.subtract_workdays(D(2027, 1, 5), 3) == WorkdayResult(
        D(2026, 12, 31), True, (2027,), 3
    )
    between = CAL.workdays_between(D(2026, 12, 30), D(2028, 1, 3))
    assert between.provisional and between.missing_years == (2027, 2028)
    # Before chinesecalendar's first year too.
    assert CAL.subtract_workdays(D(2004, 1, 2), 1).missing_years == (2003,)


def test_count_that_only_skips_days_of_an_unknown_year_is_provisional():
    """Skipping a weekend of a year without data is a guess too: the count is provisional."""
    cal = calendar_from(parse_calendar_file(YEAR_2027_YAML.encode(), "2027.yaml"))
    # 1 working day before Monday 2028-01-03 skips Sun 01-02 and Sat 01-01 (2028, no data)
    # and lands on Friday 2027-12-31 (2027 loaded): either 2028 day might be an adjusted workday.
    result = cal.subtract_workdays(D(2028, 1, 3), 1)
    assert result == WorkdayResult(D(2027, 12, 31), True, (2028,), 1)
    # A count that stays inside known years is final, right up to the last day of 2026.
    assert CAL.add_workdays(D(2026, 12, 30), 1) == WorkdayResult(D(2026, 12, 31), False, (), 1)


def test_loaded_2027_year_makes_the_count_final_and_honours_its_days():
    """With a (made-up) 2027 file loaded, 2027 counts are not provisional and use its days."""
    cal = calendar_from(parse_calendar_file(YEAR_2027_YAML.encode(), "2027.yaml"))
    # Same count as the provisional test: New Year 01-01 is now off, so one day later.
    assert cal.add_workdays(D(2026, 12, 21), 15) == WorkdayResult(D(2027, 1, 12), False, (), 15)
    # Spring Festival: 02-05..02-12 off, Sunday 02-14 worked, Saturday 02-13 not.
    assert cal.add_workdays(D(2027, 2, 4), 1).day == D(2027, 2, 14)
    assert cal.add_workdays(D(2027, 2, 4), 2).day == D(2027, 2, 15)
    assert cal.add_workdays(D(2027, 2, 19), 1).day == D(2027, 2, 20)
    assert not cal.is_workday(D(2027, 2, 13))
    # National Day: 09-30 + 2 -> Saturday 10-09 (10-01..10-07 off, Friday 10-08 worked).
    assert cal.add_workdays(D(2027, 9, 30), 2) == WorkdayResult(D(2027, 10, 9), False, (), 2)
    # May Day: (Fri 04-23, Thu 05-06] = Sun 04-25, 04-26..04-30, 05-06; 05-01..05-05 off.
    assert cal.workdays_between(D(2027, 4, 23), D(2027, 5, 6)) == WorkdayResult(
        D(2027, 5, 6), False, (), 7
    )
    # 2028 is still unknown.
    assert cal.add_workdays(D(2027, 12, 24), 10).missing_years == (2028,)


def test_local_override_shifts_a_2026_deadline_by_one_day():
    """Override 2026-12-01 off: 2026-11-23 + 15 moves from 12-14 to 12-15, nothing provisional."""
    override = parse_calendar_file(OVERRIDE_2026_YAML.encode(), "emergency.yml")
    assert override.complete_years == ()
    assert override.days == (
        DayRule(
            D(2026, 12, 1),
            False,
            "local override: 区政府办公室关于延长假期的紧急通知（测试用）",
            "紧急情况延长假期",
        ),
    )
    assert CAL.add_workdays(D(2026, 11, 23), 15) == WorkdayResult(D(2026, 12, 14), False, (), 15)
    cal = calendar_from(override)
    assert cal.add_workdays(D(2026, 11, 23), 15) == WorkdayResult(D(2026, 12, 15), False, (), 15)
    assert cal.published_years == CAL.published_years


def test_override_in_a_year_without_data_does_not_make_it_final():
    """An override alone never makes a year complete: counts there stay provisional."""
    text = "overrides:\n  - {date: 2027-03-01, workday: false}\n"
    cal = calendar_from(parse_calendar_file(text.encode(), "o.yaml"))
    result = cal.add_workdays(D(2027, 2, 26), 1)
    assert result == WorkdayResult(D(2027, 3, 2), True, (2027,), 1)


def test_loaded_rules_beat_chinese_calendar_and_later_rules_win():
    """A loaded rule overrides chinesecalendar; for the same day the later loaded rule wins."""
    off = DayRule(D(2022, 10, 8), False, "local override")
    on = DayRule(D(2022, 10, 8), True, "local override", "撤销")
    assert not WorkdayCalendar([off]).is_workday(D(2022, 10, 8))
    assert WorkdayCalendar([off, on]).is_workday(D(2022, 10, 8))
    assert not WorkdayCalendar([on, off]).is_workday(D(2022, 10, 8))
    # A loaded rule can also put people to work on a chinesecalendar holiday.
    assert WorkdayCalendar([DayRule(D(2022, 10, 3), True, "x")]).is_workday(D(2022, 10, 3))


# --- calendar files ------------------------------------------------------------------------------


def test_yaml_and_json_give_the_same_calendar_file():
    """The YAML and JSON spellings of the same 2027 file parse to equal CalendarFiles."""
    from_yaml = parse_calendar_file(YEAR_2027_YAML.encode(), "2027.yaml")
    from_json = parse_calendar_file(YEAR_2027_JSON.encode(), "2027.JSON")
    assert from_yaml == from_json
    assert from_yaml.source == "国务院办公厅关于2027年部分节假日安排的通知（测试用虚构数据）"
    assert from_yaml.complete_years == (2027,)
    off = [r.day for r in from_yaml.days if not r.workday]
    on = [r.day for r in from_yaml.days if r.workday]
    assert len(off) == 3 + 8 + 5 + 7
    assert on == [D(2027, 2, 14), D(2027, 2, 20), D(2027, 4, 25), D(2027, 9, 25), D(2027, 10, 9)]
    assert [r.day for r in from_yaml.days] == sorted(r.day for r in from_yaml.days)
    assert {r.source for r in from_yaml.days} == {from_yaml.source}


def test_file_overrides_win_over_the_same_files_years():
    """An override for a day also listed under years replaces that day's rule; BOM is fine."""
    data = {
        "source": "test",
        "years": [{"year": 2027, "holidays": ["2027-01-01"], "workdays": []}],
        "overrides": [{"date": "2027-01-01", "workday": True, "reason": "值班"}],
    }
    parsed = parse_calendar_file(b"\xef\xbb\xbf" + json.dumps(data).encode(), "f.json")
    assert parsed.days == (DayRule(D(2027, 1, 1), True, "local override: test", "值班"),)
    assert parsed.complete_years == (2027,)


def test_override_range_and_source_default():
    """An override may name a range; an overrides-only file defaults to source 'local override'."""
    text = 'overrides:\n  - date: "2026-12-01..2026-12-03"\n    workday: false\n'
    parsed = parse_calendar_file(text.encode(), "o.yml")
    assert parsed.source == "local override"
    assert [r.day for r in parsed.days] == [D(2026, 12, 1), D(2026, 12, 2), D(2026, 12, 3)]
    assert all(r.source == "local override" and r.reason is None for r in parsed.days)


def year_file(**year: object) -> str:
    """A YAML file with one years entry built from the keyword arguments."""
    return yaml.safe_dump({"source": "s", "years": [year]}, allow_unicode=True)


GOOD_YEAR = {"year": 2027, "holidays": ["2027-01-01"]}


@pytest.mark.parametrize(
    ("filename", "text", "code", "named"),
    [
        ("a.yaml", "years: [unclosed", "calendar_unreadable", "a.yaml"),
        ("a.json", '{"years": [', "calendar_unreadable", "a.json"),
        ("a.txt", YEAR_2027_YAML, "calendar_unsupported_suffix", "a.txt"),
        ("a.yaml", "- 1\n- 2\n", "calendar_invalid_structure", "[1, 2]"),
        ("a.yaml", "years: 2027\n", "calendar_invalid_structure", "2027"),
        ("a.yaml", "", "calendar_empty", "a.yaml"),
        ("a.yaml", "source: s\nyear: 2027\n", "calendar_unknown_key", "year"),
        ("a.yaml", year_file(year=2027, holiday=["2027-01-01"]), "calendar_unknown_key", "holiday"),
        (
            "a.yaml",
            "years:\n  - {year: 2027, holidays: [2027-01-01]}\n",
            "calendar_missing_source",
            "source",
        ),
        ("a.yaml", year_file(holidays=["2027-01-01"]), "calendar_missing_year", "year"),
        (
            "a.yaml",
            year_file(year="2027", holidays=["2027-01-01"]),
            "calendar_invalid_year",
            '"2027"',
        ),
        ("a.yaml", year_file(year=27, holidays=["2027-01-01"]), "calendar_invalid_year", "27"),
        (
            "a.yaml",
            yaml.safe_dump({"source": "s", "years": [GOOD_YEAR, GOOD_YEAR]}),
            "calendar_duplicate_year",
            "2027",
        ),
        (
            "a.yaml",
            year_file(year=2027, holidays=["2027-02-30"]),
            "calendar_invalid_date",
            "2027-02-30",
        ),
        (
            "a.yaml",
            year_file(year=2027, holidays=["2027/01/01"]),
            "calendar_invalid_date",
            "2027/01/01",
        ),
        (
            "a.yaml",
            year_file(year=2027, holidays=["2027-01-01", "2026-12-31"]),
            "calendar_date_outside_year",
            "2026-12-31",
        ),
        (
            "a.yaml",
            year_file(year=2027, holidays=["2027-12-30..2028-01-01"]),
            "calendar_date_outside_year",
            "2027-12-30..2028-01-01",
        ),
        (
            "a.yaml",
            year_file(year=2027, holidays=["2027-02-12..2027-02-06"]),
            "calendar_range_reversed",
            "2027-02-12..2027-02-06",
        ),
        (
            "a.yaml",
            year_file(year=2027, holidays=["2027-02-06..2027-02-14"], workdays=["2027-02-14"]),
            "calendar_holiday_and_workday",
            "2027-02-14",
        ),
        (
            "a.yaml",
            year_file(year=2027, holidays=["2027-01-01"], workdays=["2027-02-15"]),
            "calendar_workday_not_weekend",
            "2027-02-15",
        ),
        (
            "a.yaml",
            year_file(year=2027, workdays=["2027-02-14"]),
            "calendar_year_without_holidays",
            "2027",
        ),
        ("a.yaml", "overrides:\n  - {workday: false}\n", "calendar_override_incomplete", "date"),
        (
            "a.yaml",
            "overrides:\n  - {date: 2026-12-01}\n",
            "calendar_override_incomplete",
            "workday",
        ),
        (
            "a.yaml",
            'overrides:\n  - {date: 2026-12-01, workday: "false"}\n',
            "calendar_override_invalid",
            '"false"',
        ),
        (
            "a.yaml",
            "overrides:\n  - {date: 2026-12-01, workday: false, reason: 3}\n",
            "calendar_override_invalid",
            "3",
        ),
        (
            "a.yaml",
            "overrides:\n  - {date: 2026-12-01, workday: false, reason: %s}\n" % ("长" * 301),
            "calendar_override_invalid",
            "长" * 301,
        ),
        (
            "a.yaml",
            "source: %s\noverrides: []\n" % ("源" * 201),
            "calendar_invalid_structure",
            "源",
        ),
        ("a.yaml", "source: ' '\noverrides: []\n", "calendar_invalid_structure", "source"),
        (
            "a.yaml",
            "overrides:\n  - {date: 2026-12-01, workday: false, note: x}\n",
            "calendar_unknown_key",
            "note",
        ),
        (
            "a.yaml",
            'overrides:\n  - {date: "2026-11-30..2026-12-02", workday: false}\n'
            "  - {date: 2026-12-01, workday: true}\n",
            "calendar_duplicate_override",
            "2026-12-01",
        ),
    ],
)
def test_calendar_file_errors(filename, text, code, named):
    """Each invalid file raises CalendarFileError with its stable code, naming the bad value."""
    with pytest.raises(CalendarFileError) as caught:
        parse_calendar_file(text.encode(), filename)
    error = caught.value
    assert error.code == code
    assert named in error.message_zh and named in error.message_en
    assert error.message_zh != error.message_en


def test_not_utf8_is_unreadable():
    """Bytes that are not UTF-8 (a GBK-encoded file) are calendar_unreadable."""
    with pytest.raises(CalendarFileError) as caught:
        parse_calendar_file(OVERRIDE_2026_YAML.encode("gbk"), "gbk.yaml")
    assert caught.value.code == "calendar_unreadable"


# --- the file format as pydantic models ----------------------------------------------------------


def refusal(text: str, filename: str = "a.yaml") -> CalendarFileError:
    """The CalendarFileError a file raises."""
    with pytest.raises(CalendarFileError) as caught:
        parse_calendar_file(text.encode(), filename)
    return caught.value


def test_calendar_file_error_is_a_422_domain_error():
    """A bad calendar file is a DomainError with status 422 (and still a ValueError)."""
    error = refusal("source: s\nyear: 2027\n")
    assert isinstance(error, DomainError) and isinstance(error, ValueError)
    assert error.status == 422
    assert error.as_dict()["code"] == "calendar_unknown_key"


@pytest.mark.parametrize(
    ("text", "path", "key"),
    [
        ("source: s\nyear: 2027\n", "year", "year"),
        (year_file(year=2027, holidays=["2027-01-01"], holidy=[]), "years[0].holidy", "holidy"),
        (
            "overrides:\n  - {date: 2026-12-01, workday: false, note: x}\n",
            "overrides[0].note",
            "note",
        ),
    ],
)
def test_unknown_keys_are_refused_with_their_path_and_the_allowed_keys(text, path, key):
    """A typo'd key at any level is calendar_unknown_key, naming where it is and what is allowed."""
    error = refusal(text)
    assert error.code == "calendar_unknown_key"
    assert path in error.message_zh and path in error.message_en
    assert error.details["errors"][0]["path"] == path
    assert "允许的字段" in error.message_zh and "allowed" in error.message_en


@pytest.mark.parametrize(
    ("holidays", "code", "path"),
    [
        (
            ["2027-01-01", "2027-02-12..2027-02-06"],
            "calendar_range_reversed",
            "years[0].holidays[1]",
        ),
        (["2027-02-06..2027-02-31"], "calendar_invalid_date", "years[0].holidays[0]"),
        (["2027-02-06...2027-02-12"], "calendar_invalid_date", "years[0].holidays[0]"),
        (["2027-02-06..", "2027-01-01"], "calendar_invalid_date", "years[0].holidays[0]"),
        (
            ["2027-01-01", "2027-01-02", "2027-12-31..2028-01-02"],
            "calendar_date_outside_year",
            "years[0].holidays[2]",
        ),
    ],
)
def test_bad_ranges_are_named_by_their_path(holidays, code, path):
    """A reversed, malformed or year-crossing range is refused and its list position named."""
    error = refusal(year_file(year=2027, holidays=holidays))
    assert error.code == code
    assert f"{path}：" in error.message_zh and f"{path}:" in error.message_en


def test_a_good_range_covers_every_day_inclusive():
    """'2027-02-06..2027-02-12' is seven holidays."""
    parsed = parse_calendar_file(
        year_file(year=2027, holidays=["2027-02-06..2027-02-12"]).encode(), "y.yaml"
    )
    assert [r.day for r in parsed.days] == [D(2027, 2, 6) + timedelta(days=i) for i in range(7)]


def test_duplicate_years_name_the_second_entry():
    """The second entry for the same year is refused; the path points at it."""
    second = {"year": 2027, "holidays": ["2027-05-01"]}
    text = yaml.safe_dump(
        {"source": "s", "years": [GOOD_YEAR, {"year": 2028, "holidays": ["2028-01-01"]}, second]}
    )
    error = refusal(text)
    assert error.code == "calendar_duplicate_year"
    assert error.details["errors"][0]["path"] == "years[2].year"
    assert "2027" in error.message_zh and "2027" in error.message_en


def test_every_problem_is_listed_and_the_first_one_sets_the_code():
    """Several problems in one file: the code is the first one's, details list them all."""
    text = (
        "source: s\nyears:\n"
        "  - {year: 2027, holidays: ['2027-02-12..2027-02-06', 2027-13-01],\n"
        "     holiday: [2027-01-01]}\n"
    )
    error = refusal(text)
    assert error.code == "calendar_range_reversed"
    problems = {(p["path"], p["code"]) for p in error.details["errors"]}
    assert problems == {
        ("years[0].holidays[0]", "calendar_range_reversed"),
        ("years[0].holidays[1]", "calendar_invalid_date"),
        ("years[0].holiday", "calendar_unknown_key"),
    }
    assert "另有 2 处问题" in error.message_zh and "2 more problems" in error.message_en


def test_an_impossible_unquoted_yaml_date_is_refused_not_a_crash():
    """YAML `2027-13-01` (unquoted) is calendar_invalid_date, not PyYAML's ValueError."""
    error = refusal("overrides:\n  - {date: 2027-13-01, workday: true}\n")
    assert error.code == "calendar_invalid_date"
    assert "overrides[0].date" in error.message_zh


def test_a_yaml_datetime_is_not_a_date():
    """A date with a time of day is refused: the arrangement is by whole days."""
    error = refusal("overrides:\n  - {date: 2026-12-01 08:00:00, workday: true}\n")
    assert error.code == "calendar_invalid_date"


def test_null_lists_are_empty_and_null_override_fields_are_missing():
    """`workdays:` left empty is no workdays; `workday: ~` is a missing field."""
    parsed = parse_calendar_file(
        b"source: s\nyears:\n  - {year: 2027, holidays: [2027-01-01], workdays:}\n", "n.yaml"
    )
    assert parsed.days == (DayRule(D(2027, 1, 1), False, "s", "节假日放假 / holiday"),)
    assert (
        refusal("overrides:\n  - {date: 2026-12-01, workday: ~}\n").code
        == "calendar_override_incomplete"
    )


def test_the_format_has_a_json_schema_that_forbids_unknown_keys():
    """CalendarDocument documents the format (for an API or an editor), unknown keys forbidden."""
    schema = CalendarDocument.model_json_schema(by_alias=True)
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == {"source", "years", "overrides"}
    override = schema["$defs"]["DayOverride"]
    assert set(override["properties"]) == {"date", "workday", "reason"}
    assert override["additionalProperties"] is False
