"""Campaign rule settings, with the defaults of 资雁府办发〔2022〕58号."""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from workflows.campaign.scoring import ScoringRules
from workflows.campaign.scoring import check as check_scoring

Recipient = Literal["unit_contact", "unit_head", "supervisors"]
# A rule the notice words 原则上 / 不低于 / 左右: `refuse` the move, or record it and `flag` the
# deviation (shown on the event, the board and the report, and deducted in the assessment).
RuleMode = Literal["refuse", "flag"]
RULE_MODES: tuple[str, ...] = ("refuse", "flag")
# 五、组织形式 of 资雁府办发〔2022〕58号: the forms of activity the founding notice lists.
NOTICE_FORMS = ("参观机关办公场所", "现场参观考察", "政民恳谈交流", "意见反馈")
ACTIVITY_FORM_MAX_CHARS = 30
ACTIVITY_FORMS_MAX = 20
Delivery = Literal["individual", "digest"]
DELIVERIES: tuple[str, ...] = ("individual", "digest")


class EscalationLevel(BaseModel):
    """One rung of the escalation ladder: when (working days after the deadline) and to whom."""

    model_config = ConfigDict(extra="forbid")
    level: int = Field(ge=1)
    after_workdays: int = Field(ge=0)
    notify: list[Recipient] = Field(min_length=1)


def _default_ladder() -> list[EscalationLevel]:
    # At the deadline a 催办 to the unit's contact and head; five working days later a second
    # notice copied to the district office's supervisors.
    return [
        EscalationLevel(level=1, after_workdays=0, notify=["unit_contact", "unit_head"]),
        EscalationLevel(
            level=2, after_workdays=5, notify=["unit_contact", "unit_head", "supervisors"]
        ),
    ]


