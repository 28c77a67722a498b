"""Read an open-day notice into the campaign it describes (issue 30).

:func:`parse_notice` takes the notice's text and answers a :class:`NoticeDraft`: for every
campaign field and rule, the value found and the sentence (and section) it was read from, or a
gap the supervisor fills in. Nothing is written here; workflows/campaign/notice_campaign.py
checks a draft against the campaigns already there and creates the campaign once confirmed.

The words are read by workflows/campaign/notice_words.py (numerals, shares, periods, windows).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from typing import Any

from models.event import EventForm
from workflows.campaign import notice_words as words
from workflows.kernel.errors import InvalidData

# What each finding is called on the preview, in the order the preview lists them.
LABELS: dict[str, str] = {
    "doc_number": "文号",
    "issuing_office": "发文机关",
    "title": "标题",
    "issued_on": "成文日期",
    "window": "活动时间",
    "invitees": "每个开放点邀请人数",
    "citizen_share": "市民代表比例",
    "forms": "组织形式",
    "answer": "意见建议办结时限",
    "summary": "活动总结报送时限",
    "summary_recipient": "总结报送对象",
    "schedule": "附件（活动安排表）",
}
# Rules some districts' notices add and a notice switches on (workflows/filing/): listed on the
# preview beside their sentence when found; a notice silent on them leaves them off, so they are
# never "missing".
SWITCH_LABELS: dict[str, str] = {
    "plan_approval": "活动方案报区政府办审核备案",
    "announcement": "公开邀请提前发布公告",
    "representatives": "市民代表名单公示",
}
# Without these a campaign cannot be created: the preview leaves them blank for the supervisor.
REQUIRED = ("doc_number", "issuing_office", "title", "window")
# A text with fewer of these than RECOGNISED_MIN is not an open-day notice at all.
_KEY_FINDINGS = ("doc_number", "window", "invitees", "citizen_share", "answer", "summary")
RECOGNISED_MIN = 2


@dataclass(frozen=True)
class Finding:
    """One field or rule of the notice: its value, the sentence and section it came from."""

    key: str
    value: Any = None
    sentence: str = ""
    where: str = ""
    note: str = ""  # what the supervisor should check (e.g. days counted differently)

    @property
    def found(self) -> bool:
        """Whether the notice said it."""
        return self.value is not None

    @property
    def label(self) -> str:
        """文号, 活动时间, …"""
        return LABELS.get(self.key) or SWITCH_LABELS[self.key]


@dataclass(frozen=True)
class Switch:
    """A rule the notice switches on: how far ahead of the event, and for the plan whether the
    notice says 原则上 (record and flag) rather than requiring it (refuse)."""

    days: int
    workdays: bool
    mode: str = "refuse"  # refuse | flag


@dataclass(frozen=True)
class Invitees:
    """The invitee rule: the range the campaign checks, and how the notice put it."""

    minimum: int
    maximum: int
    wording: str  # about / at_least / at_most / range


@dataclass
class NoticeDraft:
    """Everything read from one notice."""

    findings: dict[str, Finding] = field(default_factory=dict)

    def get(self, key: str) -> Finding:
        """The finding for `key` (an empty one when the notice did not say it)."""
        return self.findings.get(key) or Finding(key)

    def value(self, key: str) -> Any:
        """The value found for `key`, or None."""
        return self.get(key).value

    @property
    def missing(self) -> list[str]:
        """Keys the notice did not say, in preview order."""
        return [key for key in LABELS if not self.get(key).found]

    @property
    def missing_required(self) -> list[str]:
        """Required keys the notice did not say."""
        return [key for key in REQUIRED if not self.get(key).found]

    def ordered(self) -> list[Finding]:
        """Every finding, found or not, in preview order."""
        return [self.get(key) for key in LABELS]

    def switches(self) -> list[Finding]:
        """The rules the notice switches on (workflows/filing/), found or not, in order."""
        return [self.get(key) for key in SWITCH_LABELS]


# --- the text ----------------------------------------------------------------------------------

SENTENCE_MAX_CHARS = 500
_HEADING = re.compile(r"^(?:[一二三四五六七八九十]+、|（[一二三四五六七八九十]+）)")
_ARTIFACT = re.compile(r"\[bookmark:[^\]]*\]|窗体顶端|窗体底端")


@dataclass(frozen=True)
class _Sentence:
    text: str
    where: str
    line: int


def _lines(text: str) -> list[str]:
    return [_ARTIFACT.sub("", line).strip() for line in text.replace("\r", "\n").split("\n")]


def _body_end(lines: list[str]) -> int:
    """Index of the attachment (附件) part: the line `附件` alone, or the end."""
    for index, line in enumerate(lines):
        if line == "附件" and index > 0:
            return index
    return len(lines)


def _sentences(lines: list[str]) -> list[_Sentence]:
    """The body's sentences, each with the section heading it stands under."""
    out: list[_Sentence] = []
    section, sub = "", ""
    for index, line in enumerate(lines[: _body_end(lines)]):
        if not line:
            continue
        heading = _HEADING.match(line)
        if heading and heading.group(0).endswith("、"):
            section, sub = re.split(r"[：:。]", line, maxsplit=1)[0][:30], ""
        elif heading:
            sub = heading.group(0)
        where = section + sub if sub and section else section or sub
        for part in re.findall(r"[^。；;！!]+[。；;！!]?", line):
            if part.strip():  # a real sentence is far shorter; the cap bounds every search
                out.append(_Sentence(part.strip()[:SENTENCE_MAX_CHARS], where, index))
    return out


