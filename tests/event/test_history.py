"""The history in words: every kind of audit line the workflows write reads as a Chinese
sentence naming who did what and when, with no codes, no repr and no raw field names."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from models import TransitionLog
from workflows.event import history
from workflows.event import machine as event_machine
from workflows.feedback import machine as feedback_flow

ROOT = Path(__file__).resolve().parents[2]
AT = datetime(2022, 9, 16, 6, 30, tzinfo=UTC)  # 14:30 in Shanghai

# One line per kind, with the data the workflows write for it (workflows/event/moves.py,
# service.py, invitees.py, summary.py, feedback/machine.py, workdays/deadlines.py).
PERSON = {
    "id": 7,
    "name": "张三",
    "category": "npc_deputy",
    "invitation": None,
    "invited": True,
    "attended": None,
}
CITIZEN = {
    "id": 8,
    "name": "李四",
    "category": "citizen",
    "invitation": "public",
    "invited": True,
    "attended": True,
}
SAMPLES: dict[str, dict[str, Any]] = {
    "create": {"earliest": "2022-09-16", "latest": "2022-09-16"},
    "invite": {},
    "hold": {
        "held_on": "2022-09-16",
        "recorded_on": "2026-12-06",
        "late_days": 1542,
        "attendees": 14,
        "summary_due_on": "2022-09-23",
    },
    "collect_feedback": {
        "feedback_items": 0,
        "no_opinions": False,
        "answer_due": [{"due_on": "2022-10-12", "provisional": False}],
    },
    "submit_summary": {"late_seconds": 0, "attachments": 2},
    "spot_check": {"result": "needs_improvement", "site_visit": True, "round": 1},
    "return_for_rework": {
        "reasons": ["照片无拍摄日期", "请补充活动现场照片。"],
        "summary_due_on": "2026-12-09",
        "round": 2,
    },
    "reschedule": {
        "old_earliest": "2022-09-16",
        "old_latest": "2022-09-16",
        "new_earliest": "2022-09-20",
        "new_latest": "2022-09-22",
    },
    "cancel": {},
    "recompute_deadline": {
        "old_due_on": "2022-10-12",
        "new_due_on": "2022-10-13",
        "was_provisional": True,
        "provisional": False,
    },
    "edit.event": {
        "before": {"location": None, "forms": ["dialogue"]},
        "after": {"location": "某小区", "forms": ["dialogue", "site_visit"]},
    },
    "edit.invitees": {"added": [PERSON, CITIZEN]},
    "edit.invitee": {"before": PERSON, "after": {**PERSON, "name": "张三丰"}},
    "edit.attendance": {"now_attended": [PERSON], "now_absent": [CITIZEN], "attendees": 13},
    "edit.hold": {
        "before": {
            "held_on": "2022-09-16",
            "held_until": "2022-09-16",
            "forms_held": ["dialogue"],
            "met_by": [],
        },
        "after": {
            "held_on": "2022-09-15",
            "held_until": "2022-09-17",
            "forms_held": ["site_visit", "dialogue"],
            "met_by": [{"name": "王局长", "post": "principal"}],
        },
        "summary_due_on": "2022-09-20",
        "request_id": 3,
        "requested_by": "李经办",
    },  # fmt: skip
    "edit.hold_invitees": {
        "changed": [{"before": PERSON, "after": {**PERSON, "name": "张叁"}}],
        "added": [CITIZEN],
        "removed": [],
        "attendees": 15,
    },
    "edit.correction_request": {"request_id": 3, "kind": "hold"},
    "edit.correction_refused": {"request_id": 3, "kind": "attendance", "note": "签到表不支持"},
    "edit.attachment": {"added": 3, "filename": "现场1.jpg", "size": 1024},
    "edit.summary": {"characters": 120},
    "edit.feedback": {"added": 5},
    "feedback.assign": {"assignee": "王科长"},
    "feedback.answer": {"late_workdays": 3, "late_seconds": 200000},
    "feedback.correct_answer": {
        "before": {"answer": "已修复", "answered_on": "2022-10-17"},
        "after": {"answer": "已修复并回访", "answered_on": "2022-10-11"},
        "late_workdays": 0,
        "answered_on": "2022-10-11",
        "backdated": True,
        "entered_by": "王经办",
        "entered_at": "2022-10-19T08:00:00+00:00",
    },
    "feedback.close": {},
    "feedback.mark_overdue": {},
    "feedback.extend": {},
    "feedback.reopen": {},
    "feedback.restore": {},
}
# What a sentence may never show: field names, enum values, Python reprs, the system account.
FORBIDDEN = re.compile(r"[A-Za-z_]{3,}|[{}\[\]'\"]|True|False|None")


def line(trigger: str, data: dict[str, Any], **extra: Any) -> TransitionLog:
    """An audit line as the workflows write it (not stored)."""
    return TransitionLog(
        id=1,
        event_id=1,
        trigger=trigger,
        from_state="invited",
        to_state="held",
        version=2,
        actor_name=extra.pop("actor_name", "王经办"),
        at=AT,
        data=data,
        **extra,
    )


def edits_written() -> set[str]:
    """Every `edit.<what>` the workflows write through record_edit."""
    found = set()
    for path in (ROOT / "workflows").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        found |= set(re.findall(r'record_edit\(\s*\w+,\s*[\w.]+,\s*"(\w+)"', text))
    return {f"edit.{what}" for what in found}


def test_every_kind_of_line_the_workflows_write_has_a_sentence() -> None:
    """Moves of both machines, every record_edit, creation and recomputation are all known."""
    kinds = {"create", "recompute_deadline", *event_machine.TRIGGERS}
    kinds |= {"feedback." + t for t in feedback_flow.TRIGGERS}
    kinds |= edits_written()
    assert "edit.invitees" in kinds and "edit.summary" in kinds
    assert kinds <= set(history.SAYERS), kinds - set(history.SAYERS)
    assert kinds <= set(SAMPLES), kinds - set(SAMPLES)


@pytest.mark.parametrize("trigger", sorted(SAMPLES))
def test_each_line_reads_as_a_chinese_sentence(trigger: str) -> None:
    """No codes, no repr, no field names; it ends as a sentence and names who acted."""
    said = history.sentence(line(trigger, SAMPLES[trigger], feedback_item_id=5))
    assert said.endswith("。"), said
    assert not FORBIDDEN.search(re.sub("“[^”]*”", "", said)), said  # a file's own name may
    system = ("recompute", "feedback.mark", "feedback.extend", "feedback.reopen",
              "feedback.restore")  # fmt: skip
    if not trigger.startswith(system):
        assert said.startswith("王经办"), said


def test_hold_corrections_and_requests_say_what_changed() -> None:
    """A corrected hold names each part before and after, the request it applies and who
    asked; the invitee list's corrections name people."""
    say = history.sentence
    assert say(line("edit.hold", SAMPLES["edit.hold"])) == (
        "王经办（批准李经办的更正申请）更正了开展情况："
        "开展日期由“2022年9月16日（星期五）”改为“2022年9月15日至17日”；"
        "开展形式由“政民恳谈交流”改为“现场参观考察、政民恳谈交流”；"
        "面对面沟通的负责人由“（未登记）”改为“王局长（主要负责人）”；"
        "总结报送期限改为2022年9月20日（星期二）。"
    )
    invitees = say(line("edit.hold_invitees", SAMPLES["edit.hold_invitees"]))
    assert invitees == (
        "王经办更正了受邀名单：张三（人大代表）改为张叁（人大代表）；补充李四（市民代表），"
        "现出席 15 人。"
    )
    refused = say(line("edit.correction_refused", SAMPLES["edit.correction_refused"]))
    assert refused == "王经办未批准出席情况更正申请（第 3 号），说明：签到表不支持。"


