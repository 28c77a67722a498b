"""From an uploaded or pasted notice to the campaign it describes (issue 30).

Read the notice (.docx through the archive guard, or text), parse it
(workflows/campaign/notice_import.py), and answer a :class:`NoticePreview`: the values the
campaign would get, each beside the sentence it came from, the gaps the supervisor fills, the
campaigns it would clash with, and the schedule table found in it. Nothing is written until
:func:`create_from_notice`, which takes the supervisor's values (as edited on the preview) and
creates the campaign with an audit line that keeps every sentence the rules were read from.
The schedule table then goes through the existing import (workflows/schedule/service.py).

The campaign belongs to a district (docs/tenancy.md) as one created directly does
(`campaigns.acting_for_new`): a district's supervisor's own, or the one a city supervisor names
and holds the grant of; the clashes are those of that district's campaigns.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from fractions import Fraction
from pathlib import PurePath
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, col, select

from models import Campaign, District
from workflows.accounts import districts
from workflows.campaign import notice_words as words
from workflows.campaign import service as campaigns
from workflows.campaign.notice_import import (
    SWITCH_LABELS,
    Invitees,
    NoticeDraft,
    Switch,
    check_values,
    form_of,
    parse_notice,
)
from workflows.campaign.rules import CampaignRules, split_forms
from workflows.files import isolated
from workflows.files.archive_guard import ImportLimits, check_archive
from workflows.kernel import audit
from workflows.kernel.errors import Conflict, InvalidData
from workflows.kernel.visibility import Actor, can_act, district_of_new
from workflows.schedule.tables import read_table

# A notice is a few pages; its text (the schedule table included) stays far below this.
NOTICE_MAX_CHARS = 100_000
NOTICE_FORMATS = (".docx", ".txt")

# The values a campaign gets from a notice, as the preview's form names them, with their labels.
VALUE_LABELS: dict[str, str] = {
    "doc_number": "文号",
    "issuing_office": "发文机关",
    "title": "标题",
    "starts_on": "活动开始日期",
    "ends_on": "活动结束日期",
    "invitees_min": "每个开放点邀请人数下限",
    "invitees_max": "每个开放点邀请人数上限",
    "citizen_share_min": "市民代表比例下限",
    "feedback_answer_workdays": "意见建议办结时限（工作日）",
    "summary_due_days": "活动总结报送时限（日）",
    "summary_recipient": "总结报送对象",
    "activity_forms": "组织形式",
}
# Values a campaign cannot be created without; the rules fall back to the notice's defaults.
REQUIRED_VALUES = ("doc_number", "issuing_office", "title", "starts_on", "ends_on")
# Which finding of the draft fills which value (the preview cites the finding's sentence).
FINDING_OF_VALUE = {
    "doc_number": "doc_number",
    "issuing_office": "issuing_office",
    "title": "title",
    "starts_on": "window",
    "ends_on": "window",
    "invitees_min": "invitees",
    "invitees_max": "invitees",
    "citizen_share_min": "citizen_share",
    "feedback_answer_workdays": "answer",
    "summary_due_days": "summary",
    "summary_recipient": "summary_recipient",
    "activity_forms": "forms",
}
# The switched-on rules' values on the preview's form: mode (off / refuse / flag, the plan
# only; the others off / on), days ahead, and whether they are working days.
SWITCH_VALUE_LABELS: dict[str, str] = {
    "plan_approval": "活动方案审核",
    "plan_days_before": "方案报送（活动前天数）",
    "plan_workdays": "方案报送天数按工作日计",
    "announcement": "公开邀请公告",
    "announcement_days_before": "公告发布（活动前天数）",
    "announcement_workdays": "公告天数按工作日计",
    "representatives": "市民代表公示",
    "representatives_days_before": "公示（活动前天数）",
    "representatives_workdays": "公示天数按工作日计",
}
# The rule fields of each switch (workflows/campaign/rules.py).
_SWITCH_RULES = {
    "plan_approval": ("plan_approval_required", "plan_days_before", "plan_workdays"),
    "announcement": (
        "announcement_required", "announcement_days_before", "announcement_workdays",
    ),
    "representatives": (
        "representatives_publicity_required", "representatives_days_before",
        "representatives_workdays",
    ),
}  # fmt: skip
_SWITCH_PREFIX = {"plan_approval": "plan", "announcement": "announcement"}
_SWITCH_PREFIX["representatives"] = "representatives"
_INTS = ("invitees_min", "invitees_max", "feedback_answer_workdays", "summary_due_days")


def _refuse(code: str, zh: str, en: str, status: int = 422, **details: Any) -> InvalidData:
    return InvalidData(code, zh, en, status=status, details=details)


# --- reading -----------------------------------------------------------------------------------


def _docx_text(data: bytes, filename: str) -> str:
    """The document's paragraphs and tables in order; a table cell per tab-prefixed line (the
    layout of the reference notice's text, which the schedule reader also knows)."""
    import docx  # python-docx, as the schedule reader uses it

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises assorted zip/XML/package errors
        raise _refuse(
            "file_unreadable",
            f"无法读取文件“{filename}”：不是有效的 .docx 文件",
            f'cannot read "{filename}": not a valid .docx file',
        ) from exc
    lines: list[str] = []
    for child in document.element.body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            lines.append("".join(t.text or "" for t in child.iter() if t.tag.endswith("}t")))
        elif tag == "tbl":
            for row in child.iter():
                if row.tag.endswith("}tr"):
                    cells = [c for c in row.iterchildren() if c.tag.endswith("}tc")]
                    for cell in cells:
                        text = "".join(t.text or "" for t in cell.iter() if t.tag.endswith("}t"))
                        lines.append("\t" + text.strip())
                    lines.append("")
    return "\n".join(lines)