def _first(
    sentences: list[_Sentence], *patterns: str, avoid: str | None = None
) -> _Sentence | None:
    """The first sentence matching every pattern (and not `avoid`)."""
    for sentence in sentences:
        if all(re.search(p, sentence.text) for p in patterns):
            if avoid is None or not re.search(avoid, sentence.text):
                return sentence
    return None


def _found(key: str, value: Any, sentence: _Sentence, note: str = "") -> Finding:
    return Finding(key, value, sentence.text, sentence.where, note)


# --- header: 文号, office, title, date ------------------------------------------------------------

DOC_NUMBER = re.compile(
    r"[\u4e00-\u9fff]{1,16}\s*[〔\[［（(【]\s*[0-9]{4}\s*[〕\]］）)】]\s*(?:第\s*)?[0-9]+\s*号"
)


def _header(lines: list[str], draft: NoticeDraft) -> None:
    for index, line in enumerate(lines[:30]):
        here = _Sentence(line, "文头", index)
        m = DOC_NUMBER.search(line)
        if m and "doc_number" not in draft.findings and len(line) <= len(m.group(0)) + 4:
            draft.findings["doc_number"] = _found("doc_number", m.group(0), here)
        if "关于" in line and line.endswith("通知") and "title" not in draft.findings:
            office, _, rest = line.partition("关于")
            draft.findings["title"] = _found("title", "关于" + rest, here)
            office = office.strip()
            if not office and (office := _office_above(lines, index)):
                here = _Sentence(f"{office} {line}", "文头", index)
            if office:
                draft.findings["issuing_office"] = _found("issuing_office", office, here)
    _signature(lines, draft)


def _office_above(lines: list[str], index: int) -> str:
    """The line above the title when it names an office (…人民政府办公室, …局)."""
    for line in reversed(lines[max(0, index - 3) : index]):
        if line and re.search(r"(政府|办公室|委员会|局|厅|办)$", line):
            return line
    return ""


def _signature(lines: list[str], draft: NoticeDraft) -> None:
    """The signing date (a line that is only a date) and the office signed above it."""
    for index, line in enumerate(lines[: _body_end(lines)]):
        day = words.full_date(line) if len(line) <= 14 else None
        if day is None:
            continue
        draft.findings["issued_on"] = _found("issued_on", day, _Sentence(line, "落款", index))
        above = next((x for x in reversed(lines[:index]) if x), "")
        if "issuing_office" not in draft.findings and re.search(r"(政府|办公室|局|办)$", above):
            draft.findings["issuing_office"] = _found(
                "issuing_office", above, _Sentence(above, "落款", index - 1)
            )


# --- the rules ---------------------------------------------------------------------------------

_N = words.NUMBER
_PEOPLE = r"\s*(?:人|名)"


