"""An event's history in words: each audit line of the transition log as one Chinese sentence
(who, what, when), for the pages and the API alike, and the latest return for rework as a
notice the clerk sees first.

Nothing here writes; the lines were written by the machine (workflows/kernel/machine.py), the
edits (workflows/event/service.record_edit), deadline recomputations and the overdue sweep.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, col, select

from models import Event, EventState, SpotCheck, TransitionLog, User
from workflows.accounts import districts
from workflows.accounts.districts import SOLE_OFFICE
from workflows.kernel.daywords import day_zh, moment_zh, span_zh
from workflows.kernel.visibility import SYSTEM, Actor

OFFICE = "\x00office\x00"  # where a sentence names the district office (`sentence` fills it)
CATEGORIES = {"npc_deputy": "人大代表", "cppcc_member": "政协委员", "citizen": "市民代表"}
SPOT_RESULTS = {"satisfactory": "合格", "needs_improvement": "需整改", "unsatisfactory": "不合格"}
FORMS = {
    "office_visit": "参观机关办公场所",
    "site_visit": "现场参观考察",
    "dialogue": "政民恳谈交流",
    "feedback": "意见反馈",
}
POSTS = {"principal": "主要负责人", "deputy": "分管负责人", "other": "其他"}
EVENT_FIELDS = {
    "theme": "活动主题",
    "location": "活动地点",
    "start_time": "开始时间",
    "end_time": "结束时间",
    "forms": "组织形式",
    "public_places": "公开报名名额",
}


def who_zh(name: str | None) -> str:
    """The operator: the system's own moves say 系统."""
    if not name or name == SYSTEM.name:
        return "系统"
    return name


def people_zh(people: Iterable[Any]) -> str:
    """Invitees as names: 张三（市民代表）、李四（人大代表）."""
    out = []
    for p in people:
        if isinstance(p, dict):
            category = CATEGORIES.get(str(p.get("category")), "")
            out.append(f"{p.get('name', '')}（{category}）" if category else str(p.get("name", "")))
        else:
            out.append(str(p))
    return "、".join(out)


def value_zh(key: str, value: Any) -> str:
    """One edited field's value in words."""
    if value is None or value == "" or value == []:
        return "（空）"
    if key == "forms" and isinstance(value, list):
        return "、".join(FORMS.get(str(v), str(v)) for v in value)
    if isinstance(value, bool):
        return "是" if value else "否"
    return str(value)


@dataclass(frozen=True)
class HistoryLine:
    """One line of the history: when, who, and the sentence (which names who did what)."""

    id: int | None
    at: datetime
    at_zh: str
    who: str
    sentence: str


Sayer = Callable[[str, dict[str, Any], TransitionLog], str]


def _create(who: str, d: dict[str, Any], line: TransitionLog) -> str:
    earliest, latest = d.get("earliest"), d.get("latest")
    when = day_zh(earliest) if earliest == latest else f"{day_zh(earliest)}至{day_zh(latest)}"
    text = f"{who}创建了活动，计划于{when}开展"
    if d.get("override_reason"):
        text += f"（督查人员补录，理由：{d['override_reason']}）"
    return text + "。"


def days_held_zh(first: Any, last: Any) -> str:
    """The day(s) held from stored ISO days: 2022年9月16日（星期五）, or 2022年9月15日至17日."""
    try:
        start, end = date.fromisoformat(str(first)), date.fromisoformat(str(last or first))
    except ValueError:
        return day_zh(first)
    return span_zh(start, end)


def forms_zh(forms: Iterable[Any]) -> str:
    """Forms held in words: 现场参观考察、政民恳谈交流."""
    return "、".join(FORMS.get(str(f), str(f)) for f in forms) or "（无）"


def met_by_zh(people: Iterable[Any]) -> str:
    """Who met the visitors: 王五（主要负责人）."""
    out = [
        f"{p.get('name', '')}（{POSTS.get(str(p.get('post')), '其他')}）"
        for p in people
        if isinstance(p, dict)
    ]
    return "、".join(out) or "（未登记）"


def _hold(who: str, d: dict[str, Any], line: TransitionLog) -> str:
    text = f"{who}记录活动于{days_held_zh(d.get('held_on'), d.get('held_until'))}开展"
    if d.get("forms_held"):
        text += f"，开展形式：{forms_zh(d['forms_held'])}"
    if "met_by" in d:
        text += f"，与开放对象面对面沟通：{met_by_zh(d['met_by'])}"
    if "attendees" in d:
        text += f"，出席 {d['attendees']} 人"
    late = d.get("late_days") or 0
    if late:
        text += f"，比计划最晚日期晚 {late} 天"
    if d.get("summary_due_on"):
        text += f"；总结应于{day_zh(d['summary_due_on'])}前报送"
    return text + "。"


