"""The event moves' guards; each reads its limit from the campaign's rules and records what is
broken on the move, so a refusal lists every broken rule.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import func
from sqlmodel import col, select

from models import Attachment, Campaign, FeedbackItem, Invitee, InviteeCategory
from workflows.event.data import CollectFeedbackData, RescheduleData
from workflows.event.moves import Move, count_invitees, held_day, rework_due_on, summary_of
from workflows.filing import plans
from workflows.kernel.errors import Violation


def invitee_count_in_range(move: Move) -> None:
    """invite: the list holds 'about 15' people — a settable range (refused or flagged)."""
    total = count_invitees(move.session, Invitee.event_id == move.event.id, col(Invitee.invited))
    low, high = move.rules.invitees_min, move.rules.invitees_max
    if total == 0:  # an invitation of nobody records nothing: refused whatever the mode
        move.refuse("no_invitees", "邀请名单为空，请先添加受邀人员", "the invitee list is empty")
    elif not low <= total <= high:
        move.deviate(
            "invitee_count",
            "invite",
            f"邀请人数偏{'少' if total < low else '多'}（{total}人，应为{low}–{high}人）",
            "invitee_count_out_of_range",
            f"邀请人数 {total} 人，应在 {low}–{high} 人之间（通知要求每个开放点15人左右）",
            f"{total} invitees, need between {low} and {high} (the notice asks for about 15)",
            invitees=total,
            min=low,
            max=high,
        )


def plan_approved(move: Move) -> None:
    """invite: the plan approved by the district office first, when the notice asks for it
    (方案报区政府办审核备案; refused, or flagged where the notice says 原则上)."""
    found = plans.check_invite(move.session, move.event, move.rules, lambda: move.office)
    if found is None:
        return
    state = found["plan_state_zh"]
    move.deviate(
        "plan_approval",
        "invite",
        f"方案未经审核即邀请（{state}）",
        "plan_not_approved",
        f"活动方案{state}，须经{move.office}审核通过后才能发出邀请",
        f"the event's plan is not approved by the district office ({found['plan_state']}); "
        "it must be before invitations go out",
        **found,
    )


def citizen_share_of_invitees(move: Move) -> None:
    """invite: citizen representatives are at least a third of the list (refused or flagged)."""
    ev = move.event.id
    total = count_invitees(move.session, Invitee.event_id == ev, col(Invitee.invited))
    citizens = count_invitees(
        move.session,
        Invitee.event_id == ev,
        col(Invitee.invited),
        Invitee.category == InviteeCategory.citizen,
    )
    need = move.rules.citizens_needed(total)
    if citizens < need:
        move.deviate(
            "citizen_share",
            "invite",
            f"受邀市民代表比例不足（{citizens}/{total}）",
            "citizen_share_too_low",
            f"市民代表 {citizens} 人（共 {total} 人），不低于{move.rules.citizen_share_zh}"
            f"须至少 {need} 人",
            f"citizens {citizens} of {total}, need at least {need} "
            f"({move.rules.citizen_share_min} of the invitees)",
            citizens=citizens,
            total=total,
            needed=need,
        )


def event_date_has_come(move: Move) -> None:
    """hold: the day held is not in the future, and not before the event's window unless a
    reason says why (it was brought forward)."""
    day, earliest = held_day(move), move.event.date_earliest
    if day > move.today:
        move.refuse(
            "held_on_in_future",
            f"开展日期 {day.isoformat()} 晚于今天（{move.today.isoformat()}），不能预先登记",
            f"the day held {day.isoformat()} is after today ({move.today.isoformat()})",
            held_on=day.isoformat(),
            today=move.today.isoformat(),
        )
    elif move.data.held_on is None and move.today < earliest:
        move.refuse(
            "event_date_not_reached",
            f"活动日期 {earliest.isoformat()} 尚未到来（今天是 {move.today.isoformat()}）",
            f"the event's date {earliest.isoformat()} has not come "
            f"(today is {move.today.isoformat()})",
            event_date=earliest.isoformat(),
            today=move.today.isoformat(),
        )
    elif day < earliest and not (move.reason or "").strip():
        move.refuse(
            "held_before_window",
            f"开展日期 {day.isoformat()} 早于计划日期 {earliest.isoformat()}，请说明理由",
            f"the day held {day.isoformat()} is before the planned date {earliest.isoformat()}; "
            "give a reason",
            held_on=day.isoformat(),
            event_date=earliest.isoformat(),
        )


def attendance_recorded(move: Move) -> None:
    """hold: every invitee's attendance is recorded and enough people came (nobody attending
    is refused whatever the rules' modes)."""
    ev = move.event.id
    unrecorded = count_invitees(
        move.session, Invitee.event_id == ev, col(Invitee.invited), col(Invitee.attended).is_(None)
    )
    if unrecorded:
        move.refuse(
            "attendance_not_recorded",
            f"尚有 {unrecorded} 名受邀人员未登记出席情况",
            f"attendance not recorded for {unrecorded} invitees",
            unrecorded=unrecorded,
        )
        return
    attended = count_invitees(move.session, Invitee.event_id == ev, col(Invitee.attended))
    if attended < move.rules.attendees_min:
        move.refuse(
            "too_few_attendees",
            f"出席人数 {attended} 人，至少需要 {move.rules.attendees_min} 人",
            f"{attended} attendees, need at least {move.rules.attendees_min}",
            attendees=attended,
            min=move.rules.attendees_min,
        )


