"""Reading a notice into campaign rules (issue 30): the founding notice and eight other districts'
and years' wordings come out as the table says, each rule with the sentence it came from; a text
that is no notice, a reversed window and a share above one are refused with stable codes."""

from __future__ import annotations

import time
from datetime import date
from fractions import Fraction
from pathlib import Path

import pytest

from tests.campaign import notice_variants as v
from workflows.campaign import notice_words as words
from workflows.campaign.notice_import import (
    SENTENCE_MAX_CHARS,
    check_draft,
    form_of,
    parse_notice,
)
from workflows.kernel.errors import InvalidData

# The shared reference notice, as the repository keeps it.
FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "yanjiang-2022-open-day-notice.txt"


def _reference() -> str:
    return FIXTURE.read_text(encoding="utf-8")


# name, text, doc number, office, window, (invitees min, max), share, answer workdays,
# summary days, summary recipient, forms found, keys missing.
VARIANTS = [
    (
        "yanjiang-2022",
        _reference(),
        "资雁府办发〔2022〕58号",
        "资阳市雁江区人民政府办公室",
        (date(2022, 8, 22), date(2022, 9, 22)),
        (10, 20),
        Fraction(1, 3),
        15,
        3,
        "区政府办1329室",
        4,
        [],
    ),
    (
        "anyue-2023: 不少于二十人, 二分之一, 十个工作日, cross-month window",
        v.ANYUE_2023,
        "安府办发〔2023〕12号",
        "安岳县人民政府办公室",
        (date(2023, 10, 8), date(2023, 11, 30)),
        (20, 40),
        Fraction(1, 2),
        10,
        5,
        "县政府办公室政务公开股",
        2,
        ["schedule"],
    ),
    (
        "lezhi-2023: 9月至11月, 15至20人, 至少1/3, 一周内",
        v.LEZHI_2023,
        "乐府办函〔2023〕7号",
        "乐至县人民政府办公室",
        (date(2023, 9, 1), date(2023, 11, 30)),
        (15, 20),
        Fraction(1, 3),
        5,
        7,
        "县政务服务管理局",
        0,
        ["forms", "schedule"],
    ),
    (
        "chenghua-2024: Chinese numerals throughout, 40%, 15日 (calendar), 三天内",
        v.CHENGHUA_2024,
        "成华府办〔2024〕3号",
        "成都市成华区人民政府办公室",
        (date(2024, 9, 1), date(2024, 10, 31)),
        (10, 20),
        Fraction(2, 5),
        11,
        3,
        "区政府办公室",
        3,
        ["schedule"],
    ),
    (
        "yanjiang-2023-winter: [2023] brackets, window across the new year, 两个工作日",
        v.YANJIANG_2023_WINTER,
        "资雁府办发[2023]71号",
        "资阳市雁江区人民政府办公室",
        (date(2023, 12, 1), date(2024, 1, 15)),
        (10, 20),
        Fraction(1, 3),
        20,
        2,
        "区政府办1329室",
        0,
        ["issued_on", "forms"],
    ),
    (
        "chengdu-2021: （2021） brackets, 9月中旬至10月底, 约30人, 三分之二, 7日内",
        v.CHENGDU_2021,
        "成府办函（2021）33号",
        "成都市人民政府办公厅",
        (date(2021, 9, 11), date(2021, 10, 31)),
        (20, 40),
        Fraction(2, 3),
        10,
        7,
        "市政府办公厅政务公开处",
        0,
        ["forms", "schedule"],
    ),
    (
        "jianyang-2024: 11月至次年1月, 不超过25人, 百分之五十, 十五个工作日",
        v.JIANYANG_2024,
        "简府办发〔2024〕45号",
        "简阳市人民政府办公室",
        (date(2024, 11, 1), date(2025, 1, 31)),
        (1, 25),
        Fraction(1, 2),
        15,
        3,
        "市政府办公室政务公开科",
        0,
        ["forms", "schedule"],
    ),
    (
        "neijiang-2025: a whole month, 12人左右, 一半, answer and summary in one sentence",
        v.NEIJIANG_2025,
        "内府办发〔2025〕9号",
        "内江市人民政府办公室",
        (date(2025, 5, 1), date(2025, 5, 31)),
        (8, 16),
        Fraction(1, 2),
        10,
        5,
        "市政府办公室",
        3,
        ["schedule"],
    ),
    (
        "suining-2022: sparse — no invitees, share or summary rule",
        v.SUINING_2022_SPARSE,
        "遂府办函〔2022〕15号",
        "遂宁市人民政府办公室",
        (date(2022, 10, 10), date(2022, 10, 31)),
        None,
        None,
        10,
        None,
        None,
        0,
        ["invitees", "citizen_share", "forms", "summary", "summary_recipient", "schedule"],
    ),
]


