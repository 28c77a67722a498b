"""What was held (issue 25): the days held, the forms actually held and who met the visitors.

The hold records them (prepare: `record`), its guards check them (`held_days_in_order`,
`forms_held_recorded`, `leader_met_visitors`), and a correction of the hold runs the same guards
on the corrected record (workflows/event/corrections.py). Lateness counts from the first day
held (`held_on`); the summary's clock from the last (`held_until`).

五、组织形式 lists four forms; at least one must have been held. 五（三）asks that 主要负责人或
分管负责人主动与开放对象进行面对面沟通交流: a hold where neither met the visitors is refused or
flagged by the campaign's `leader_mode`.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from models import Event, EventForm, LeaderPost
from workflows.campaign.notice_import import form_of
from workflows.event.moves import Move, held_day
from workflows.kernel.daywords import day_zh, span_zh

FORM_LABELS_ZH: dict[str, str] = {
    EventForm.office_visit: "参观机关办公场所",
    EventForm.site_visit: "现场参观考察",
    EventForm.dialogue: "政民恳谈交流",
    EventForm.feedback: "意见反馈",
}
POST_LABELS_ZH: dict[str, str] = {
    LeaderPost.principal: "主要负责人",
    LeaderPost.deputy: "分管负责人",
    LeaderPost.other: "其他",
}
LEADERS = (LeaderPost.principal, LeaderPost.deputy)


def forms_in_order(forms: list[Any]) -> list[str]:
    """The forms given, each once, in the notice's order."""
    given = {str(getattr(f, "value", f)) for f in forms}
    return [f.value for f in EventForm if f.value in given]


def people(met_by: list[Any]) -> list[dict[str, str]]:
    """Who met the visitors as stored: [{"name", "post"}]."""
    out = []
    for person in met_by:
        raw = person if isinstance(person, dict) else person.model_dump()
        out.append(
            {
                "name": str(raw["name"]).strip(),
                "post": str(getattr(raw["post"], "value", raw["post"])),
            }
        )
    return out


def record(move: Move) -> None:
    """prepare(hold): the days, forms and people given with the move, before the guards look."""
    event, data = move.event, move.data
    event.held_on = held_day(move)
    event.held_until = data.held_until or event.held_on
    event.forms_held = forms_in_order(data.forms_held)
    event.met_by = people(data.met_by)


def held_days_in_order(move: Move) -> None:
    """hold and its corrections: the last day held is not before the first, nor in the future."""
    first, last = move.event.held_on, move.event.held_until
    if first is None or last is None:
        return
    if last < first:
        move.refuse(
            "held_until_before_held_on",
            f"最后开展日期（{day_zh(last)}）早于开始开展日期（{day_zh(first)}）",
            f"the last day held {last.isoformat()} is before the first {first.isoformat()}",
            status=422,
            held_on=first.isoformat(),
            held_until=last.isoformat(),
        )
    elif last > move.today:
        move.refuse(
            "held_until_in_future",
            f"最后开展日期（{day_zh(last)}）晚于今天，不能预先登记",
            f"the last day held {last.isoformat()} is after today ({move.today.isoformat()})",
            status=422,
            held_until=last.isoformat(),
            today=move.today.isoformat(),
        )


def forms_held_recorded(move: Move) -> None:
    """hold and its corrections: at least one of the notice's four forms was held."""
    if not move.event.forms_held:
        move.refuse(
            "forms_held_missing",
            "实际开展形式：请至少选择一项（参观机关办公场所、现场参观考察、政民恳谈交流、意见反馈）",
            "forms_held: give at least one form held "
            "(office_visit, site_visit, dialogue, feedback)",
            status=422,
        )


def forms_in_notice(move: Move) -> None:
    """hold and its corrections: each form held is one the campaign's notice lists (its
    `activity_forms`, each name standing for one of the four forms); a form outside them is
    flagged (or refused) by `forms_mode` — record what happened (issue 30)."""
    names = move.rules.activity_forms
    if not names:
        return
    covered = {form_of(name) for name in names}
    outside = [f for f in move.event.forms_held or [] if f not in covered]
    if not outside:
        return
    held = "、".join(FORM_LABELS_ZH.get(f, f) for f in outside)
    move.deviate(
        "forms",
        "hold",
        "组织形式不在通知所列范围",
        "form_outside_notice",
        f"实际开展形式“{held}”不在本次活动通知所列的组织形式（{'、'.join(names)}）之内",
        f"forms held {', '.join(outside)} are not among the notice's forms of activity",
        outside=outside,
        activity_forms=names,
    )


def leader_met_visitors(move: Move) -> None:
    """hold and its corrections: the principal or the deputy head met the visitors (refused or
    flagged by the campaign's `leader_mode`)."""
    met = move.event.met_by or []
    if any(p.get("post") in LEADERS for p in met):
        return
    names = "、".join(f"{p['name']}（{POST_LABELS_ZH.get(p['post'], p['post'])}）" for p in met)
    move.deviate(
        "leader",
        "hold",
        "无主要或分管负责人出面",
        "leader_absent",
        "与开放对象面对面沟通的人员中没有主要负责人或分管负责人"
        + (f"（登记的是：{names}）" if names else "（未登记）"),
        "neither the principal nor the deputy head met the visitors",
        met_by=met,
    )


def days_zh(first: date | None, last: date | None) -> str:
    """The day(s) held in words: 2022年9月16日（星期五）, or 2022年9月15日至17日."""
    if first is None:
        return ""
    if last is None or last == first:
        return day_zh(first)
    return span_zh(first, last)


def summary_of_event(event: Event) -> dict[str, Any]:
    """What the hold recorded, for pages and history: days, forms and people in words."""
    return {
        "days": days_zh(event.held_on, event.held_until),
        "forms": "、".join(FORM_LABELS_ZH.get(f, f) for f in event.forms_held or []),
        "met_by": "、".join(
            f"{p['name']}（{POST_LABELS_ZH.get(p['post'], p['post'])}）" for p in event.met_by or []
        ),
    }