def _collect(who: str, d: dict[str, Any], line: TransitionLog) -> str:
    if d.get("no_opinions") and not d.get("feedback_items"):
        text = f"{who}确认意见建议收集完毕：本次活动未收到意见建议"
    else:
        text = f"{who}确认意见建议收集完毕，共 {d.get('feedback_items', 0)} 条"
    dues = [day_zh(a.get("due_on")) for a in d.get("answer_due") or [] if isinstance(a, dict)]
    if dues:
        text += f"，应于{'、'.join(dues)}前答复"
    if d.get("statement"):
        text += f"；说明：{d['statement']}"
    return text + "。"


def _submit(who: str, d: dict[str, Any], line: TransitionLog) -> str:
    text = f"{who}向{OFFICE}报送了总结"
    if "attachments" in d:
        text += f"，附照片或文件 {d['attachments']} 个"
    if d.get("late_seconds"):
        text += "（逾期报送）"
    return text + "。"


def _spot(who: str, d: dict[str, Any], line: TransitionLog) -> str:
    result = SPOT_RESULTS.get(str(d.get("result")), "已记录")
    text = f"{who}记录第 {d.get('round', 1)} 轮抽查结果：{result}"
    if d.get("site_visit"):
        text += "（已现场走访）"
    return text + "。"


def _rework(who: str, d: dict[str, Any], line: TransitionLog) -> str:
    reasons = "；".join(str(r).rstrip("。；;") for r in d.get("reasons") or [])
    text = f"{who}退回总结整改（第 {d.get('round', 2)} 轮报送）"
    if reasons:
        text += f"，理由：{reasons}"
    if d.get("summary_due_on"):
        text += f"；请于{day_zh(d['summary_due_on'])}前重新报送"
    return text + "。"


def _reschedule(who: str, d: dict[str, Any], line: TransitionLog) -> str:
    def window(a: Any, b: Any) -> str:
        return day_zh(a) if a == b else f"{day_zh(a)}至{day_zh(b)}"

    old = window(d.get("old_earliest"), d.get("old_latest"))
    new = window(d.get("new_earliest"), d.get("new_latest"))
    return f"{who}将活动由{old}改期至{new}。"


def _cancel(who: str, d: dict[str, Any], line: TransitionLog) -> str:
    if d.get("direct", True):  # a supervisor's own cancellation (and every line before 0028)
        text = f"{who}取消了活动"
    else:
        text = f"{who}批准了{who_zh(d.get('requested_by'))}的取消申请"
        if line.reason:
            text += f"（申请理由：{line.reason.strip().rstrip('。')}）"
        text += "，活动已取消"
    if d.get("note"):
        text += f"；审批意见：{str(d['note']).rstrip('。')}"
    if d.get("exempt"):
        text += f"；经批准不计扣分，理由：{str(d.get('exempt_reason') or '').rstrip('。')}"
    return text + "。"


def _cancel_exempt(who: str, d: dict[str, Any], line: TransitionLog) -> str:
    if d.get("exempt"):
        return f"{who}将已批准的取消标记为不计扣分。"
    return f"{who}撤销了取消的不计扣分标记，按未开展计扣分。"


def _recompute(who: str, d: dict[str, Any], line: TransitionLog) -> str:
    item = f"意见 {line.feedback_item_id} 的" if line.feedback_item_id else ""
    old, new = day_zh(d.get("old_due_on")) or "未定", day_zh(d.get("new_due_on")) or "未定"
    return f"工作日数据更新，{item}答复期限由{old}改为{new}。"


def _edit_event(who: str, d: dict[str, Any], line: TransitionLog) -> str:
    before, after = d.get("before") or {}, d.get("after") or {}
    parts = [
        f"{EVENT_FIELDS.get(k, '其他信息')}由“{value_zh(k, before.get(k))}”改为“{value_zh(k, v)}”"
        for k, v in after.items()
    ]
    return f"{who}修改了活动信息：{'；'.join(parts)}。" if parts else f"{who}修改了活动信息。"