@pytest.mark.parametrize(
    "text,doc,office,window,invitees,share,answer,summary,recipient,forms,missing",
    [pytest.param(*row[1:], id=row[0].split(":")[0]) for row in VARIANTS],
)
def test_each_variant_reads_to_its_rules(
    text: str,
    doc: str,
    office: str,
    window: tuple[date, date],
    invitees: tuple[int, int] | None,
    share: Fraction | None,
    answer: int | None,
    summary: int | None,
    recipient: str | None,
    forms: int,
    missing: list[str],
) -> None:
    """Every rule the notice says comes out with its value, and what it leaves out is listed."""
    draft = parse_notice(text)
    check_draft(draft)
    assert draft.value("doc_number") == doc
    assert draft.value("issuing_office") == office
    assert draft.value("window") == window
    found = draft.value("invitees")
    assert ((found.minimum, found.maximum) if found else None) == invitees
    assert draft.value("citizen_share") == share
    assert draft.value("answer") == answer
    assert draft.value("summary") == summary
    assert draft.value("summary_recipient") == recipient
    assert len(draft.value("forms") or []) == forms
    assert draft.missing == missing
    for finding in draft.ordered():  # every value found stands beside a sentence of the text
        if finding.found and finding.key != "forms":  # forms: the section's item names
            assert finding.sentence and finding.sentence.split(" ")[-1] in text
    assert all(name in text for name in draft.value("forms") or [])


def test_the_founding_notice_cites_its_sentences() -> None:
    """Each rule of 58号 is shown with the sentence it came from, under its section."""
    draft = parse_notice(_reference())
    invitees = draft.get("invitees")
    assert invitees.where == "四、开放对象"
    assert "原则上每个开放点15人左右" in invitees.sentence
    assert "市民代表比例不低于三分之一" in draft.get("citizen_share").sentence
    assert "在15个工作日内办结" in draft.get("answer").sentence
    assert "三日内反馈区政府办1329室" in draft.get("summary").sentence
    assert draft.value("title") == "关于开展“政府开放日”活动的通知"
    assert draft.value("issued_on") == date(2022, 8, 22)
    assert draft.value("schedule") == "雁江区“政府开放月”活动安排一览表"
    assert [form_of(name) for name in draft.value("forms")] == [
        "office_visit",
        "site_visit",
        "dialogue",
        "feedback",
    ]
    assert draft.get("answer").note == ""  # working days as the service counts them


def test_calendar_days_for_answers_are_converted_and_flagged() -> None:
    """15日 (calendar) becomes 11 working days, with a note asking the supervisor to check."""
    finding = parse_notice(v.CHENGHUA_2024).get("answer")
    assert finding.value == 11
    assert "15日" in finding.note and "请核对" in finding.note


@pytest.mark.parametrize(
    "text,code,names",
    [
        (v.NOT_A_NOTICE, "notice_not_recognised", ["文号", "活动时间", "市民代表比例"]),
        (v.NO_SUCH_DAY, "notice_window_invalid", ["2023年9月31日"]),
    ],
)
def test_unreadable_texts_are_refused_naming_what_is_missing(
    text: str, code: str, names: list[str]
) -> None:
    with pytest.raises(InvalidData) as caught:
        parse_notice(text)
    assert caught.value.code == code and caught.value.status == 422
    for name in names:
        assert name in caught.value.message_zh
    assert caught.value.message_en