def _decode(data: bytes, filename: str) -> str:
    for codec in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    raise _refuse(
        "encoding_unknown",
        f"无法识别“{filename}”的文字编码（支持 UTF-8 和 GB18030）",
        f'cannot decode "{filename}" (UTF-8 and GB18030 are supported)',
    )


def read_notice(data: bytes, filename: str, limits: ImportLimits) -> str:
    """The text of a notice uploaded as .docx (checked by the archive guard first) or .txt."""
    suffix = PurePath(filename).suffix.lower()
    if suffix not in NOTICE_FORMATS:
        raise _refuse(
            "format_unsupported",
            f"不支持的文件格式“{suffix or filename}”，请上传 .docx 或 .txt 文件，或粘贴通知全文",
            f'unsupported file format "{suffix or filename}"; upload a .docx or .txt file '
            "or paste the notice's text",
        )
    if not data.strip():
        raise _refuse("file_empty", f"文件“{filename}”是空的", f'file "{filename}" is empty')
    if suffix == ".docx":
        check_archive(data, filename, limits)
        # Parsed in a child, within time and memory limits (workflows/files/isolated.py).
        return isolated.run(limits, filename, _docx_text, data, filename)
    return _decode(data, filename)


def check_text(text: str) -> str:
    """Pasted or read text within the size limit, and not blank."""
    if not text.strip():
        raise _refuse(
            "notice_missing",
            "请上传通知文件或粘贴通知全文",
            "upload the notice or paste its text",
        )
    if len(text) > NOTICE_MAX_CHARS:
        raise _refuse(
            "notice_too_long",
            f"通知全文超过 {NOTICE_MAX_CHARS} 字上限",
            f"the notice's text exceeds {NOTICE_MAX_CHARS} characters",
            status=413,
            limit=NOTICE_MAX_CHARS,
        )
    return text


# --- the preview -------------------------------------------------------------------------------


