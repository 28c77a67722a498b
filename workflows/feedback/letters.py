"""Printed reply letters (答复函, issue 26): for a person no SMS or e-mail reaches, an A4 .docx
with the unit, the opinion, the answer, the date and the tracking code, for the unit to post
(then marked posted: workflows/feedback/replies.py `mark_posted`). python-docx is imported only
when a letter is made."""

from __future__ import annotations

import io
from datetime import datetime

from sqlmodel import Session

from models import Event, Invitee, Unit
from models.codes import grouped
from workflows.event import invitations
from workflows.feedback import replies
from workflows.kernel.clock import local_date
from workflows.kernel.daywords import day_zh
from workflows.kernel.errors import Conflict
from workflows.kernel.visibility import Actor, require_visible
from workflows.public.receipts import track_url


def reply_letter(session: Session, actor: Actor, item_id: int, now: datetime) -> bytes:
    """The reply letter of an opinion's current answer as .docx bytes (A4, 宋体)."""
    import docx
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Mm, Pt

    from models import FeedbackItem

    item = session.get(FeedbackItem, item_id)
    require_visible(actor, item.unit_id if item else None, replies.not_found(item_id))
    assert item is not None
    reply = replies.latest(session, item_id)
    if reply is None or "letter" not in replies.ways(reply):
        raise Conflict(
            "letter_not_owed",
            "该意见没有待邮寄的答复信",
            "no reply letter is owed for this opinion",
        )
    event, unit = session.get(Event, item.event_id), session.get(Unit, item.unit_id)
    person = session.get(Invitee, reply.invitee_id) if reply.invitee_id else None
    document = docx.Document()
    section = document.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    for side in ("left_margin", "right_margin"):
        setattr(section, side, Mm(28))
    normal = document.styles["Normal"]
    normal.font.size = Pt(14)
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), "宋体")
    title = document.add_heading("政府开放日意见建议答复函", level=1)
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    document.add_paragraph(f"{person.name if person else ''}：")
    document.add_paragraph(
        f"您在“{event.theme if event else ''}”政府开放日活动中提出的意见建议，"
        f"{unit.name if unit else ''}已办理，现答复如下。"
    )
    document.add_paragraph(f"您的意见建议：{item.content}")
    document.add_paragraph(f"答复：{reply.answer}")
    if item.receipt_code:
        base = invitations.public_base()
        document.add_paragraph(
            f"凭回执码 {grouped(item.receipt_code)} 可在 {track_url(base, item.receipt_code)} "
            "查询办理情况，并对答复作出评价（满意、基本满意或不满意）。"
        )
    for line in (unit.name if unit else "", day_zh(reply.answered_on or local_date(now))):
        sign = document.add_paragraph(line)
        sign.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