def _edit_invitees(who: str, d: dict[str, Any], line: TransitionLog) -> str:
    if d.get("added"):
        return f"{who}添加了受邀人员：{people_zh(d['added'])}。"
    if d.get("removed"):
        return f"{who}从受邀名单中移除了：{people_zh(d['removed'])}。"
    return f"{who}修改了受邀名单。"


def _edit_invitee(who: str, d: dict[str, Any], line: TransitionLog) -> str:
    after = d.get("after") or {}
    return f"{who}修改了受邀人员{after.get('name', '')}的信息。"


def _edit_attendance(who: str, d: dict[str, Any], line: TransitionLog) -> str:
    parts = []
    if d.get("now_attended"):
        parts.append(f"{people_zh(d['now_attended'])}改为出席")
    if d.get("now_absent"):
        parts.append(f"{people_zh(d['now_absent'])}改为未出席")
    text = f"{who}{_approved(d)}更正了出席情况：{'，'.join(parts) or '无变化'}"
    if "attendees" in d:
        text += f"，现出席 {d['attendees']} 人"
    return text + "。"


def _hold_record_zh(record: dict[str, Any]) -> dict[str, str]:
    return {
        "held_on": days_held_zh(record.get("held_on"), record.get("held_until")),
        "forms_held": forms_zh(record.get("forms_held") or []),
        "met_by": met_by_zh(record.get("met_by") or []),
    }


HOLD_PARTS = {"held_on": "开展日期", "forms_held": "开展形式", "met_by": "面对面沟通的负责人"}


def _approved(d: dict[str, Any]) -> str:
    if not d.get("request_id"):
        return ""
    return f"（批准{d.get('requested_by') or '经办人'}的更正申请）"


def _edit_hold(who: str, d: dict[str, Any], line: TransitionLog) -> str:
    before = _hold_record_zh(d.get("before") or {})
    after = _hold_record_zh(d.get("after") or {})
    parts = [
        f"{label}由“{before[key]}”改为“{after[key]}”"
        for key, label in HOLD_PARTS.items()
        if before[key] != after[key]
    ]
    text = f"{who}{_approved(d)}更正了开展情况：{'；'.join(parts) or '无变化'}"
    if d.get("summary_due_on"):
        text += f"；总结报送期限改为{day_zh(d['summary_due_on'])}"
    return text + "。"


def _edit_hold_invitees(who: str, d: dict[str, Any], line: TransitionLog) -> str:
    parts = []
    for c in d.get("changed") or []:
        parts.append(f"{people_zh([c.get('before', {})])}改为{people_zh([c.get('after', {})])}")
    if d.get("added"):
        parts.append(f"补充{people_zh(d['added'])}")
    if d.get("removed"):
        parts.append(f"移出{people_zh(d['removed'])}")
    text = f"{who}{_approved(d)}更正了受邀名单：{'；'.join(parts) or '无变化'}"
    if "attendees" in d:
        text += f"，现出席 {d['attendees']} 人"
    return text + "。"


REQUEST_KINDS = {
    "attendance": "出席情况",
    "hold": "开展情况",
    "invitees": "受邀名单",
    "answer": "答复",
}


def _request(who: str, d: dict[str, Any], line: TransitionLog) -> str:
    kind = REQUEST_KINDS.get(str(d.get("kind")), "记录")
    return f"{who}提交了{kind}更正申请（第 {d.get('request_id', '')} 号），等待{OFFICE}审批。"


def _request_refused(who: str, d: dict[str, Any], line: TransitionLog) -> str:
    kind = REQUEST_KINDS.get(str(d.get("kind")), "记录")
    text = f"{who}未批准{kind}更正申请（第 {d.get('request_id', '')} 号）"
    if d.get("note"):
        text += f"，说明：{str(d['note']).rstrip('。')}"
    return text + "。"


def _edit_attachment(who: str, d: dict[str, Any], line: TransitionLog) -> str:
    name = d.get("filename", "")
    if d.get("removed"):
        return f"{who}删除了总结的照片或文件“{name}”。"
    return f"{who}上传了总结的照片或文件“{name}”。"


def _edit_summary(who: str, d: dict[str, Any], line: TransitionLog) -> str:
    return f"{who}保存了总结草稿（{d.get('characters', 0)} 字）。"


def _edit_feedback(who: str, d: dict[str, Any], line: TransitionLog) -> str:
    if d.get("late"):
        text = (
            f"{who}在意见收集完毕后补充登记了一条意见建议（意见 {d.get('added', '')}），"
            f"收到日期为{day_zh(d.get('received_on'))}"
        )
        if d.get("due_on"):
            text += f"，应于{day_zh(d['due_on'])}前答复"
        return text + "。"
    return f"{who}登记了一条意见建议（意见 {d.get('added', '')}）。"


