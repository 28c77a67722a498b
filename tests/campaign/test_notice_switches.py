"""The rules other districts' notices add, read from their wording (issue 30): each variant's
sentence switches on the plan's approval (refuse, or flag where it says 原则上), the public
announcement or the representatives' 公示, with the days ahead as worded (日 / 个工作日 / 一周 /
Chinese numerals); the founding notice switches none on; the preview lists each beside its
sentence and confirming writes them into the campaign's rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Walker
from workflows.campaign.notice_campaign import switch_rules, switch_values
from workflows.campaign.notice_import import Switch, parse_notice
from workflows.campaign.rules import CampaignRules

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "yanjiang-2022-open-day-notice.txt"
HEAD = """资雁府办发〔2024〕9号
资阳市雁江区人民政府办公室关于开展2024年“政府开放日”活动的通知
一、活动时间
2024年9月1日至9月30日。
二、开放对象
原则上每个开放点15人左右，其中市民代表比例不低于三分之一。
三、工作要求
"""

P, A, R = "plan_approval", "announcement", "representatives"
# (the requirement as a district words it, what it switches on)
VARIANTS: list[tuple[str, dict[str, Switch]]] = [
    ("各责任单位须于活动开展前5个工作日将活动方案报区政府办审核备案。", {P: Switch(5, True)}),
    (
        "活动方案原则上应提前一周报送区政府办公室审核。",
        {P: Switch(7, False, "flag")},
    ),
    ("开放单位制定的活动方案经区政务公开办审定后方可组织实施。", {P: Switch(5, True)}),
    (
        "采取公开邀请方式的，应提前3日在区政府门户网站发布活动公告，公布报名方式、名额和活动主题。",
        {A: Switch(3, False)},
    ),
    ("公开邀请的活动须提前五个工作日发布公告。", {A: Switch(5, True)}),
    ("拟邀请的市民代表名单应于活动开展前1日在政府网站进行公示。", {R: Switch(1, False)}),
    ("确定的参加人员名单须提前两个工作日公示。", {R: Switch(2, True)}),
    (
        "活动方案于活动开始十日前报县政府办备案；公开招募的，提前7天发布报名公告；"
        "市民代表名单在活动前予以公示。",
        {P: Switch(10, False), A: Switch(7, False), R: Switch(1, False)},
    ),
    ("请各单位做好活动组织工作，确保活动顺利开展。", {}),
]


@pytest.mark.parametrize("sentence,expected", VARIANTS)
def test_each_wording_switches_on_its_rules(sentence: str, expected: dict[str, Switch]) -> None:
    """The variant's sentence switches on exactly its rules, with the days as worded."""
    draft = parse_notice(HEAD + sentence + "\n")
    found = {f.key: f.value for f in draft.switches() if f.found}
    assert found == expected
    for f in draft.switches():
        if f.found:
            assert f.sentence and f.sentence in HEAD + sentence


def test_the_founding_notice_switches_nothing_on() -> None:
    """资雁府办发〔2022〕58号 asks for none of these: the campaign it makes behaves as before."""
    draft = parse_notice(FIXTURE.read_text(encoding="utf-8"))
    assert not any(f.found for f in draft.switches())
    rules = CampaignRules.model_validate(switch_rules(switch_values(draft), draft))
    assert not rules.plan_approval_required and not rules.announcement_required
    assert not rules.representatives_publicity_required


def test_a_sentence_without_days_is_marked_for_checking() -> None:
    """活动前予以公示 names no number of days: 1 day assumed, and the preview says so."""
    draft = parse_notice(HEAD + "市民代表名单在活动前予以公示。\n")
    finding = draft.get(R)
    assert finding.value == Switch(1, False) and "请核对" in finding.note


def test_the_preview_shows_each_switch_beside_its_sentence_and_confirming_writes_it(
    walker: Walker,
) -> None:
    """Dry run: every switch with its sentence; confirmed (公示 turned off by the supervisor):
    the campaign's rules carry the switches and the sentences they cite."""
    text = HEAD + VARIANTS[7][0] + "\n"
    url = "/api/v1/campaigns/notice-imports"
    headers = walker.world.headers["supervisor"]
    dry = walker.client.post(url + "?dry_run=true", data={"text": text}, headers=headers)
    assert dry.status_code == 200, dry.text
    switches = {s["rule"]: s for s in dry.json()["switches"]}
    assert switches[P]["value"] == "refuse" and switches[P]["days_before"] == "10"
    assert "报县政府办备案" in switches[P]["sentence"]
    assert switches[A]["value"] == "on" and switches[R]["value"] == "on"
    values = {"representatives": "off", "announcement_workdays": "yes"}
    bad = walker.client.post(
        url,
        data={"text": text, "values": json.dumps({"plan_days_before": "九十"})},
        headers=headers,
    )
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "notice_value_invalid"
    done = walker.client.post(
        url, data={"text": text, "values": json.dumps(values)}, headers=headers
    )
    assert done.status_code == 201, done.text
    campaign = walker.client.get(
        f"/api/v1/campaigns/{done.json()['campaign']['id']}", headers=headers
    ).json()
    rules = campaign["rules"]
    assert rules["plan_approval_required"] and rules["plan_days_before"] == 10
    assert rules["plan_approval_mode"] == "refuse" and not rules["plan_workdays"]
    assert rules["announcement_required"] and rules["announcement_workdays"]
    assert not rules["representatives_publicity_required"]
    assert "报名公告" in rules["announcement_sentence"]