@dataclass
class NoticePreview:
    """What importing the notice would create; nothing of it is written."""

    draft: NoticeDraft
    values: dict[str, str]  # the form's values: the draft's, or the supervisor's edits
    conflicts: list[Conflict] = field(default_factory=list)
    schedule_rows: int | None = None  # rows of the attached schedule table, None: no table
    schedule_problem: str = ""
    district_id: int | None = None  # whose campaigns it clashes with; None: none named yet

    @property
    def missing(self) -> list[str]:
        """Required values still blank."""
        return [key for key in REQUIRED_VALUES if not self.values.get(key)]

    @property
    def unfound(self) -> list[str]:
        """Values the notice did not say (filled from the defaults or left blank)."""
        return [k for k, f in FINDING_OF_VALUE.items() if not self.draft.get(f).found]

    @property
    def form_mapping(self) -> list[tuple[str, str | None]]:
        """Each form of activity on the form, and the form held (EventForm value) it stands
        for when a hold is recorded; None: none of them (a hold is then flagged)."""
        names = split_forms(self.values.get("activity_forms", ""))
        return [(name, None if (f := form_of(name)) is None else f.value) for name in names]

    def as_dict(self) -> dict[str, Any]:
        """The preview for the JSON API."""
        return {
            "values": self.values,
            "rules": [_finding_dict(self, key) for key in VALUE_LABELS],
            "switches": [_switch_dict(self, f.key) for f in self.draft.switches()],
            "forms": _forms_dict(self.draft),
            "issued_on": self.draft.value("issued_on"),
            "schedule": {
                "title": self.draft.value("schedule"),
                "rows": self.schedule_rows,
                "problem": self.schedule_problem,
            },
            "missing": self.missing,
            "not_in_notice": self.unfound,
            "conflicts": [c.code for c in self.conflicts],
            "district_id": self.district_id,
        }


def _finding_dict(preview: NoticePreview, key: str) -> dict[str, Any]:
    finding = preview.draft.get(FINDING_OF_VALUE[key])
    return {
        "field": key,
        "label": VALUE_LABELS[key],
        "value": preview.values.get(key, ""),
        "found": finding.found,
        "where": finding.where,
        "sentence": finding.sentence,
        "note": finding.note,
    }


def _switch_dict(preview: NoticePreview, key: str) -> dict[str, Any]:
    finding = preview.draft.get(key)
    prefix = _SWITCH_PREFIX[key]
    return {
        "rule": key,
        "label": SWITCH_LABELS[key],
        "value": preview.values.get(key, "off"),
        "days_before": preview.values.get(f"{prefix}_days_before", ""),
        "workdays": preview.values.get(f"{prefix}_workdays", "no") == "yes",
        "found": finding.found,
        "where": finding.where,
        "sentence": finding.sentence,
        "note": finding.note,
    }


def _forms_dict(draft: NoticeDraft) -> list[dict[str, Any]]:
    names = draft.value("forms") or []
    return [{"name": name, "form": form_of(name)} for name in names]


def values_of(draft: NoticeDraft) -> dict[str, str]:
    """The draft's values as the preview's form shows them; the defaults where it is silent."""
    defaults = CampaignRules()
    out = {key: str(draft.value(key) or "") for key in ("doc_number", "issuing_office", "title")}
    window = draft.value("window")
    out["starts_on"] = window[0].isoformat() if window else ""
    out["ends_on"] = window[1].isoformat() if window else ""
    invitees = draft.value("invitees")
    out["invitees_min"] = str(invitees.minimum if invitees else defaults.invitees_min)
    out["invitees_max"] = str(invitees.maximum if invitees else defaults.invitees_max)
    share = draft.value("citizen_share")
    out["citizen_share_min"] = str(share) if share is not None else defaults.citizen_share_min
    answer = draft.value("answer")
    out["feedback_answer_workdays"] = str(answer or defaults.feedback_answer_workdays)
    summary = draft.value("summary")
    out["summary_due_days"] = str(summary if summary is not None else defaults.summary_due_days)
    out["summary_recipient"] = draft.value("summary_recipient") or defaults.summary_recipient
    out["activity_forms"] = "、".join(draft.value("forms") or defaults.activity_forms)
    out.update(switch_values(draft))
    return out


