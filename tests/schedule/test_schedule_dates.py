"""Tests for workflows.schedule.dates.parse_when."""

from dataclasses import FrozenInstanceError
from datetime import date, time

import pytest

from workflows.kernel.errors import DomainError
from workflows.schedule.dates import DateIssue, DatePhraseError, ParsedWhen, parse_when

D = date


@pytest.mark.parametrize(
    "text",
    [
        "9月16日",
        "９月１６日",
        " 9 月 16 日 ",
        "9月16号",
        "9.16",
        "2022年9月16日",
        "2022-09-16",
        "2022/9/16",
        "2022.9.16",
    ],
)
def test_single_day_spellings(text):
    """Every common way of writing one day resolves to that day with precision 'day'."""
    when = parse_when(text, 2022)
    assert (when.earliest, when.latest, when.precision) == (D(2022, 9, 16), D(2022, 9, 16), "day")
    assert when.warnings == () and not when.tentative
    assert when.start_time is None and when.end_time is None


def test_default_year_only_fills_a_missing_year():
    """default_year applies to '9月16日' but an explicit year wins."""
    assert parse_when("9月16日", 2025).earliest == D(2025, 9, 16)
    assert parse_when("2023年9月16日", 2025).earliest == D(2023, 9, 16)


@pytest.mark.parametrize(
    ("text", "year", "first", "last"),
    [
        ("9月上旬", 2022, D(2022, 9, 1), D(2022, 9, 10)),
        ("9月中旬", 2022, D(2022, 9, 11), D(2022, 9, 20)),
        ("9月下旬", 2022, D(2022, 9, 21), D(2022, 9, 30)),
        ("10月下旬", 2022, D(2022, 10, 21), D(2022, 10, 31)),
        ("2月下旬", 2022, D(2022, 2, 21), D(2022, 2, 28)),
        ("2月下旬", 2024, D(2024, 2, 21), D(2024, 2, 29)),
        ("2100年2月下旬", 2022, D(2100, 2, 21), D(2100, 2, 28)),
        ("2000年2月下旬", 2022, D(2000, 2, 21), D(2000, 2, 29)),
        ("9月中下旬", 2022, D(2022, 9, 11), D(2022, 9, 30)),
    ],
)
def test_dekads(text, year, first, last):
    """上旬/中旬/下旬 cover days 1-10, 11-20 and 21-month end, with leap years right."""
    when = parse_when(text, year)
    assert (when.earliest, when.latest, when.precision) == (first, last, "dekad")


@pytest.mark.parametrize(
    ("text", "last"),
    [
        ("9月15日-16日", D(2022, 9, 16)),
        ("9月15日—16日", D(2022, 9, 16)),
        ("9月15日——16日", D(2022, 9, 16)),
        ("9月15日－16日", D(2022, 9, 16)),
        ("9月15-16日", D(2022, 9, 16)),
        ("9月15日至17日", D(2022, 9, 17)),
        ("9月15日到17日", D(2022, 9, 17)),
        ("9月15日~9月17日", D(2022, 9, 17)),
        ("9月15日～9月17日", D(2022, 9, 17)),
        ("9.15-9.17", D(2022, 9, 17)),
        ("2022-09-15至2022-09-17", D(2022, 9, 17)),
    ],
)
def test_day_ranges(text, last):
    """Day ranges with -, —, －, ~, ～, 至 or 到 and an omitted month on the end."""
    when = parse_when(text, 2022)
    assert (when.earliest, when.latest, when.precision) == (D(2022, 9, 15), last, "days")


def test_range_across_months():
    """'9月30日至10月2日' runs from 30 Sep to 2 Oct."""
    when = parse_when("9月30日至10月2日", 2022)
    assert (when.earliest, when.latest, when.precision) == (D(2022, 9, 30), D(2022, 10, 2), "days")