class CampaignRules(BaseModel):
    """Every limit the event guards and deadline rules read; each one a campaign setting."""

    model_config = ConfigDict(extra="forbid")

    # 四、开放对象: "原则上每个开放点15人左右" — about 15, as a settable range.
    invitees_min: int = Field(default=10, ge=1)
    invitees_max: int = Field(default=20, ge=1)
    invitee_count_mode: RuleMode = Field(
        default="flag", description="a list outside the range: refuse the invite, or flag it"
    )
    # "其中市民代表比例不低于三分之一", applied to the invitation list and to attendance.
    citizen_share_min: str = Field(default="1/3", description="fraction, e.g. '1/3'")
    citizen_share_mode: RuleMode = Field(
        default="flag",
        description="citizens under the share (at invite and at hold): refuse, or flag it",
    )
    # 五(三): "主要负责人或分管负责人主动与开放对象进行面对面沟通交流" — a hold where neither
    # leader met the visitors.
    leader_mode: RuleMode = Field(
        default="flag",
        description="a hold without the principal or deputy head meeting the visitors: "
        "refuse, or flag it",
    )
    # 五、组织形式 (issue 30): the forms of activity the notice lists, as it names them (座谈会,
    # 实地参观, 政策解读 …), read from each year's notice and carried by the rollover. A hold whose
    # forms held none of them covers is flagged (or refused) by forms_mode; an empty list checks
    # nothing (the notice named no forms).
    activity_forms: list[str] = Field(
        default_factory=lambda: list(NOTICE_FORMS),
        max_length=ACTIVITY_FORMS_MAX,
        description="the forms of activity the notice lists, as it names them",
    )
    forms_mode: RuleMode = Field(
        default="flag",
        description="a hold with a form outside activity_forms: refuse, or flag it",
    )
    # A hold with nobody attending is refused whatever the modes: it records nothing that
    # happened.
    attendees_min: int = Field(default=1, ge=1)
    # 五(四): "在15个工作日内办结并及时反馈".
    feedback_answer_workdays: int = Field(default=15, ge=1)
    # 六(三): "于活动开展后三日内反馈区政府办".
    summary_due_days: int = Field(default=3, ge=0)
    # ... "反馈区政府办1329室": where the summary goes, as the notice names it (issue 30).
    summary_recipient: str = Field(
        default="区政府办1329室",
        min_length=1,
        max_length=100,
        description="where the notice sends the summary (shown to units)",
    )
    summary_min_attachments: int = Field(default=1, ge=0)
    # Corrections (issue 24): a recorded attendance may be corrected by the unit within this
    # many working days of recording the hold; later only by a supervisor.
    correction_workdays: int = Field(
        default=5,
        ge=0,
        le=60,
        description="working days after a hold or an answer is recorded in which the unit may "
        "correct it",
    )
    # 六（三）强化督查，严格问责: after a spot-check round found lacking, the unit reports its
    # rectification within this many working days of the notice (and of each send-back).
    rectification_workdays: int = Field(
        default=10,
        ge=1,
        le=60,
        description="working days a unit has to report its rectification (整改) after a notice",
    )
    # 签收 (issue 26): the unit holding an opinion signs for it within this many working days
    # of receiving it (or of a transfer to it), else it is escalated to the unit (level 1).
    sign_workdays: int = Field(
        default=1,
        ge=1,
        le=10,
        description="working days a unit has to sign for (签收) an opinion it holds",
    )
    # Lamps (红黄绿灯): an open opinion with at most lamp_red_workdays working days left (or
    # overdue) is red, with at most lamp_yellow_workdays yellow, else green.
    lamp_red_workdays: int = Field(default=1, ge=0, le=30)
    lamp_yellow_workdays: int = Field(default=5, ge=0, le=60)
    # The weekly 通报: a unit ranked last this many times in a row is marked for 约谈.
    bulletin_interview_after: int = Field(
        default=3,
        ge=1,
        le=20,
        description="times in a row a unit ranks last in the weekly 通报 before it is marked "
        "for 约谈",
    )
    # The weekly 通报 is made on this weekday (0 Monday … 6 Sunday) from this local hour on,
    # covering the week before, and delivered to the supervisors' inboxes.
    bulletin_weekday: int = Field(default=0, ge=0, le=6)
    bulletin_hour: int = Field(default=9, ge=0, le=23)
    # Reminders ahead of each deadline, at reminder_hour local time.
    feedback_reminder_workdays_before: int = Field(default=3, ge=0)
    summary_reminder_days_before: int = Field(default=1, ge=0)
    reminder_hour: int = Field(default=9, ge=0, le=23)
    # Invitees and confirmed registrants who said yes are reminded this many days before the day
    # (issue 27), at reminder_hour; 0 reminds on the morning of the day itself.
    reminder_days_before: int = Field(default=1, ge=0, le=14)
    escalations: list[EscalationLevel] = Field(default_factory=_default_ladder)
    # Reminders and escalations one by one, or collected into one daily digest (催办汇总) per
    # recipient at digest_hour local time; a unit or a supervisor account may override it.
    escalation_delivery: Delivery = "individual"
    digest_hour: int = Field(default=9, ge=0, le=23)
    # A unit may ask this many times per opinion for more time to answer (申请延期).
    extensions_per_item: int = Field(default=1, ge=0, le=10)
    # 回访 (issue 26): a 不满意 rating reopens the opinion (重办) with a new clock of this many
    # working days, counted from the day after the rating.
    reopen_workdays: int = Field(
        default=10,
        ge=1,
        le=60,
        description="working days to answer again after a 不满意 rating reopens an opinion",
    )
    # The overdue list also shows what falls due within this many days.
    due_soon_days: int = Field(default=3, ge=0)
    # Public registration (公开邀请报名): eligibility of citizens registering on /public.
    public_min_age: int = Field(
        default=18,
        ge=0,
        le=100,
        description="age on the event's day, checked when an ID number is given",
    )
    public_districts: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="districts of residence accepted; empty: any",
    )
    public_once_per_campaign: bool = Field(
        default=True, description="one active registration per person (phone or ID) per campaign"
    )
    # A place that comes free is offered to the first on the waiting list, who has this many
    # hours to accept through a signed link (never past the event's start); then the next
    # (issue 27).
    waitlist_offer_hours: int = Field(
        default=24,
        ge=1,
        le=168,
        description="hours the first on the waiting list has to accept a place that came free",
    )
    # What other districts' notices add (issue 30), each off unless a notice switches it on;
    # workflows/filing/ holds the pages' rules, their timers and their wording.
    # 方案报区政府办审核备案: each event's plan filed and approved by the district office before
    # its invitations go out; `refuse` the invite until then, or (原则上) flag it. The plan is
    # due plan_days_before (working or calendar) days before the event's first day.
    plan_approval_required: bool = False
    plan_approval_mode: RuleMode = Field(
        default="refuse",
        description="an invite before the plan is approved: refuse, or flag it (原则上)",
    )
    plan_days_before: int = Field(default=5, ge=0, le=60)
    plan_workdays: bool = True
    # 提前X日发布公告: a publicly invited event (public places) announced on the public pages with
    # 报名方式, places and theme at least this many days before its first day.
    announcement_required: bool = False
    announcement_days_before: int = Field(default=3, ge=0, le=60)
    announcement_workdays: bool = False
    # 公示: the selected citizen representatives published (masked names) this many days before.
    representatives_publicity_required: bool = False
    representatives_days_before: int = Field(default=1, ge=0, le=60)
    representatives_workdays: bool = False
    # The notice's sentence each of these rules was read from (shown with a flag or a 催办).
    plan_approval_sentence: str = Field(default="", max_length=500)
    announcement_sentence: str = Field(default="", max_length=500)
    representatives_sentence: str = Field(default="", max_length=500)
    # 政务公开考核: full marks and the points deducted per criterion
    # (workflows/reporting/assessment.py).
    scoring: ScoringRules = Field(default_factory=ScoringRules)

    @field_validator("scoring", mode="before")
    @classmethod
    def _scoring(cls, value: Any, info: ValidationInfo) -> Any:
        # Written rules (context {"write": True}) must keep not holding the heaviest deduction.
        return check_scoring(value, write=bool(info.context and info.context.get("write")))

    @field_validator("activity_forms")
    @classmethod
    def _activity_forms(cls, value: list[str]) -> list[str]:
        names = list(dict.fromkeys(n.strip() for n in value if n.strip()))
        if any(len(n) > ACTIVITY_FORM_MAX_CHARS for n in names):
            raise ValueError(
                f"每项组织形式不超过 {ACTIVITY_FORM_MAX_CHARS} 字 / "
                f"each form of activity is at most {ACTIVITY_FORM_MAX_CHARS} characters"
            )
        return names

    @field_validator("citizen_share_min")
    @classmethod
    def _fraction(cls, value: str) -> str:
        share = Fraction(value)
        if not 0 <= share <= 1:
            raise ValueError("应在 0 与 1 之间 / must be between 0 and 1")
        return value

    @model_validator(mode="after")
    def _range(self) -> CampaignRules:
        if self.lamp_red_workdays > self.lamp_yellow_workdays:
            raise ValueError(
                "红灯阈值不能大于黄灯阈值 / lamp_red_workdays must not exceed lamp_yellow_workdays"
            )
        if self.invitees_min > self.invitees_max:
            raise ValueError("邀请人数下限不能大于上限 / invitees_min must not exceed invitees_max")
        levels = [e.level for e in self.escalations]
        if levels != list(range(1, len(levels) + 1)):
            raise ValueError(
                "催办级别应依次编号 1、2、… / escalation levels must be numbered 1, 2, … in order"
            )
        waits = [e.after_workdays for e in self.escalations]
        if waits != sorted(waits):
            raise ValueError(
                "后一级催办不能早于前一级 / "
                "escalation levels must not come earlier than the level before"
            )
        return self

    @classmethod
    def of(cls, stored: dict[str, Any] | None) -> CampaignRules:
        """Rules from a campaign's stored JSON, defaults filling what is missing."""
        return cls.model_validate(stored or {})

    def mode_of(self, rule: str) -> str:
        """`refuse` or `flag` for a rule the notice words 原则上 / 不低于 / 左右."""
        mode: str = getattr(self, f"{rule}_mode")
        return mode

    def citizens_needed(self, total: int) -> int:
        """Fewest citizen representatives acceptable among `total` people (rounded up)."""
        return math.ceil(Fraction(self.citizen_share_min) * total)

    @property
    def citizen_share_zh(self) -> str:
        """The share in words, e.g. 三分之一 for 1/3."""
        share = Fraction(self.citizen_share_min)
        digits = "零一二三四五六七八九十"
        if share.denominator <= 10 and share.numerator <= 10:
            return f"{digits[share.denominator]}分之{digits[share.numerator]}"
        return str(share)


def split_forms(text: str) -> list[str]:
    """Forms of activity typed on one line: 座谈会、实地参观，政策解读 → three names."""
    return [n for n in re.split(r"[、，,；;\s]+", text) if n]