def _invitees(sentences: list[_Sentence], draft: NoticeDraft) -> None:
    scope = r"开放点|每场|每次|每个|规模|参加人员|参与人员|邀请"
    patterns: list[tuple[str, str]] = [
        (rf"({_N})\s*(?:至|到|—|-|~|～)\s*({_N}){_PEOPLE}", "range"),
        (rf"({_N}){_PEOPLE}左右|(?:约|大约)\s*({_N}){_PEOPLE}", "about"),
        (rf"(?:不少于|不低于|至少|不得少于)\s*({_N}){_PEOPLE}", "at_least"),
        (rf"(?:不超过|不多于|最多|不得超过)\s*({_N}){_PEOPLE}", "at_most"),
    ]
    for pattern, wording in patterns:
        sentence = _first(sentences, scope, pattern)
        if sentence is None:
            continue
        m = re.search(pattern, sentence.text)
        assert m is not None  # _first matched it
        numbers = [words.number(g) for g in m.groups() if g]
        if not numbers or any(n is None or n < 1 for n in numbers):
            continue
        draft.findings["invitees"] = _invitee_finding(
            sentence, [int(n or 0) for n in numbers], wording
        )
        return


def _invitee_finding(sentence: _Sentence, numbers: list[int], wording: str) -> Finding:
    n = numbers[0]
    if wording == "range":
        return _found("invitees", Invitees(numbers[0], numbers[1], wording), sentence)
    if wording == "about":  # 15人左右 → 10–20, the campaign default for the founding notice
        low, high = max(1, round(n * 2 / 3)), max(1, round(n * 4 / 3))
        return _found("invitees", Invitees(low, high, wording), sentence)
    if wording == "at_least":
        note = f"通知只规定了下限 {n} 人，上限暂按 {n * 2} 人，请核对"
        return _found("invitees", Invitees(n, n * 2, wording), sentence, note)
    note = f"通知只规定了上限 {n} 人，下限暂按 1 人，请核对"
    return _found("invitees", Invitees(1, n, wording), sentence, note)


def _citizen_share(sentences: list[_Sentence], draft: NoticeDraft) -> None:
    who = r"市民代表|群众代表|普通市民|普通群众|社会公众代表|公众代表"
    sentence = _first(sentences, who, r"分之|[0-9]\s*/\s*[0-9]|[%％]|百分之|一半|半数")
    if sentence is None:
        return
    text = sentence.text[re.search(who, sentence.text).start() :]  # type: ignore[union-attr]
    value = words.share(text)
    if value is not None:
        draft.findings["citizen_share"] = _found("citizen_share", value, sentence)


_FORM_WORDS: list[tuple[str, EventForm]] = [
    (r"参观机关|办公场所|机关办公|走进机关|机关开放", EventForm.office_visit),
    (r"现场参观|参观考察|实地|考察|体验", EventForm.site_visit),
    (r"恳谈|座谈|交流|对话|解读|宣讲", EventForm.dialogue),
    (r"意见反馈|征求意见|收集意见|意见建议|意见征集|征集意见|听取意见", EventForm.feedback),
]


def form_of(name: str) -> EventForm | None:
    """The event form a notice's form name stands for (参观机关办公场所 → office_visit)."""
    for pattern, form in _FORM_WORDS:
        if re.search(pattern, name):
            return form
    return None


def _forms(lines: list[str], draft: NoticeDraft) -> None:
    """Section 组织形式 / 活动形式: its numbered items' names, in order."""
    names: list[str] = []
    heading = None
    for index, line in enumerate(lines[: _body_end(lines)]):
        if re.match(r"^[一二三四五六七八九十]+、", line):
            if heading is not None:
                break
            if re.search(r"组织形式|活动形式|开放形式|活动方式", line):
                heading = _Sentence(line, line[:30], index)
            continue
        m = re.match(r"^（[一二三四五六七八九十]+）\s*([^：:。，]{2,16})[：:。]", line)
        if heading is not None and m:
            names.append(m.group(1))
    if heading is not None and names:
        sentence = _Sentence("、".join(names) + "。", heading.text, heading.line)
        draft.findings["forms"] = _found("forms", names, sentence)


_LIMIT = rf"{_N}\s*(?:个工作日|个?工作日|日|天|周|个?星期)|一周|两周|半个月"