def citizen_share_of_attendees(move: Move) -> None:
    """hold: citizen representatives are at least a third of those who attended (refused or
    flagged)."""
    ev = move.event.id
    attended = count_invitees(move.session, Invitee.event_id == ev, col(Invitee.attended))
    citizens = count_invitees(
        move.session,
        Invitee.event_id == ev,
        col(Invitee.attended),
        Invitee.category == InviteeCategory.citizen,
    )
    need = move.rules.citizens_needed(attended)
    if attended and citizens < need:
        move.deviate(
            "citizen_share",
            "hold",
            f"市民代表比例不足（{citizens}/{attended}）",
            "attendee_citizen_share_too_low",
            f"出席的市民代表 {citizens} 人（共 {attended} 人出席），不低于"
            f"{move.rules.citizen_share_zh}须至少 {need} 人",
            f"citizens {citizens} of {attended} attendees, need at least {need}",
            citizens=citizens,
            attendees=attended,
            needed=need,
        )


def feedback_recorded_or_none_stated(move: Move) -> None:
    """collect_feedback: every opinion is an item, or the unit states there were none."""
    items = move.session.exec(
        select(func.count()).select_from(FeedbackItem).where(FeedbackItem.event_id == move.event.id)
    ).one()
    data: CollectFeedbackData = move.data
    if items and data.no_opinions:
        move.refuse(
            "feedback_contradiction",
            f"已登记 {items} 条意见建议，不能同时声明“无意见”",
            f"{items} feedback items are recorded; cannot also state there were no opinions",
            items=items,
        )
    elif not items and not data.no_opinions:
        move.refuse(
            "feedback_not_recorded",
            "尚未登记任何意见建议；如确无意见，请明确声明“无意见”（no_opinions）",
            "no feedback item recorded and no explicit 'no opinions' statement (no_opinions)",
            items=0,
        )


def summary_has_text(move: Move) -> None:
    """submit_summary: the report has text."""
    summary = summary_of(move)
    if summary is None or not summary.text.strip():
        move.refuse("summary_text_missing", "总结文字为空", "the summary text is empty")


def summary_has_attachment(move: Move) -> None:
    """submit_summary: the report has at least one photo or file (图文资料)."""
    need = move.rules.summary_min_attachments
    have = move.session.exec(
        select(func.count()).select_from(Attachment).where(Attachment.event_id == move.event.id)
    ).one()
    if have < need:
        move.refuse(
            "summary_attachment_missing",
            f"总结须附至少 {need} 张照片或 {need} 个文件（现有 {have} 个）",
            f"the summary needs at least {need} photo or file (has {have})",
            attachments=have,
            needed=need,
        )


def reason_given(move: Move) -> None:
    """reschedule, cancel: a reason is kept with the move."""
    if not (move.reason or "").strip():
        move.refuse("reason_required", "此操作必须说明理由", "a reason is required for this move")


def new_date_not_past(move: Move) -> None:
    """reschedule: the new date is not in the past."""
    data: RescheduleData = move.data
    assert data.latest is not None
    if data.latest < move.today:
        move.refuse(
            "reschedule_date_in_past",
            f"新日期 {data.latest.isoformat()} 早于今天（{move.today.isoformat()}）",
            f"the new date {data.latest.isoformat()} is before today ({move.today.isoformat()})",
            new_latest=data.latest.isoformat(),
            today=move.today.isoformat(),
        )


def outside_campaign(campaign: Campaign, earliest: date, latest: date) -> Violation | None:
    """A window that leaves the campaign's own window (活动时间), as a refusal."""
    if campaign.starts_on <= earliest and latest <= campaign.ends_on:
        return None
    return Violation(
        "outside_campaign_window",
        f"日期 {earliest.isoformat()}–{latest.isoformat()} 超出活动时间 "
        f"{campaign.starts_on.isoformat()}–{campaign.ends_on.isoformat()}"
        "（督查人员可说明理由后调整）",
        f"dates {earliest.isoformat()}–{latest.isoformat()} fall outside the campaign window "
        f"{campaign.starts_on.isoformat()}–{campaign.ends_on.isoformat()} "
        "(a supervisor may override with a reason)",
        {
            "campaign_starts_on": campaign.starts_on.isoformat(),
            "campaign_ends_on": campaign.ends_on.isoformat(),
        },
    )


def new_date_in_campaign(move: Move) -> None:
    """reschedule: the new dates stay in the campaign's window; a supervisor may override with
    the move's reason, which is logged."""
    data: RescheduleData = move.data
    assert data.earliest is not None and data.latest is not None
    violation = outside_campaign(move.campaign, data.earliest, data.latest)
    if violation is None:
        return
    if move.actor.is_supervisor and (move.reason or "").strip():
        move.audit["campaign_window_override"] = True
        return
    move.violations.append(violation)


def rework_date_not_past(move: Move) -> None:
    """return_for_rework: the new deadline is not before today."""
    due = rework_due_on(move)
    if due < move.today:
        move.refuse(
            "rework_due_in_past",
            f"整改期限 {due.isoformat()} 早于今天（{move.today.isoformat()}）",
            f"the rework deadline {due.isoformat()} is before today ({move.today.isoformat()})",
            due_on=due.isoformat(),
            today=move.today.isoformat(),
        )