@pytest.mark.parametrize(
    "text,code",
    [(v.REVERSED, "notice_window_reversed"), (v.SHARE_ABOVE_ONE, "notice_share_above_one")],
)
def test_contradictions_are_refused(text: str, code: str) -> None:
    with pytest.raises(InvalidData) as caught:
        check_draft(parse_notice(text))
    assert caught.value.code == code and caught.value.status == 422


@pytest.mark.parametrize(
    "text,value",
    [
        ("十五", 15),
        ("二十", 20),
        ("一百零五", 105),
        ("１５", 15),
        ("两", 2),
        ("十", 10),
        ("x", None),
    ],
)
def test_numbers(text: str, value: int | None) -> None:
    assert words.number(text) == value


@pytest.mark.parametrize(
    "text,value",
    [
        ("不低于三分之一", Fraction(1, 3)),
        ("不少于二分之一", Fraction(1, 2)),
        ("至少1/3", Fraction(1, 3)),
        ("不低于40%", Fraction(2, 5)),
        ("百分之五十", Fraction(1, 2)),
        ("一半以上", Fraction(1, 2)),
        ("不低于三分之四", Fraction(4, 3)),
    ],
)
def test_shares(text: str, value: Fraction) -> None:
    assert words.share(text) == value


@pytest.mark.parametrize(
    "text,days,workdays",
    [
        ("在15个工作日内办结", 15, True),
        ("十个工作日内答复", 10, True),
        ("三日内反馈", 3, False),
        ("5天内", 5, False),
        ("一周内", 7, False),
        ("两周内", 14, False),
    ],
)
def test_periods(text: str, days: int, workdays: bool) -> None:
    read = words.period(text)
    assert read is not None and read[0] == words.Period(days, workdays)


@pytest.mark.parametrize(
    "text,start,end",
    [
        ("2022年8月22日至2022年9月22日", date(2022, 8, 22), date(2022, 9, 22)),
        ("9月至11月", date(2023, 9, 1), date(2023, 11, 30)),
        ("2023年10月8日至11月30日", date(2023, 10, 8), date(2023, 11, 30)),
        ("12月1日至2024年1月15日", date(2023, 12, 1), date(2024, 1, 15)),
        ("11月至次年1月", date(2023, 11, 1), date(2024, 1, 31)),
        ("9月中旬至10月底", date(2023, 9, 11), date(2023, 10, 31)),
        ("9月上旬至9月下旬", date(2023, 9, 1), date(2023, 9, 30)),
        ("二〇二三年十月八日至十一月三十日", date(2023, 10, 8), date(2023, 11, 30)),
        ("10月1日—12月31日", date(2023, 10, 1), date(2023, 12, 31)),
        ("2024年2月期间", date(2024, 2, 1), date(2024, 2, 29)),
    ],
)
def test_windows(text: str, start: date, end: date) -> None:
    found = words.window(text, 2023)
    assert found is not None and (found.starts_on, found.ends_on) == (start, end)


@pytest.mark.parametrize(
    "filler",
    [
        "活动总结于三日内" + "报" * 99_000,
        "市民代表" + "一" * 99_000,
        "意见建议办结" + "一" * 99_000,
    ],
)
def test_a_long_hostile_text_is_read_in_bounded_time(filler: str) -> None:
    """A 100,000-character sentence (the text limit) is cut to SENTENCE_MAX_CHARS before any
    search: a lazy scan over it took minutes (quadratic); bounded, it is well under a second."""
    text = "资雁府办发〔2023〕1号\n一、活动时间：2023年9月1日至9月30日\n" + filler + "。\n"
    started = time.perf_counter()
    try:
        draft = parse_notice(text)
    except InvalidData:
        draft = None
    assert time.perf_counter() - started < 20  # minutes before the cap; ~0.2 s with it
    for finding in draft.ordered() if draft else []:
        assert len(finding.sentence) <= SENTENCE_MAX_CHARS + 60
