"""Signed answer links (invitations, waiting-list offers), opened by either door.

A refused link (forged, expired, unknown, another event's) is shown in words by the caller and
audited in a transaction of its own, but throttled (issue 27): per client address and link kind,
only the first refusal of each OPENDAY_LINK_REFUSAL_AUDIT_SECONDS window writes an audit line;
the rest are counted in the public throttle's store, and a window's count goes into the next
window's line (`refused_before`). A flood of forged links costs one line per address and window.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

import structlog
from fastapi import Request
from sqlmodel import Session

from models import Event, Invitee, Registration
from web.public import address, keys
from web.throttle import public_throttle
from workflows.event import invitations
from workflows.kernel.errors import DomainError
from workflows.public import offers

log = structlog.get_logger("openday.links")
T = TypeVar("T")
Recorder = Callable[..., None]


def _opened(
    request: Request,
    session: Session,
    token: str,
    now: datetime,
    kind: str,
    opener: Callable[[Session, str, datetime], T],
    recorder: Recorder,
) -> T:
    try:
        return opener(session, token, now)
    except DomainError as exc:
        session.rollback()
        source = keys(request).digest("address", address(request))[:16]
        seconds = request.app.state.settings.link_refusal_audit_seconds
        count, before = public_throttle(request).refusal(kind, source, seconds)
        if count == 1:
            recorder(session, token, exc, now, source=source, refused_before=before)
            session.commit()
        else:
            log.info("link_refusal_counted", kind=kind, code=exc.code, count=count)
        raise


def open_invitation(
    request: Request, session: Session, token: str, now: datetime
) -> tuple[Invitee, Event]:
    """The invitation behind a link, or its refusal (audited, throttled)."""
    return _opened(
        request, session, token[:300], now, "invitation", invitations.open_link,
        invitations.record_refusal,
    )  # fmt: skip


def open_offer(request: Request, session: Session, token: str, now: datetime) -> Registration:
    """The registration behind an offer link, or its refusal (audited, throttled)."""
    return _opened(
        request, session, token[:300], now, "offer", offers.open_link, offers.record_refusal
    )