def _clause(sentence: _Sentence, avoid: str) -> tuple[words.Period, str] | None:
    """The first clause of `sentence` naming a time limit and not `avoid`: (the limit, the
    sentence's words after it)."""
    at = 0
    for clause in re.split(r"(?<=[，,])", sentence.text):
        read = words.period(clause)
        if read is not None and not re.search(avoid, clause):
            return read[0], sentence.text[at + read[1].end() :]
        at += len(clause)
    return None


def _answer(sentences: list[_Sentence], draft: NoticeDraft) -> None:
    for sentence in sentences:
        text = sentence.text
        if not (re.search(r"意见|建议|诉求", text) and re.search(r"办结|答复|回复|反馈", text)):
            continue
        read = _clause(sentence, avoid=r"总结|图文|报送|活动结束后|活动开展后")
        if read is None:
            continue
        period = read[0]
        if period.workdays:
            draft.findings["answer"] = _found("answer", period.days, sentence)
            return
        workdays = max(1, round(period.days * 5 / 7))
        note = f"通知写的是 {period.zh}，本系统按工作日计，已折算为 {workdays} 个工作日，请核对"
        draft.findings["answer"] = _found("answer", workdays, sentence, note)
        return


_RECIPIENT = re.compile(r"(?:反馈|报送|上报|报|送|提交|交)(?:至|到|给)?\s*([^，。；;（(]{2,30})")


def _summary(sentences: list[_Sentence], draft: NoticeDraft) -> None:
    sentence = _first(sentences, r"总结|图文|开展情况", _LIMIT, r"反馈|报送|上报|报|送|提交")
    if sentence is None:
        return
    read = _clause(sentence, avoid=r"意见|建议|诉求")
    if read is None:
        return
    period, rest = read
    note = ""
    if period.workdays:
        note = f"通知写的是 {period.zh}，本系统的总结时限按自然日计，请核对"
    draft.findings["summary"] = _found("summary", period.days, sentence, note)
    rest = rest.rstrip("。；;")
    to = re.search(
        r"(?:报送|提交|反馈|送|报)[^，。；;]{0,20}?(?:至|到|给)\s*([^，。；;（(]{2,30})", rest
    )
    found = to or _RECIPIENT.search(rest)
    if found:
        recipient = found.group(1).strip()
        draft.findings["summary_recipient"] = _found("summary_recipient", recipient, sentence)


def _window(sentences: list[_Sentence], draft: NoticeDraft) -> None:
    year = None
    if issued := draft.value("issued_on"):
        year = issued.year
    elif doc := draft.value("doc_number"):
        year = int(re.search(r"[0-9]{4}", doc).group(0))  # type: ignore[union-attr]
    preferred = [s for s in sentences if re.search(r"时间|期间|开展|举办|开放", s.text)]
    for sentence in preferred + sentences:
        try:
            found = words.window(sentence.text, year)
        except words.WindowError as exc:
            raise InvalidData(
                "notice_window_invalid",
                f"活动时间“{exc}”不是有效的日期",
                f"the activity window '{exc}' names no real day",
                status=422,
                details={"sentence": sentence.text},
            ) from None
        if found is not None:
            value = (found.starts_on, found.ends_on)
            draft.findings["window"] = _found("window", value, sentence)
            return


def _schedule(lines: list[str], draft: NoticeDraft) -> None:
    for index, line in enumerate(lines):
        m = re.match(r"^附件\s*[0-9]?\s*[：:]\s*(.+)$", line)
        if m:
            here = _Sentence(line, "附件", index)
            draft.findings["schedule"] = _found("schedule", m.group(1).strip(), here)
            return


_PLAN = r"方案"
_FILED = r"审核|审批|审定|备案|报备"
_ANNOUNCE = r"公告|发布.{0,12}(?:报名|招募|征集)"
_PUBLICITY = r"公示"
_WHO = r"市民代表|群众代表|参加人员|参与人员|开放对象|人员名单|代表名单"
# Days assumed when a rule's sentence says "before the event" without a number.
SWITCH_DEFAULT_DAYS = {"plan_approval": 5, "announcement": 3, "representatives": 1}