def test_range_across_new_year_rolls_the_end_year_with_a_warning():
    """'12月30日至1月2日' ends in the next year and says so in a warning."""
    when = parse_when("12月30日至1月2日", 2022)
    assert (when.earliest, when.latest) == (D(2022, 12, 30), D(2023, 1, 2))
    assert [w.code for w in when.warnings] == ["year_rollover"]
    explicit = parse_when("12月28日至2023年1月3日", 2022)
    assert (explicit.earliest, explicit.latest, explicit.warnings) == (
        D(2022, 12, 28),
        D(2023, 1, 3),
        (),
    )


def test_leap_day_range():
    """A range ending on 29 February is valid in a leap year only."""
    assert parse_when("2024年2月28日至3月1日", 2022).latest == D(2024, 3, 1)
    with pytest.raises(DatePhraseError) as err:
        parse_when("2023年2月28日-29日", 2022)
    assert err.value.code == "date_invalid"


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("2026年3月", D(2026, 3, 1), D(2026, 3, 31)),
        ("3月", D(2022, 3, 1), D(2022, 3, 31)),
        ("2024年2月", D(2024, 2, 1), D(2024, 2, 29)),
        ("2023年2月", D(2023, 2, 1), D(2023, 2, 28)),
    ],
)
def test_bare_month(text, first, last):
    """A month on its own covers the whole month."""
    when = parse_when(text, 2022)
    assert (when.earliest, when.latest, when.precision) == (first, last, "month")


@pytest.mark.parametrize(
    "text", ["2026年3-6月", "2026年3月至6月", "2026年3月-2026年6月", "2026年3～6月"]
)
def test_month_range(text):
    """A month range runs from the first day of the first month to the last of the last."""
    when = parse_when(text, 2022)
    assert (when.earliest, when.latest, when.precision) == (
        D(2026, 3, 1),
        D(2026, 6, 30),
        "months",
    )


@pytest.mark.parametrize(
    "text", ["9月16日(暂定)", "9月16日（暂定）", "9月16日 暂定", "暂定9月16日"]
)
def test_tentative(text):
    """'暂定' with or without either kind of bracket marks the date tentative."""
    when = parse_when(text, 2022)
    assert when.tentative and when.earliest == D(2022, 9, 16) and when.warnings == ()


def test_tentative_dekad():
    """A tentative dekad keeps both the dekad window and the flag."""
    when = parse_when("9月中旬（暂定）", 2022)
    assert (when.earliest, when.latest, when.precision, when.tentative) == (
        D(2022, 9, 11),
        D(2022, 9, 20),
        "dekad",
        True,
    )


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("9月16日上午10:00", time(10, 0), None),
        ("9月16日 上午１０：００", time(10, 0), None),
        ("9月16日上午10.00", time(10, 0), None),
        ("9月16日下午3:00", time(15, 0), None),
        ("9月16日下午3点", time(15, 0), None),
        ("9月16日下午3点半", time(15, 30), None),
        ("9月16日14时30分", time(14, 30), None),
        ("9月16日14:20—18:00", time(14, 20), time(18, 0)),
        ("9月16日 14:20-18:00", time(14, 20), time(18, 0)),
        ("9月16日下午2:00-5:00", time(14, 0), time(17, 0)),
        ("9月16日上午9:00至下午5:00", time(9, 0), time(17, 0)),
        ("2022-09-16 14:00", time(14, 0), None),
        ("9月16日上午", None, None),
        ("上午9点9月16日", time(9, 0), None),
        ("9月16日9点30", time(9, 30), None),
    ],
)
def test_times_of_day(text, start, end):
    """Clock times (上午/下午, 点, 时分, ranges) are read and do not disturb the date."""
    when = parse_when(text, 2022)
    assert (when.earliest, when.latest) == (D(2022, 9, 16), D(2022, 9, 16))
    assert (when.start_time, when.end_time) == (start, end)


def test_time_range_reversed_is_a_warning():
    """An end time before the start time is flagged but the date still parses."""
    when = parse_when("9月16日18:00-14:00", 2022)
    assert [w.code for w in when.warnings] == ["time_range_reversed"]