def _item(line: TransitionLog) -> str:
    return f"意见 {line.feedback_item_id}" if line.feedback_item_id else "意见"


def _assign(who: str, d: dict[str, Any], line: TransitionLog) -> str:
    return f"{who}将{_item(line)}交办给{d.get('assignee') or '承办人'}。"


def _answer(who: str, d: dict[str, Any], line: TransitionLog) -> str:
    late = d.get("late_workdays") or 0
    text = f"{who}答复了{_item(line)}"
    if d.get("backdated"):
        text = (
            f"{who}于{moment_zh(line.at)}补录了{_item(line)}的答复，"
            f"答复日期为{day_zh(d.get('answered_on'))}"
        )
    text += f"（逾期 {late} 个工作日）" if late else ("（按时答复）" if d.get("backdated") else "")
    return text + "。"


def _rect_issue(who: str, d: dict[str, Any], line: TransitionLog) -> str:
    text = f"{who}就第 {d.get('check_round', 1)} 轮抽查下发整改通知"
    if d.get("notice"):
        text += f"，整改要求：{str(d['notice']).rstrip('。')}"
    return text + f"；请于{day_zh(d.get('due_on'))}前报送整改情况。"


def _rect_report(who: str, d: dict[str, Any], line: TransitionLog) -> str:
    text = f"{who}报送了整改情况"
    if d.get("files"):
        text += f"，附材料 {d['files']} 个"
    if d.get("late"):
        text += f"（逾期：应于{day_zh(d.get('due_on'))}前报送）"
    return text + "。"


def _rect_back(who: str, d: dict[str, Any], line: TransitionLog) -> str:
    reasons = str(d.get("reasons") or "").rstrip("。")
    text = f"{who}退回了整改情况（第 {d.get('round', 2)} 次整改）"
    if reasons:
        text += f"，理由：{reasons}"
    return text + f"；请于{day_zh(d.get('due_on'))}前重新报送。"


def _correct_answer(who: str, d: dict[str, Any], line: TransitionLog) -> str:
    before, after = d.get("before") or {}, d.get("after") or {}
    parts = []
    if before.get("answered_on") != after.get("answered_on"):
        parts.append(
            f"答复日期由{day_zh(before.get('answered_on'))}改为{day_zh(after.get('answered_on'))}"
        )
    if before.get("answer") != after.get("answer"):
        parts.append(f"答复内容改为“{after.get('answer') or ''}”")
    late = d.get("late_workdays") or 0
    text = f"{who}{_approved(d)}更正了{_item(line)}的答复：{'，'.join(parts) or '无变化'}"
    if "answered_on" in after and before.get("answered_on") != after.get("answered_on"):
        text += f"，现逾期 {late} 个工作日" if late else "，现按时答复"
    return text + "。"


