"""What each kind of notification is called in the inbox, whom a posted one reaches, and where
its message links to.

A new kind of notification needs one line in `KINDS` (its Chinese label, its audience when it is
posted with `workflows.inbox.service.post`, and its link). Escalations and reminders take their
audience from the campaign's ladder instead (workflows/escalation/service.py `recipients`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

# Who a posted message reaches: every active staff account of the item's unit, every active
# district supervisor (区政府办), or both.
Audience = Literal["unit_staff", "supervisors"]


class Subject(Protocol):
    """What a link is made from: the notification's subject, event and rule."""

    subject_type: str
    subject_id: int
    event_id: int | None
    rule: str


def item_link(n: Subject) -> str:
    """The page of the item: an opinion on its event's feedback page, a summary's page, else
    the event."""
    if n.event_id is None:
        return "/inbox"
    if n.subject_type == "feedback_item" and n.rule == "feedback_sign":
        return opinion_link(n)  # signed for on its own page (the holder may be another unit)
    if n.subject_type == "feedback_item":
        return f"/events/{n.event_id}/feedback#item-{n.subject_id}"
    if n.subject_type == "rectification":
        return rectification_link(n)
    if n.rule.startswith("filing_"):  # workflows/filing/timers.py: a plan or a publication
        return f"/events/{n.event_id}/filings"
    if n.rule == "summary":
        return f"/events/{n.event_id}/summary"
    return f"/events/{n.event_id}"


def overdue_link(_: Subject) -> str:
    """A digest lists many items: the overdue list."""
    return "/board/overdue"


def extension_link(_: Subject) -> str:
    """A request for more time, where a supervisor decides it: the board's list."""
    return "/board/extensions"


def rectification_link(n: Subject) -> str:
    """A rectification (整改): its notice, report and decision on the spot-check page."""
    if n.event_id is None:
        return "/inbox"
    return f"/events/{n.event_id}/spot-check#rectification-{n.subject_id}"


def cancellation_link(_: Subject) -> str:
    """A request to cancel an event, where a supervisor decides it: the queue."""
    return "/board/cancellations"


def summary_link(n: Subject) -> str:
    """A summary sent back: its page."""
    return f"/events/{n.event_id}/summary" if n.event_id is not None else "/inbox"


def opinion_link(n: Subject) -> str:
    """An opinion's own page, where it is signed for, transferred, sent back or decided (the
    unit it was transferred to cannot see the event's pages)."""
    return f"/feedback/{n.subject_id}"


def letter_link(n: Subject) -> str:
    """A reply letter to print and post: its row on the 答复待送达 list (print, mark posted)."""
    return f"/replies#not-told-{n.subject_id}"


def plans_link(_: Subject) -> str:
    """A plan sent for approval, where a supervisor decides it: the queue."""
    return "/board/plans"


def filings_link(n: Subject) -> str:
    """A plan decided: the event's filings page."""
    return f"/events/{n.event_id}/filings" if n.event_id is not None else "/inbox"


def bulletin_link(n: Subject) -> str:
    """A weekly 通报: its page, with the .docx and .xlsx downloads."""
    return f"/bulletins/{n.subject_id}"


@dataclass(frozen=True)
class Kind:
    """One kind of notification as the inbox shows it."""

    label: str  # the Chinese name in the inbox's kind filter
    audience: tuple[Audience, ...]  # whom `post` delivers it to
    link: Callable[[Subject], str]


KINDS: dict[str, Kind] = {
    "reminder": Kind("到期提醒", ("unit_staff",), item_link),
    "escalation": Kind("逾期催办", ("unit_staff",), item_link),
    "digest": Kind("催办汇总", ("unit_staff", "supervisors"), overdue_link),
    "ext_request": Kind("延期申请", ("supervisors",), extension_link),
    "ext_decision": Kind("延期审批结果", ("unit_staff",), item_link),
    "rework": Kind("总结退回整改", ("unit_staff",), summary_link),
    "rect_notice": Kind("整改通知", ("unit_staff",), rectification_link),
    "rect_report": Kind("整改情况待审核", ("supervisors",), rectification_link),
    "rect_decision": Kind("整改审核结果", ("unit_staff",), rectification_link),
    "cancel_request": Kind("取消申请", ("supervisors",), cancellation_link),
    "cancel_decision": Kind("取消审批结果", ("unit_staff",), item_link),
    "transfer": Kind("转办", ("unit_staff",), opinion_link),
    "transfer_dispute": Kind("转办退回待裁定", ("supervisors",), opinion_link),
    "transfer_decided": Kind("转办裁定结果", ("unit_staff",), opinion_link),
    "bulletin": Kind("每周通报", ("supervisors",), bulletin_link),
    "reply_letter": Kind("答复函待寄送", ("unit_staff",), letter_link),
    "plan_submitted": Kind("活动方案待审核", ("supervisors",), plans_link),
    "plan_decision": Kind("活动方案审核结果", ("unit_staff",), filings_link),
}


def kind_of(name: str) -> Kind:
    """A kind's entry; one not listed yet still reaches the inbox, linking to its item."""
    return KINDS.get(name) or Kind(name, ("unit_staff",), item_link)


def kind_label(name: str) -> str:
    """The Chinese name of a kind."""
    return kind_of(name).label