def switch_values(draft: NoticeDraft) -> dict[str, str]:
    """The switched-on rules as the preview's form shows them: off where the notice is silent."""
    defaults = CampaignRules()
    out: dict[str, str] = {}
    for key, prefix in _SWITCH_PREFIX.items():
        found: Switch | None = draft.value(key)
        _, days_field, workdays_field = _SWITCH_RULES[key]
        out[key] = (found.mode if key == "plan_approval" else "on") if found else "off"
        days = found.days if found else getattr(defaults, days_field)
        workdays = found.workdays if found else getattr(defaults, workdays_field)
        out[f"{prefix}_days_before"] = str(days)
        out[f"{prefix}_workdays"] = "yes" if workdays else "no"
    return out


def switch_rules(values: Mapping[str, Any], draft: NoticeDraft | None = None) -> dict[str, Any]:
    """The rule settings the switches' (edited) values give, each sentence kept for citing."""
    rules: dict[str, Any] = {}
    for key, prefix in _SWITCH_PREFIX.items():
        mode = str(values.get(key) or "off").strip()
        if mode not in ("off", "on", "refuse", "flag"):
            raise _refuse(
                "notice_value_invalid",
                f"{SWITCH_VALUE_LABELS[key]}应为 不要求 / 要求（现为“{mode[:20]}”）",
                f"{key} must be off, on, refuse or flag (got '{mode[:20]}')",
                field=key,
            )
        if mode == "off":
            continue
        required, days_field, workdays_field = _SWITCH_RULES[key]
        rules[required] = True
        days_key = f"{prefix}_days_before"
        rules[days_field] = _int_switch(days_key, str(values.get(days_key) or "0"))
        rules[workdays_field] = str(values.get(f"{prefix}_workdays") or "no") == "yes"
        if key == "plan_approval":
            rules["plan_approval_mode"] = "flag" if mode == "flag" else "refuse"
        sentence = draft.get(key).sentence if draft is not None else ""
        rules[f"{key}_sentence"] = sentence[:500]
    return rules


