"""Messages to registrants about their registration: registered, waitlisted, offered a place
that came free (with the link to accept and the window's end), promoted (accepted), lapsed (no
answer in time), confirmed (with the invitation's answer link), declined (with the reason) and
cancelled.

Each is a Notification row per channel (`sms` when the SMS channel is on, `email` when SMTP is
configured and the person gave an address) with its outbox row, written in the transaction of
the change itself; the key (registration, kind, channel) is unique, so a message is owed once.
The row never holds the phone, the address, the name or the ID number: its recipient is
`registration:<id>`, resolved (decrypted) by the worker at send time — after the retention purge
there is nothing left to resolve and the message fails without personal data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlmodel import Session, select

from models import Event, Notification, Registration
from models.codes import grouped
from workflows.kernel import jobs
from workflows.kernel.daywords import day_zh, hours_zh, moment_zh
from workflows.public.privacy import Keys
from workflows.workdays.deadlines import wake_schedulers

log = structlog.get_logger("openday.registrant_notices")

SUBJECT_TYPE = "registration"
RULE = "registration"
RECIPIENT_PREFIX = "registration:"
KINDS = (
    "registered", "waitlisted", "offered", "promoted", "lapsed", "confirmed", "declined",
    "cancelled",
)  # fmt: skip
TITLES_ZH = {
    "registered": "报名成功，待单位确认",
    "waitlisted": "名额已满，已进入候补",
    "offered": "候补递补名额，请答复",
    "promoted": "已从候补递补到名额",
    "lapsed": "递补名额未答复，已失效",
    "confirmed": "报名已确认",
    "declined": "报名未获确认",
    "cancelled": "报名已取消",
}


@dataclass(frozen=True)
class Channels:
    """Which channels reach registrants (from the service's settings)."""

    email: bool = False  # an SMTP server is configured
    sms: bool = False  # OPENDAY_SMS_CHANNEL is not off

    @classmethod
    def of(cls, settings: Any) -> Channels:
        """The channels a Settings object turns on."""
        return cls(email=bool(settings.smtp_host), sms=settings.sms_channel != "off")


NONE = Channels()


def _when_where(event: Event) -> str:
    text = day_zh(event.date_earliest) + hours_zh(event.start_time, None)
    return text + (f"，{event.location}" if event.location else "")


def compose(
    kind: str,
    reg: Registration,
    event: Event,
    position: int | None = None,
    link: str | None = None,
) -> str:
    """The message text: the event, what happened, the code, and for an offer or a
    confirmation the link to answer. Never a name, phone or ID."""
    theme, code = f"“{event.theme}”", grouped(reg.code)
    answer = f"如不能参加，请点击链接答复：{link}" if link else ""
    texts = {
        "registered": f"您已报名{theme}（{_when_where(event)}），确认码 {code}。"
        "单位确认后将再通知您；凭确认码和手机号可查询或取消报名。",
        "waitlisted": f"您报名的{theme}公开名额已满，您在候补名单第 {position or 1} 位，"
        f"确认码 {code}。有名额空出时按顺序递补并通知您。",
        "offered": f"您候补的{theme}（{_when_where(event)}）有名额空出，请于"
        f"{moment_zh(reg.offer_until)}前点击链接答复是否接受：{link} 逾时未答复将递补给下一位。"
        f"确认码 {code}。",
        "promoted": f"您候补的{theme}已递补到名额，等待单位确认，确认码 {code}。",
        "lapsed": f"您候补的{theme}递补名额未在时限内答复，已递补给下一位（确认码 {code}）。",
        "confirmed": f"您报名的{theme}已确认参加。请于{_when_where(event)}准时参加，"
        f"确认码 {code}。{answer}",
        "declined": f"很抱歉，您报名的{theme}未获确认（确认码 {code}）。"
        f"原因：{reg.decline_reason or '未说明'}",
        "cancelled": f"您已取消{theme}的报名（确认码 {code}）。",
    }
    return texts[kind]


def notification_key(reg_id: int, kind: str, channel: str) -> str:
    """One message of one kind per registration and channel, ever."""
    return f"{SUBJECT_TYPE}:{reg_id}:{kind}:{channel}"


def owe(
    session: Session,
    reg: Registration,
    event: Event,
    kind: str,
    channels: Channels,
    now: datetime,
    *,
    position: int | None = None,
    link: str | None = None,
) -> list[Notification]:
    """Owe the registrant a message of `kind` on each channel that reaches them (idempotent)."""
    assert kind in KINDS, kind
    session.flush()  # the registration's id
    wanted = []
    if channels.sms and reg.phone_enc:
        wanted.append("sms")
    if channels.email and reg.email_enc:
        wanted.append("email")
    if not wanted:
        return []
    keys = {c: notification_key(reg.id, kind, c) for c in wanted}  # type: ignore[arg-type]
    existing = set(
        session.exec(
            select(Notification.key).where(
                Notification.subject_type == SUBJECT_TYPE, Notification.subject_id == reg.id
            )
        ).all()
    )
    body = compose(kind, reg, event, position, link)
    created = []
    for channel in wanted:
        if keys[channel] in existing:
            continue
        row = Notification(
            key=keys[channel],
            subject_type=SUBJECT_TYPE,
            subject_id=reg.id,  # type: ignore[arg-type]
            event_id=event.id,
            unit_id=event.unit_id,
            rule=RULE,
            kind=kind,
            level=0,
            channel=channel,
            recipient=f"{RECIPIENT_PREFIX}{reg.id}",
            title=f"政府开放日：{TITLES_ZH[kind]}",
            body=body,
            created_at=now,
        )
        session.add(row)
        created.append(row)
    session.flush()
    for row in created:
        jobs.owe(session, jobs.DELIVER_ACTOR, [row.id], now, dedupe_key=f"deliver:{row.id}")
    if created:
        wake_schedulers(session)  # the relay takes them at once after the commit
        log.info("registrant_notice_owed", registration_id=reg.id, kind=kind, count=len(created))
    return created


def address_of(session: Session, recipient: str, channel: str, keys: Keys) -> str | None:
    """The phone or e-mail address behind `registration:<id>` (None: purged or unknown)."""
    raw = recipient.removeprefix(RECIPIENT_PREFIX)
    if not raw.isdigit():
        return None
    reg = session.get(Registration, int(raw))
    if reg is None or reg.purged_at is not None:
        return None
    return keys.decrypt(reg.phone_enc if channel == "sms" else reg.email_enc)