def test_key_lines_say_what_happened() -> None:
    """Invitees as names, attendance and days in words, reasons as sentences."""
    say = history.sentence
    assert say(line("edit.invitees", SAMPLES["edit.invitees"])) == (
        "王经办添加了受邀人员：张三（人大代表）、李四（市民代表）。"
    )
    held = say(line("hold", SAMPLES["hold"]))
    assert "2022年9月16日（星期五）开展，出席 14 人" in held and "晚 1542 天" in held
    assert "late_days" not in held
    rework = say(line("return_for_rework", SAMPLES["return_for_rework"]))
    assert "理由：照片无拍摄日期；请补充活动现场照片" in rework
    assert "请于2026年12月9日（星期三）前重新报送" in rework
    assert say(line("cancel", {}, reason="场地不可用")) == "王经办取消了活动。理由：场地不可用。"
    flagged = {
        **SAMPLES["hold"],
        "flags": [{"rule": "citizen_share", "badge": "市民代表比例不足（2/10）"}],
    }
    assert say(line("hold", flagged)).endswith("已照常登记并标记偏差：市民代表比例不足（2/10）。")


def test_system_operator_time_on_one_line_and_no_line_twice() -> None:
    """`system` reads 系统; the time is 2022年9月16日（星期五）14:30; a repeated line shows once."""
    overdue = line("feedback.mark_overdue", {}, actor_name="system", feedback_item_id=3)
    lines = history.present([overdue, overdue, line("invite", {}, actor_name="system")])
    assert len(lines) == 2
    assert lines[0].at_zh == "2022年9月16日（星期五）14:30"
    assert lines[1].sentence == "系统发出了邀请。"
    assert "system" not in " ".join(x.sentence for x in lines)


def test_an_unknown_kind_still_reads_as_words() -> None:
    """A line written by a future workflow is never shown as its code."""
    said = history.sentence(line("edit.something_new", {"x": 1}))
    assert not FORBIDDEN.search(said), said


def test_the_api_history_carries_the_sentence_beside_the_fields(walker: Any) -> None:
    """GET /api/v1/events/{id}/history: each line its structured fields and, beside them, the
    sentence the history page shows, the time in words and who; a move's answer too."""
    event, _ = walker.held_event()
    r = walker.client.get(
        f"/api/v1/events/{event['id']}/history", headers=walker.world.headers["housing"]
    )
    assert r.status_code == 200, r.text
    rows = r.json()
    assert [x["trigger"] for x in rows][:1] == ["create"]
    for row in rows:
        said = row["sentence"].replace(row["who"], "")  # test accounts have no display name
        assert said and not FORBIDDEN.search(said), row
        assert row["at_zh"].startswith("20") and "年" in row["at_zh"]
        assert row["who"]
    hold = next(x for x in rows if x["trigger"] == "hold")
    assert "开展" in hold["sentence"] and hold["data"]  # the fields stay
    moved = walker.move(event["id"], "collect_feedback", data={"items": [{"content": "建议"}]})
    assert moved.status_code == 200, moved.text
    assert "意见" in moved.json()["move"]["sentence"]