def _switch(key: str, sentence: _Sentence) -> Finding:
    """A switched-on rule from its sentence: the span ahead (提前3日, 前5个工作日), 原则上."""
    read = words.ahead(sentence.text)
    note = ""
    if read is None:
        days = SWITCH_DEFAULT_DAYS[key]
        read = words.Period(days, key == "plan_approval")
        note = f"通知未写明提前天数，暂按提前{read.zh}，请核对"
    mode = "flag" if key == "plan_approval" and "原则上" in sentence.text else "refuse"
    return _found(key, Switch(read.days, read.workdays, mode), sentence, note)


def _switches(sentences: list[_Sentence], draft: NoticeDraft) -> None:
    """The rules other districts' notices add: the plan filed for approval (方案…审核备案), a
    public announcement ahead of a publicly invited event, the citizen representatives' 公示."""
    plan = _first(sentences, _PLAN, _FILED, r"区政府办|政府办|办公室|政务公开|报|送")
    if plan is not None:
        draft.findings["plan_approval"] = _switch("plan_approval", plan)
    announce = _first(sentences, _ANNOUNCE, r"提前|前", avoid=_PUBLICITY)
    if announce is not None:
        draft.findings["announcement"] = _switch("announcement", announce)
    publicity = _first(sentences, _PUBLICITY, _WHO)
    if publicity is not None:
        draft.findings["representatives"] = _switch("representatives", publicity)


def parse_notice(text: str) -> NoticeDraft:
    """Every field and rule the notice's text says, each with its sentence.

    Raises `InvalidData` `notice_not_recognised` (422) when the text says too little to be an
    open-day notice, naming what is missing; a window naming no real day is
    `notice_window_invalid`. Contradictions (a reversed window, a share above one) are checked
    by :func:`check_draft`, so a preview can show them.
    """
    lines = _lines(text)
    sentences = _sentences(lines)
    draft = NoticeDraft()
    _header(lines, draft)
    _window(sentences, draft)
    _invitees(sentences, draft)
    _citizen_share(sentences, draft)
    _forms(lines, draft)
    _answer(sentences, draft)
    _summary(sentences, draft)
    _schedule(lines, draft)
    _switches(sentences, draft)
    found = [key for key in _KEY_FINDINGS if draft.get(key).found]
    if len(found) < RECOGNISED_MIN:
        missing = [LABELS[key] for key in _KEY_FINDINGS if key not in found]
        raise InvalidData(
            "notice_not_recognised",
            f"未能识别为“政府开放日”通知：未找到{'、'.join(missing)}",
            "not recognised as an open-day notice: missing "
            + ", ".join(k for k in _KEY_FINDINGS if k not in found),
            status=422,
            details={"missing": [k for k in _KEY_FINDINGS if k not in found]},
        )
    return draft


def check_values(
    starts_on: date | None,
    ends_on: date | None,
    share: Fraction | None,
    invitees: tuple[int, int] | None,
) -> None:
    """Refuse values that contradict themselves: a reversed window, a share above one."""
    if starts_on and ends_on and ends_on < starts_on:
        raise InvalidData(
            "notice_window_reversed",
            f"活动时间结束日期 {ends_on} 早于开始日期 {starts_on}",
            f"the activity window ends ({ends_on}) before it starts ({starts_on})",
            status=422,
        )
    if share is not None and not 0 <= share <= 1:
        raise InvalidData(
            "notice_share_above_one",
            f"市民代表比例 {share} 超过全部人员（应在 0 与 1 之间）",
            f"the citizens' share {share} is more than everyone (must be between 0 and 1)",
            status=422,
        )
    if invitees and invitees[0] > invitees[1]:
        raise InvalidData(
            "notice_invitees_reversed",
            f"邀请人数下限 {invitees[0]} 大于上限 {invitees[1]}",
            f"the invitee minimum {invitees[0]} exceeds the maximum {invitees[1]}",
            status=422,
        )


def check_draft(draft: NoticeDraft) -> None:
    """:func:`check_values` on what the notice itself says."""
    window = draft.value("window")
    invitees = draft.value("invitees")
    check_values(
        window[0] if window else None,
        window[1] if window else None,
        draft.value("citizen_share"),
        (invitees.minimum, invitees.maximum) if invitees else None,
    )