def _int_switch(key: str, text: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        value = -1
    if not 0 <= value <= 60:
        raise _refuse(
            "notice_value_invalid",
            f"{SWITCH_VALUE_LABELS[key]}应为 0–60 的整数（现为“{text[:20]}”）",
            f"{key} must be a whole number from 0 to 60 (got '{text[:20]}')",
            field=key,
        )
    return value


def preview(
    session: Session,
    text: str,
    limits: ImportLimits,
    *,
    source: bytes | None = None,
    filename: str = "notice.txt",
    edits: Mapping[str, Any] | None = None,
    district_id: int | None = None,
) -> NoticePreview:
    """Parse the notice and show what it would create; `edits` replace the draft's values.
    The clashes are with the campaigns of `district_id` (:func:`district_of_preview`; None, a
    city-level caller who named none yet: none shown, the confirmation asks for it).

    Raises `notice_not_recognised` for a text that is no open-day notice; contradictions are
    raised by :func:`checked_values` at confirmation and shown as conflicts here.
    """
    draft = parse_notice(check_text(text))
    values = values_of(draft)
    for key in [*VALUE_LABELS, *SWITCH_VALUE_LABELS]:
        if edits is not None and key in edits:
            values[key] = str(edits[key] or "").strip()[:200]
    result = NoticePreview(draft, values, district_id=district_id)
    result.conflicts = [] if district_id is None else _clashes(session, values, district_id)
    try:
        table = read_table(source or text.encode("utf-8"), filename, limits)
        result.schedule_rows = len(table.rows)
    except InvalidData as exc:
        result.schedule_problem = exc.message_zh
    return result


# --- confirming --------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoticeValues:
    """The checked values a campaign is created with."""

    fields: dict[str, Any]
    rules: CampaignRules


def _int(key: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise _refuse(
            "notice_value_invalid",
            f"{VALUE_LABELS[key]}应为整数（现为“{text}”）",
            f"{key} must be a whole number (got '{text}')",
            field=key,
        ) from None


def _date(key: str, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        day = words.full_date(text)
        if day is None:
            raise _refuse(
                "notice_value_invalid",
                f"{VALUE_LABELS[key]}应为日期，如 2023-10-08（现为“{text}”）",
                f"{key} must be a date such as 2023-10-08 (got '{text}')",
                field=key,
            ) from None
        return day


def _share(text: str) -> Fraction:
    try:
        return Fraction(text)
    except (ValueError, ZeroDivisionError):
        found = words.share(text)
        if found is None:
            raise _refuse(
                "notice_value_invalid",
                f"市民代表比例应为分数，如 1/3 或 三分之一（现为“{text}”）",
                f"citizen_share_min must be a fraction such as 1/3 (got '{text}')",
                field="citizen_share_min",
            ) from None
        return found


def checked_values(values: Mapping[str, Any], draft: NoticeDraft | None = None) -> NoticeValues:
    """The supervisor's values, refused when blank where required or contradicting each other;
    the switched-on rules (workflows/filing/) cite the draft's sentences."""
    given = {key: str(values.get(key) or "").strip() for key in VALUE_LABELS}
    missing = [key for key in REQUIRED_VALUES if not given[key]]
    if missing:
        names = "、".join(VALUE_LABELS[key] for key in missing)
        raise _refuse(
            "notice_fields_missing",
            f"请填写通知中未找到的内容：{names}",
            "fill in what the notice does not say: " + ", ".join(missing),
            fields=missing,
        )
    starts_on, ends_on = _date("starts_on", given["starts_on"]), _date("ends_on", given["ends_on"])
    numbers = {key: _int(key, given[key]) for key in _INTS if given[key]}
    share = _share(given["citizen_share_min"]) if given["citizen_share_min"] else None
    invitees = None
    if "invitees_min" in numbers and "invitees_max" in numbers:
        invitees = (numbers["invitees_min"], numbers["invitees_max"])
    check_values(starts_on, ends_on, share, invitees)
    rules: dict[str, Any] = dict(numbers)
    if share is not None:
        rules["citizen_share_min"] = str(share)
    if given["summary_recipient"]:
        rules["summary_recipient"] = given["summary_recipient"][:100]
    if given["activity_forms"]:
        rules["activity_forms"] = split_forms(given["activity_forms"])
    rules.update(switch_rules(values, draft))
    fields: dict[str, Any] = {k: given[k][:200] for k in ("doc_number", "issuing_office", "title")}
    fields["doc_number"] = fields["doc_number"][:64]
    fields.update(starts_on=starts_on, ends_on=ends_on)
    return NoticeValues(fields, _rules(rules))


def _rules(rules: dict[str, Any]) -> CampaignRules:
    """The campaign's rules, a value the rules refuse (0 days, 0 people) named in the refusal."""
    try:
        return CampaignRules.model_validate(rules)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = str(first["loc"][0]) if first["loc"] else ""
        label = VALUE_LABELS.get(key, key)
        raise _refuse(
            "notice_value_invalid",
            f"{label}的值不可用（{rules.get(key, '')}）",
            f"{key or 'rules'}: {first['msg']}",
            field=key,
        ) from None


def _clashes(session: Session, values: Mapping[str, Any], district_id: int) -> list[Conflict]:
    """The district's campaigns the new one would clash with: its 文号, or a window overlapping
    its own or starting in its year (another district's campaigns are no clash)."""
    out: list[Conflict] = []
    doc = str(values.get("doc_number") or "")
    mine = select(Campaign).where(Campaign.district_id == district_id)
    if doc and session.exec(mine.where(Campaign.doc_number == doc)).first():
        out.append(
            Conflict(
                "campaign_exists",
                f"文号“{doc}”的活动已存在",
                f"a campaign with document number '{doc}' exists",
            )
        )
    try:
        starts_on = _date("starts_on", str(values.get("starts_on") or ""))
        ends_on = _date("ends_on", str(values.get("ends_on") or ""))
    except InvalidData:
        return out
    for other in session.exec(mine.order_by(col(Campaign.id))).all():
        overlaps = other.starts_on <= ends_on and starts_on <= other.ends_on
        if overlaps or other.starts_on.year == starts_on.year:
            out.append(_year_taken(other, starts_on.year))
            break
    return out


def _year_taken(other: Campaign, year: int) -> Conflict:
    return Conflict(
        "campaign_year_taken",
        f"{year}年已有活动“{other.doc_number}”（{other.starts_on} 至 {other.ends_on}），"
        "与本通知的活动时间重叠或同年",
        f"a campaign for {year} exists: '{other.doc_number}' ({other.starts_on} to "
        f"{other.ends_on}) overlaps this notice's window or starts in the same year",
        details={"campaign_id": other.id},
    )


def _plain(value: Any) -> Any:
    """A finding's value as the audit line's JSON holds it."""
    if isinstance(value, Fraction):
        return str(value)
    if isinstance(value, Switch):
        return {"days": value.days, "workdays": value.workdays, "mode": value.mode}
    if isinstance(value, Invitees):
        return {"min": value.minimum, "max": value.maximum, "wording": value.wording}
    return value


def create_from_notice(
    session: Session,
    actor: Actor,
    values: Mapping[str, Any],
    draft: NoticeDraft,
    now: datetime,
    source: dict[str, Any] | None = None,
    district_id: int | None = None,
) -> Campaign:
    """Create the campaign the supervisor confirmed; its audit line keeps the notice's sentences.

    Its district as for any new campaign (`campaigns.acting_for_new`): a district supervisor's
    own (another one named: 404 `district_not_found`); the one a city supervisor names (422
    `district_required` without one) and holds the grant of (403 `district_grant_required`).
    Refused (nothing written) for those, while a required value is blank, values contradict
    each other, or a campaign of the district exists with its 文号, its window or its year.
    """
    district_id, actor = campaigns.acting_for_new(session, actor, district_id)
    checked = checked_values(values, draft)
    clashes = _clashes(session, checked.fields, district_id)
    if clashes:
        raise clashes[0]
    fields = {**checked.fields, "district_id": district_id}
    campaign = campaigns.create(session, actor, fields, checked.rules, now)
    cited = {
        f.key: {"value": _plain(f.value), "where": f.where, "sentence": f.sentence}
        for f in [*draft.ordered(), *draft.switches()]
        if f.found
    }
    audit.record(
        session,
        actor,
        entity="campaign",
        entity_id=campaign.id,
        action="import_notice",
        now=now,
        after={"notice": cited, "source": source or {}},
    )
    return campaign


# --- the district ------------------------------------------------------------------------------


def district_of_preview(session: Session, actor: Actor, requested: int | None) -> int | None:
    """The district a preview looks for clashes in: a district's account's own (another one
    named: 404 `district_not_found`); at the city level the one named (404 for an unknown one),
    or None while none is named. Reading only: the grant is asked for at confirmation."""
    if actor.district_id is None and requested is None:
        return None
    return campaigns.known_district(session, district_of_new(actor, requested))


def district_choices(session: Session, actor: Actor) -> list[District]:
    """The districts the notice page offers for the new campaign: at the city level of a city
    of several districts, those the caller may act in (a city supervisor's granted ones); none
    for a district's account (its own goes without asking) or in a city of one district
    (:func:`implied_district`)."""
    if not asks_district(session, actor):
        return []
    return [d for d in districts.listed(session, actor) if can_act(actor, d.id)]


def asks_district(session: Session, actor: Actor) -> bool:
    """Whether the notice page asks which district the campaign is for (a city-level caller of
    a city of several districts)."""
    return actor.district_id is None and not districts.single(session)


def implied_district(session: Session, actor: Actor, chosen: int | None) -> int | None:
    """The district a page's new campaign names: the one chosen, else for a city-level caller
    of a city of one district that district (the page asks nothing there); None otherwise."""
    if chosen is not None or actor.district_id is not None or not districts.single(session):
        return chosen
    sole = districts.every(session)
    return sole[0].id if sole else None
