"""The sentences of 资雁府办发〔2022〕58号 that the campaign rules and the assessment cite.

Each entry: where in the notice, and the sentence word for word, so a flag on an event or a
deduction in the assessment can say which sentence it comes from.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sentence:
    """A sentence of the notice and where it stands."""

    where: str
    text: str

    @property
    def cited(self) -> str:
        """四、开放对象：“……”."""
        return f"{self.where}：“{self.text}”"


INVITEE_COUNT = Sentence(
    "四、开放对象",
    "参加人员规模由各责任单位根据开放内容、地点等情况确定，原则上每个开放点15人左右。",
)
CITIZEN_SHARE = Sentence(
    "四、开放对象",
    "人员范围为：各级人大代表、政协委员、市民代表，其中市民代表比例不低于三分之一。",
)
LEADER = Sentence(
    "五、（三）政民恳谈交流",
    "主要负责人或分管负责人主动与开放对象进行面对面沟通交流。",
)
FORMS = Sentence(
    "五、组织形式",
    "参观机关办公场所、现场参观考察、政民恳谈交流、意见反馈。",
)
SCHEDULE = Sentence("附件", "雁江区“政府开放月”活动安排一览表（开展时间）")
COMPLETE = Sentence(
    "六、（三）强化督查，严格问责",
    "各责任单位要结合业务开展实际情况有序安排此项工作，确保活动顺利完成。",
)
SUMMARY = Sentence(
    "六、（三）强化督查，严格问责",
    "要及时总结梳理活动开展情况、取得的成效（包括图文资料）等，"
    "于活动开展后三日内反馈区政府办1329室。",
)
ANSWERS = Sentence(
    "五、（四）意见反馈",
    "活动过程中，各责任单位要积极收集开放对象的意见建议，由本单位统一整理，"
    "在15个工作日内办结并及时反馈。",
)
SPOT_CHECK = Sentence(
    "六、（三）强化督查，严格问责",
    "区政府办将对各责任单位活动开展情况进行抽查和现场走访，"
    "并将活动开展情况作为政务公开考核重要内容。",
)
ACCOUNTABILITY = Sentence("六、（三）", "强化督查，严格问责。")
