"""Calendar files (.ics, RFC 5545) of events (issue 27), written with `icalendar`.

One event's file comes with every invitation e-mail and registration confirmation and is
downloadable from the invitation's answer page; a campaign's public events make a feed people
subscribe to. Times are local (TZID=Asia/Shanghai, with its VTIMEZONE); an event without a time
of day is an all-day entry over its date window. UIDs are stable, so a re-import updates.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from sqlmodel import Session, col, select

from models import Campaign, District, Event, EventState, Unit
from workflows.kernel.clock import LOCAL_TZ

if TYPE_CHECKING:  # imported where a file is written: not on every move's import path
    import icalendar

PRODID = "-//openday//政府开放日//ZH"
UID_DOMAIN = "openday"
# Every stage but cancelled: a held event stays in a subscriber's calendar.
FEED_STATES = tuple(s for s in EventState if s != EventState.cancelled)


def _calendar(name: str) -> icalendar.Calendar:
    import icalendar

    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", "Asia/Shanghai")
    return cal


def vevent(event: Event, unit_name: str, now: datetime, *, url: str | None = None,
           code: str | None = None) -> icalendar.Event:  # fmt: skip
    """One VEVENT: theme, unit, place, local start and end (or all-day over the window)."""
    import icalendar

    entry = icalendar.Event()
    entry.add("uid", f"event-{event.id}@{UID_DOMAIN}")
    entry.add("dtstamp", now)
    entry.add("summary", f"政府开放日：{event.theme}")
    if event.start_time is not None:
        start = datetime.combine(event.date_earliest, event.start_time, LOCAL_TZ)
        end_time = (
            event.end_time
            or (datetime.combine(date.min, event.start_time) + timedelta(hours=2)).time()
        )
        end = datetime.combine(event.date_earliest, end_time, LOCAL_TZ)
        entry.add("dtstart", start)
        entry.add("dtend", end if end > start else start + timedelta(hours=2))
    else:
        entry.add("dtstart", event.date_earliest)
        entry.add("dtend", event.date_latest + timedelta(days=1))
    if event.location:
        entry.add("location", event.location)
    text = f"主办单位：{unit_name}"
    if code:
        text += f"\n入场签到码：{code}"
    if url:
        text += f"\n邀请与答复：{url}"
        entry.add("url", url)
    entry.add("description", text)
    entry.add("status", "CANCELLED" if event.state == EventState.cancelled else "CONFIRMED")
    return entry


def _bytes(cal: icalendar.Calendar) -> bytes:
    cal.add_missing_timezones()  # a VTIMEZONE for Asia/Shanghai whenever a time uses it
    return cal.to_ical()


def event_file(event: Event, unit_name: str, now: datetime, *, url: str | None = None,
               code: str | None = None) -> bytes:  # fmt: skip
    """The .ics of one event (an invitation's or a confirmation's)."""
    cal = _calendar(f"政府开放日：{event.theme}")
    cal.add("method", "PUBLISH")
    cal.add_component(vevent(event, unit_name, now, url=url, code=code))
    return _bytes(cal)


def district_feed(session: Session, district: District, now: datetime) -> bytes:
    """A district's public events, of every campaign it runs, as one feed named after it."""
    rows = session.exec(
        select(Event, Unit.name)
        .join(Unit, col(Unit.id) == Event.unit_id)
        .join(Campaign, col(Campaign.id) == Event.campaign_id)
        .where(Campaign.district_id == district.id, Event.public_places > 0)
        .where(col(Event.state).in_(FEED_STATES))
        .order_by(col(Event.date_earliest), col(Event.start_time), col(Event.id))
    ).all()
    cal = _calendar(f"{district.name}政府开放日")
    for event, unit_name in rows:
        cal.add_component(vevent(event, unit_name, now))
    return _bytes(cal)


def campaign_feed(session: Session, campaign: Campaign, now: datetime) -> bytes:
    """A campaign's public events (taking public registration, not cancelled) as one feed."""
    rows = session.exec(
        select(Event, Unit.name)
        .join(Unit, col(Unit.id) == Event.unit_id)
        .where(Event.campaign_id == campaign.id, Event.public_places > 0)
        .where(col(Event.state).in_(FEED_STATES))
        .order_by(col(Event.date_earliest), col(Event.start_time), col(Event.id))
    ).all()
    cal = _calendar(campaign.title)
    for event, unit_name in rows:
        cal.add_component(vevent(event, unit_name, now))
    return _bytes(cal)