@pytest.mark.parametrize(
    "text",
    [
        "9月16日(星期五)",
        "9月16日（星期五）",
        "9月16日(周五)",
        "9月16日（礼拜五）",
        "9月16日 周五",
        "9月18日（星期日）",
        "9月18日(周日)",
        "9月18日(星期天)",
        "9月14日(礼拜三)",
    ],
)
def test_matching_weekday_notes_are_silent(text):
    """A weekday note that agrees with the date produces no warning."""
    assert parse_when(text, 2022).warnings == ()


def test_weekday_mismatch_is_a_warning_not_an_error():
    """'9月16日(星期二)' parses, with a weekday_mismatch warning naming both weekdays."""
    when = parse_when("9月16日(星期二)", 2022)
    assert when.earliest == D(2022, 9, 16)
    (issue,) = when.warnings
    assert isinstance(issue, DateIssue) and issue.code == "weekday_mismatch"
    assert "9月16日(星期二)" in issue.message_zh and "星期五" in issue.message_zh
    assert "Friday" in issue.message_en and "Tuesday" in issue.message_en


def test_weekday_notes_on_both_ends_of_a_range():
    """Each end of a range is checked against its own weekday note."""
    good = parse_when("9月15日(周四)至17日(周六)", 2022)
    assert good.warnings == ()
    bad = parse_when("9月15日(周四)至17日(周五)", 2022)
    assert [w.code for w in bad.warnings] == ["weekday_mismatch"]
    assert "2022-09-17" in bad.warnings[0].message_en


def test_other_parenthesised_remarks_are_ignored_with_a_warning():
    """A remark like '(视天气情况)' is dropped and reported as note_ignored."""
    when = parse_when("9月16日（视天气情况）", 2022)
    assert when.earliest == D(2022, 9, 16)
    assert [w.code for w in when.warnings] == ["note_ignored"]
    assert "视天气情况" in when.warnings[0].message_zh


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "date_empty"),
        ("   ", "date_empty"),
        ("\u3000", "date_empty"),
        ("2月30日", "date_invalid"),
        ("9月32日", "date_invalid"),
        ("2023年2月29日", "date_invalid"),
        ("13月1日", "date_invalid"),
        ("9月0日", "date_invalid"),
        ("9月16日25:00", "time_invalid"),
        ("9月17日至9月15日", "date_range_reversed"),
        ("9月17日-15日", "date_range_reversed"),
        ("10月5日至9月1日", "date_range_reversed"),
        ("2026年6-3月", "date_range_reversed"),
        ("待定", "date_unparseable"),
        ("另行通知", "date_unparseable"),
        ("上午10:00", "date_unparseable"),
        ("16日", "date_unparseable"),
        ("3-6", "date_unparseable"),
        ("9月1日、3日", "date_unparseable"),
        ("9月1日至3日至5日", "date_unparseable"),
        ("hello", "date_unparseable"),
    ],
)
def test_errors_have_stable_codes(text, code):
    """Empty, impossible, reversed and unrecognisable phrases raise DatePhraseError by code."""
    with pytest.raises(DatePhraseError) as err:
        parse_when(text, 2022)
    assert err.value.code == code


def test_error_messages_are_bilingual_and_name_the_text():
    """Error messages name the offending text in both Chinese and English."""
    with pytest.raises(DatePhraseError) as err:
        parse_when("9月32日", 2022)
    assert "“9月32日”" in err.value.message_zh
    assert '"9月32日"' in err.value.message_en
    assert str(err.value) == f"{err.value.message_zh} / {err.value.message_en}"
    with pytest.raises(DatePhraseError) as err:
        parse_when("待定", 2022)
    assert err.value.message_zh.startswith("无法识别的日期“待定”")
    assert err.value.message_en.startswith('unrecognised date "待定"')


def test_date_phrase_error_is_a_value_error():
    """Callers catching ValueError also catch DatePhraseError."""
    assert issubclass(DatePhraseError, ValueError)


def test_date_phrase_error_is_a_422_domain_error():
    """DatePhraseError is one of the service's bilingual DomainErrors, status 422."""
    with pytest.raises(DomainError) as err:
        parse_when("9月32日", 2022)
    assert isinstance(err.value, DatePhraseError)
    assert err.value.status == 422 and err.value.code == "date_invalid"