SAYERS: dict[str, Sayer] = {
    "rectification.issue": _rect_issue,
    "rectification.report": _rect_report,
    "rectification.close": lambda who, d, line: f"{who}审核通过整改情况，整改通知已销号。",
    "rectification.send_back": _rect_back,
    "create": _create,
    "invite": lambda who, d, line: f"{who}发出了邀请。",
    "hold": _hold,
    "collect_feedback": _collect,
    "submit_summary": _submit,
    "spot_check": _spot,
    "return_for_rework": _rework,
    "reschedule": _reschedule,
    "cancel": _cancel,
    "cancel_request": lambda who, d, line: f"{who}申请取消活动，待{OFFICE}审批。",
    "cancel_refused": lambda who, d, line: (
        f"{who}不予批准{who_zh(d.get('requested_by'))}的取消申请，活动照常进行。"
    ),
    "cancel_exempt": _cancel_exempt,
    # Filings before the day (workflows/filing/): the plan, the announcement, the 公示.
    "plan_submit": lambda who, d, line: (
        f"{who}报送活动方案（第 {d.get('round', 1)} 次），待{OFFICE}审核。"
    ),
    "plan_approve": lambda who, d, line: f"{who}审核通过活动方案。",
    "plan_return": lambda who, d, line: f"{who}退回活动方案修改。",
    "announcement_publish": lambda who, d, line: (
        f"{who}发布公开邀请公告（报名方式：{d.get('how_to_register', '')}）。"
    ),
    "representatives_publish": lambda who, d, line: (
        f"{who}公示市民代表名单（{d.get('count', 0)} 人）。"
    ),
    "recompute_deadline": _recompute,
    "edit.event": _edit_event,
    "edit.invitees": _edit_invitees,
    "edit.invitee": _edit_invitee,
    "edit.attendance": _edit_attendance,
    "edit.hold": _edit_hold,
    "edit.hold_invitees": _edit_hold_invitees,
    "edit.correction_request": _request,
    "edit.correction_refused": _request_refused,
    "edit.attachment": _edit_attachment,
    "edit.summary": _edit_summary,
    "edit.feedback": _edit_feedback,
    "feedback.assign": _assign,
    "feedback.answer": _answer,
    "feedback.correct_answer": _correct_answer,
    "feedback.close": lambda who, d, line: f"{who}办结了{_item(line)}。",
    "feedback.mark_overdue": lambda who, d, line: f"{_item(line)}已超过答复期限，标记为逾期。",
    "feedback.extend": lambda who, d, line: f"{_item(line)}的延期申请已批准，答复期限延后。",
    "feedback.reopen": lambda who, d, line: f"提出人对{_item(line)}的答复不满意，转回重新办理。",
    "feedback.restore": lambda who, d, line: f"{_item(line)}的申诉成立，恢复原答复。",
    "feedback.sign": lambda who, d, line: (
        f"{who}代表{d.get('unit', '本单位')}签收了{_item(line)}"
        + ("（超过签收期限）。" if d.get("late") else "。")
    ),
    "feedback.transfer": lambda who, d, line: (
        f"{who}将{_item(line)}由{d.get('from_unit', '')}转办至{d.get('to_unit', '')}。"
    ),
    "feedback.transfer_back": lambda who, d, line: (
        f"{who}代表{d.get('to_unit', '')}将{_item(line)}退回{d.get('from_unit', '')}，"
        f"待{OFFICE}裁定。"
    ),
    "feedback.transfer_decide": lambda who, d, line: (
        f"{who}裁定{_item(line)}由{d.get('unit', '')}办理"
        + (f"，答复期限延至{d['new_due_on']}。" if d.get("new_due_on") else "。")
    ),
}


# Lines whose sentence says the reason itself (or has none to say).
_REASON_SAID = frozenset({"recompute_deadline"})


def _approval(line: TransitionLog) -> bool:
    """An approved cancellation request: its reason is the requester's, said as such."""
    return line.trigger == "cancel" and not (line.data or {}).get("direct", True)


def sentence(line: TransitionLog, who: str | None = None, office: str = SOLE_OFFICE) -> str:
    """One audit line as a Chinese sentence naming who did what (and why, when a reason was
    given); a kind of line not known here still reads as words, never as its code. `who` is
    the person's display name when known (else the account name the line keeps); `office` the
    event's district office as running text names it (districts.office_words)."""
    who = who or who_zh(line.actor_name)
    data = line.data or {}
    say = SAYERS.get(line.trigger)
    text = say(who, data, line) if say else f"{who}修改了活动记录。"
    text = text.replace(OFFICE, office)  # before the reason: a person's words stay as typed
    if line.reason and line.trigger not in _REASON_SAID and not _approval(line):
        text = text.rstrip("。") + f"。理由：{line.reason.strip().rstrip('。')}。"
    badges = [str(f.get("badge", "")) for f in data.get("flags") or [] if isinstance(f, dict)]
    if badges:
        text += f"已照常登记并标记偏差：{'、'.join(badges)}。"
    return text


def present(
    lines: Iterable[TransitionLog], names: dict[int, str] | None = None, office: str = SOLE_OFFICE
) -> list[HistoryLine]:
    """The history as sentences, oldest first, a line repeated at the same minute shown once;
    `names` gives accounts' display names by id, `office` the event's district office."""
    out: list[HistoryLine] = []
    seen: set[tuple[str, str]] = set()
    for line in lines:
        words = in_words(line, names, office)
        if (words.at_zh, words.sentence) in seen:
            continue
        seen.add((words.at_zh, words.sentence))
        out.append(words)
    return out


def in_words(
    line: TransitionLog, names: dict[int, str] | None = None, office: str = SOLE_OFFICE
) -> HistoryLine:
    """One audit line in words: its time, who (display name by id from `names`), the sentence."""
    who = (names or {}).get(line.actor_id or 0) or who_zh(line.actor_name)
    return HistoryLine(line.id, line.at, moment_zh(line.at), who, sentence(line, who, office))


