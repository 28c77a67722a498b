"""A closed campaign is read-only: one guard on every flush refuses writes to it (issue 30).

When next year's campaign is copied from last year's, last year's is closed. Its events, their
invitees, opinions, summaries, checks and registrations stay readable, exportable and
verifiable, but nothing may change them any more: a move, an edit, an import or a public
registration answers 409 `campaign_closed`. The check sits on the session's `before_flush`, so
no door (API, pages, CLI, workers) can forget it; bookkeeping that is not a record of the
campaign (timers, outbox, notifications, inbox) is left alone, and closing cancels the
campaign's pending timers so no worker has anything left to do there.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import col, select

from models import Campaign, Event, InboxMessage, Notification, OutboxMessage, Timer
from workflows.kernel.errors import Conflict

# Rows that carry an event id but are the service's bookkeeping, not the campaign's records.
BOOKKEEPING = (Timer, OutboxMessage, Notification, InboxMessage)


def closed_error(campaign: Campaign | None = None) -> Conflict:
    """409 `campaign_closed`: the campaign is last year's and read-only."""
    name = f"“{campaign.title}”（{campaign.doc_number}）" if campaign else ""
    return Conflict(
        "campaign_closed",
        f"活动{name}已结束并转入下一年度，记录只读，不能再修改、推进或导入",
        "the campaign is closed (next year's was copied from it): its records are read-only",
        details={"campaign_id": campaign.id} if campaign else {},
    )


def require_open(campaign: Campaign) -> None:
    """Refuse a write to a closed campaign."""
    if campaign.closed_at is not None:
        raise closed_error(campaign)


def _touched(session: OrmSession) -> tuple[set[int], set[int], list[Campaign]]:
    """Campaign ids and event ids of the rows this flush writes, and the campaigns it edits."""
    campaign_ids: set[int] = set()
    event_ids: set[int] = set()
    campaigns: list[Campaign] = []
    rows = [*session.new, *session.deleted]
    rows += [r for r in session.dirty if session.is_modified(r)]
    for row in rows:
        if isinstance(row, BOOKKEEPING):
            continue
        if isinstance(row, Campaign):
            campaigns.append(row)
            continue
        campaign_id = getattr(row, "campaign_id", None)
        if isinstance(campaign_id, int):
            campaign_ids.add(campaign_id)
        event_id = row.id if isinstance(row, Event) else getattr(row, "event_id", None)
        if isinstance(event_id, int):
            event_ids.add(event_id)
    return campaign_ids, event_ids, campaigns


def _was_closed(row: Campaign) -> bool:
    """The campaign was closed before this flush (closing it is the one write allowed)."""
    history = sa.inspect(row).attrs.closed_at.history
    if history.deleted:
        return history.deleted[0] is not None
    return history.added == () and row.closed_at is not None


# Campaign and event ids this transaction's flushes already found open (session.info, dropped
# when the transaction ends): a move flushes twice (its rows, then its audit line), and the
# second flush asking the database again about the same event would learn nothing new — the
# check is a plain read either way, as good at the first flush as at the second.
_CHECKED = "openday_closure_checked"


def check_flush(session: OrmSession, _context: Any = None, _instances: Any = None) -> None:
    """Refuse the flush when it writes a record of a closed campaign."""
    campaign_ids, event_ids, campaigns = _touched(session)
    for row in campaigns:
        if row.id is not None and _was_closed(row):
            raise closed_error(row)
    if campaigns:  # a campaign edited (closed?) in this transaction: ask afresh from here on
        session.info.pop(_CHECKED, None)
    checked: tuple[set[int], set[int]] = session.info.setdefault(_CHECKED, (set(), set()))
    campaign_ids -= checked[0]
    event_ids -= checked[1]
    if not campaign_ids and not event_ids:
        return
    params = {"campaign_ids": sorted(campaign_ids), "event_ids": sorted(event_ids)}
    with session.no_autoflush:
        closed = session.execute(_CLOSED, params).scalars().first()
    if closed is not None:
        raise closed_error(closed)
    checked[0].update(campaign_ids)
    checked[1].update(event_ids)


def note_open(session: OrmSession, campaign: Campaign, event_id: int) -> None:
    """A move's loader read the event (locked) and its campaign in this transaction: when the
    campaign was open then, the flush need not ask again — the check is the same plain read,
    and the transaction's end forgets it (`_forget_checks`)."""
    if campaign.closed_at is not None or campaign.id is None:
        return
    checked: tuple[set[int], set[int]] = session.info.setdefault(_CHECKED, (set(), set()))
    checked[0].add(campaign.id)
    checked[1].add(event_id)


# Built once (every move's first flush runs it); the id lists are expanding parameters.
_CLOSED = select(Campaign).where(
    col(Campaign.closed_at).is_not(None),
    sa.or_(
        col(Campaign.id).in_(sa.bindparam("campaign_ids", expanding=True)),
        col(Campaign.id).in_(
            select(Event.campaign_id).where(
                col(Event.id).in_(sa.bindparam("event_ids", expanding=True))
            )
        ),
    ),
)


def _forget_checks(session: OrmSession, transaction: Any) -> None:
    """The transaction ended: the next one checks afresh. A savepoint's end keeps what was
    found (a read is no less true for a rolled-back write beside it), except that the
    flush checks afresh after any write to a campaign row."""
    if transaction.parent is None:
        session.info.pop(_CHECKED, None)


sa_event.listen(OrmSession, "before_flush", check_flush)
sa_event.listen(OrmSession, "after_transaction_end", _forget_checks)