def test_parsed_when_is_frozen():
    """ParsedWhen is immutable."""
    when = parse_when("9月16日", 2022)
    assert isinstance(when, ParsedWhen)
    with pytest.raises(FrozenInstanceError):
        when.earliest = D(2022, 1, 1)  # type: ignore[misc]


def test_dates_in_chinese_numerals_parse() -> None:
    """九月十六日, 二〇二二年九月中旬, 下午三点: Chinese numerals read like Arabic ones; weekday
    names are left alone; an impossible day is still refused."""
    day = parse_when("九月十六日（星期五）", 2022)
    assert (day.earliest, day.latest) == (date(2022, 9, 16), date(2022, 9, 16))
    dekad = parse_when("二〇二二年九月中旬", 2020)
    assert (dekad.earliest, dekad.latest) == (date(2022, 9, 11), date(2022, 9, 20))
    afternoon = parse_when("九月二十日下午三点", 2022)
    assert afternoon.earliest == date(2022, 9, 20) and str(afternoon.start_time) == "15:00:00"
    assert parse_when("十月一日", 2022).earliest == date(2022, 10, 1)
    with pytest.raises(DatePhraseError):
        parse_when("九月三十一日", 2022)


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("9月16日、17日", D(2022, 9, 16), D(2022, 9, 17)),
        ("9月16、17日", D(2022, 9, 16), D(2022, 9, 17)),
        ("9月16日,17日", D(2022, 9, 16), D(2022, 9, 17)),
        ("9月16日（星期五）、17日（星期六）", D(2022, 9, 16), D(2022, 9, 17)),
        ("9月30日、10月1日", D(2022, 9, 30), D(2022, 10, 1)),
        ("9月15日、16日、17日", D(2022, 9, 15), D(2022, 9, 17)),
        ("9月16日、17日上午9:00", D(2022, 9, 16), D(2022, 9, 17)),
    ],
)
def test_listed_days_are_one_event_over_several_days(text, first, last):
    """'9月16日、17日' names the days of one event held over both: precision 'multiday'."""
    when = parse_when(text, 2022)
    assert (when.earliest, when.latest, when.precision) == (first, last, "multiday")
    assert not when.tentative and when.warnings == ()


def test_listed_days_must_be_days_in_order():
    for text in ("9月上旬、中旬", "9月17日、16日", "9月16日、17日、17日", "9月16日、18日"):
        with pytest.raises(DatePhraseError):
            parse_when(text, 2022)


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("9月初", D(2022, 9, 1), D(2022, 9, 10)),
        ("9月底", D(2022, 9, 21), D(2022, 9, 30)),
        ("9月末", D(2022, 9, 21), D(2022, 9, 30)),
        ("2月底", D(2022, 2, 21), D(2022, 2, 28)),
        ("2023年1月初", D(2023, 1, 1), D(2023, 1, 10)),
    ],
)
def test_start_and_end_of_a_month_are_tentative_dekads(text, first, last):
    """初 is 上旬 and 底/末 下旬, marked 暂定: the office named no day."""
    when = parse_when(text, 2022)
    assert (when.earliest, when.latest, when.precision) == (first, last, "dekad")
    assert when.tentative is True


@pytest.mark.parametrize("year", [2022, 2025])
def test_a_slashed_day_without_a_year_takes_the_default_year(year):
    when = parse_when("9/16", year)
    assert (when.earliest, when.latest, when.precision) == (D(year, 9, 16), D(year, 9, 16), "day")
    assert parse_when("9/15-9/17", year).latest == D(year, 9, 17)


@pytest.mark.parametrize("text", ["第三季度", "三季度", "2022年第3季度", "Q3"])
def test_a_quarter_is_refused_with_its_own_message(text):
    with pytest.raises(DatePhraseError) as caught:
        parse_when(text, 2022)
    assert caught.value.code == "date_quarter"
    assert "季度" in caught.value.message_zh and "旬" in caught.value.message_zh
    assert "quarter" in caught.value.message_en