def display_names(session: Session, lines: Iterable[TransitionLog]) -> dict[int, str]:
    """The display names of the accounts that wrote `lines`."""
    ids = {line.actor_id for line in lines if line.actor_id}
    if not ids:
        return {}
    users = session.exec(select(User).where(col(User.id).in_(ids))).all()
    return {u.id: u.display_name for u in users if u.id and u.display_name}


def names_for_move(session: Session, entry: TransitionLog, actor: Actor) -> dict[int, str]:
    """display_names of a move's own audit line: the mover's name as read with their token,
    when it was (no second query of the account on the move's path)."""
    if actor.display_name is not None and actor.id is not None and entry.actor_id == actor.id:
        return {actor.id: actor.display_name} if actor.display_name else {}
    return display_names(session, [entry])


def of_event(session: Session, event_id: int) -> list[HistoryLine]:
    """An event's whole history in words."""
    lines = session.exec(
        select(TransitionLog)
        .where(TransitionLog.event_id == event_id)
        .order_by(col(TransitionLog.id))
    ).all()
    return present(lines, display_names(session, lines), event_office(session, event_id))


@dataclass(frozen=True)
class Returned:
    """A summary sent back for rework and not yet resubmitted: why, and by when."""

    event_id: int
    reasons: list[str]
    due_on: date | None
    round: int
    at: datetime

    @property
    def reasons_zh(self) -> str:
        """The reasons as sentences: 照片无拍摄日期。请补充活动现场照片。"""
        return "".join(r.rstrip("。；;") + "。" for r in self.reasons)

    @property
    def due_zh(self) -> str:
        """2026年12月9日（星期三）."""
        return day_zh(self.due_on)


def returned(session: Session, events: Iterable[Any]) -> dict[int, Returned]:
    """For each event whose summary came back and waits to be resubmitted, the latest return."""
    waiting = [e.id for e in events if e.state == EventState.feedback_collected and e.id]
    if not waiting:
        return {}
    rows = session.exec(
        select(TransitionLog)
        .where(
            col(TransitionLog.event_id).in_(waiting),
            col(TransitionLog.trigger).in_(["return_for_rework", "submit_summary"]),
        )
        .order_by(col(TransitionLog.id))
    ).all()
    latest: dict[int, TransitionLog] = {}
    for row in rows:
        latest[row.event_id] = row
    out = {}
    for event_id, row in latest.items():
        if row.trigger != "return_for_rework":
            continue
        d = row.data or {}
        due = d.get("summary_due_on")
        out[event_id] = Returned(
            event_id,
            [str(r) for r in d.get("reasons") or []],
            date.fromisoformat(due) if due else None,
            int(d.get("round") or 2),
            row.at,
        )
    return out


@dataclass(frozen=True)
class SpotRound:
    """One round of the district office's spot check, as the event's people read it."""

    round: int
    result: str
    result_zh: str
    notes: str
    site_visit: bool
    who: str
    at: datetime
    at_zh: str
    id: int | None = None  # the spot check's id (a rectification names it)


def spot_rounds(session: Session, event_id: int) -> list[SpotRound]:
    """Every spot check of an event, first round first, with who checked and when."""
    rows = session.exec(
        select(SpotCheck, User)
        .join(User, col(User.id) == SpotCheck.checked_by, isouter=True)
        .where(SpotCheck.event_id == event_id)
        .order_by(col(SpotCheck.round), col(SpotCheck.id))
    ).all()
    return [
        SpotRound(
            check.round,
            check.result,
            SPOT_RESULTS.get(check.result, "已记录"),
            check.notes,
            check.site_visit,
            (user.display_name or user.username) if user else "系统",
            check.checked_at,
            moment_zh(check.checked_at),
            check.id,
        )
        for check, user in rows
    ]


def reworks(session: Session, event_id: int) -> list[HistoryLine]:
    """Every return for rework of an event, as sentences (reasons and the new due day)."""
    lines = session.exec(
        select(TransitionLog)
        .where(TransitionLog.event_id == event_id, TransitionLog.trigger == "return_for_rework")
        .order_by(col(TransitionLog.id))
    ).all()
    return present(lines, display_names(session, lines), event_office(session, event_id))


def event_office(session: Session, event_id: int) -> str:
    """The event's district office as its history names it (districts.office_words)."""
    event = session.get(Event, event_id)
    return districts.unit_office_words(session, event.unit_id) if event else SOLE_OFFICE
