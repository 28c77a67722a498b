"""Evidence checks on summaries (图文资料核验): flagged for the supervisor, never refused.

For each summary photo:

- `other_day`: its EXIF DateTimeOriginal falls, in Shanghai time, on another day than the one
  the event was held. The camera's offset is read from OffsetTimeOriginal, else OffsetTime;
  with neither, the camera's wall-clock time is taken as Shanghai time and the evidence says so;
- `no_date`: it carries no DateTimeOriginal (or none that can be read);
- `duplicate`: the same bytes (SHA-256, stored with every attachment) are a photo of another
  event.

Beside them: when the summary was submitted against its deadline. Photos are content-addressed,
so what is read from a file is cached by its hash; Pillow is imported only here, when a check
runs (the API process does not load it at start-up).
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from models import Attachment, Event, Summary, Unit
from workflows.event import submissions
from workflows.event.submissions import Submission
from workflows.files.store import FileStore
from workflows.kernel.clock import LOCAL_TZ
from workflows.kernel.daywords import day_zh, moment_zh
from workflows.kernel.visibility import UnitScope, within

FLAGS_ZH = {
    "other_day": "拍摄日期与开展日期不符",
    "no_date": "照片无拍摄日期",
    "duplicate": "与其他活动的照片相同",
}
EXIF_IFD = 0x8769  # the Exif sub-IFD, where DateTimeOriginal lives
DATE_TIME_ORIGINAL = 0x9003
OFFSET_TIME = 0x9010  # the offset of DateTime ("+08:00")
OFFSET_TIME_ORIGINAL = 0x9011  # the offset of DateTimeOriginal
ZONE_ASSUMED_ZH = "相机未记录时区，按北京时间计"
MAX_EVENTS = 5000  # one check covers at most this many events (a campaign's flagged list)


@dataclass
class Photo:
    """One summary photo and what its check found."""

    attachment_id: int
    filename: str
    taken_at: datetime | None  # aware, in Shanghai time
    flags: list[str] = field(default_factory=list)
    # True when the photo carries no offset and its camera time was taken as Shanghai time.
    zone_assumed: bool = False
    same_as: list[dict[str, int]] = field(default_factory=list)  # event_id, attachment_id


@dataclass
class EventEvidence:
    """An event's photos, their flags, and its summary's submission against the deadline."""

    event_id: int
    unit_name: str
    theme: str
    held_on: date | None
    submitted_at: datetime | None
    due_at: datetime | None
    due_on: date | None = None  # the deadline's day (due_at is the end of it)
    photos: list[Photo] = field(default_factory=list)
    # Every submission, first round first: submitted_at and due_at above are the first's
    # against the original due day, so a rework resubmitted in time leaves a late summary late.
    submissions: list[Submission] = field(default_factory=list)

    @property
    def flagged(self) -> bool:
        return any(p.flags for p in self.photos)

    @property
    def late_hours(self) -> float | None:
        """Hours the summary came in after its deadline (≤ 0: on time); None if unknown."""
        if self.submitted_at is None or self.due_at is None:
            return None
        return round((self.submitted_at - self.due_at).total_seconds() / 3600, 1)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for p in self.photos:
            for flag in p.flags:
                out[flag] += 1
        return dict(out)

    def notes_zh(self) -> list[str]:
        """What a supervisor reads beside the event, one line per finding."""
        lines = []
        for p in self.photos:
            if "other_day" in p.flags and p.taken_at is not None:
                assumed = f"（{ZONE_ASSUMED_ZH}）" if p.zone_assumed else ""
                lines.append(
                    f"照片“{p.filename}”拍摄于 {moment_zh(p.taken_at)}{assumed}，"
                    f"活动开展于 {day_zh(self.held_on) if self.held_on else '（未登记）'}"
                )
            if "no_date" in p.flags:
                lines.append(f"照片“{p.filename}”无拍摄日期")
            if "duplicate" in p.flags:
                events = "、".join(sorted({str(s["event_id"]) for s in p.same_as}))
                lines.append(f"照片“{p.filename}”与活动 {events} 的照片相同")
        return lines

    def summary_zh(self) -> str:
        """The summary's submission against its deadline, in words."""
        due = f"{day_zh(self.due_on)}当天" if self.due_on else _local(self.due_at)
        if self.submitted_at is None:
            return f"总结尚未报送（截止 {due}）" if due else "总结尚未报送"
        text = f"总结报送于 {_local(self.submitted_at)}"
        if due is None:
            return text
        late = self.late_hours or 0
        text = f"{text}，截止 {due}，" + (f"逾期 {late} 小时" if late > 0 else "按时")
        return text + "".join(_later_round_zh(s) for s in self.submissions[1:])

    def as_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "unit_name": self.unit_name,
            "theme": self.theme,
            "held_on": self.held_on,
            "flagged": self.flagged,
            "flag_counts": self.counts(),
            "summary": {
                "submitted_at": self.submitted_at,
                "due_at": self.due_at,
                "due_on": self.due_on,
                "late_hours": self.late_hours,
                "text": self.summary_zh(),
                "submissions": [s.as_dict() for s in self.submissions],
            },
            "photos": [
                {
                    "attachment_id": p.attachment_id,
                    "filename": p.filename,
                    "taken_at": p.taken_at,
                    "zone_assumed": p.zone_assumed,
                    "flags": p.flags,
                    "flags_zh": [FLAGS_ZH[f] for f in p.flags],
                    "same_as": p.same_as,
                }
                for p in self.photos
            ],
            "notes": self.notes_zh(),
        }


def _local(moment: datetime | None) -> str:
    return moment_zh(moment)


def parse_exif_time(raw: Any) -> datetime | None:
    """EXIF's 'YYYY:MM:DD HH:MM:SS' (sometimes NUL-padded) as a naive local time."""
    if isinstance(raw, bytes):
        raw = raw.decode("ascii", "replace")
    if not isinstance(raw, str):
        return None
    text = raw.strip("\x00 ").strip()
    try:
        return datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None


def parse_exif_offset(raw: Any) -> timezone | None:
    """EXIF's OffsetTime* ('+08:00', '-05:30') as a fixed zone; None if absent or unreadable."""
    if isinstance(raw, bytes):
        raw = raw.decode("ascii", "replace")
    if not isinstance(raw, str):
        return None
    m = re.fullmatch(r"([+-])(\d{2}):(\d{2})", raw.strip("\x00 ").strip())
    if m is None or int(m.group(2)) > 14 or int(m.group(3)) >= 60:
        return None
    minutes = int(m.group(2)) * 60 + int(m.group(3))
    return timezone(timedelta(minutes=-minutes if m.group(1) == "-" else minutes))


def local_taken_at(
    raw_time: Any, raw_original: Any = None, raw_plain: Any = None
) -> tuple[datetime | None, bool]:
    """DateTimeOriginal in Shanghai time, with whether its zone was assumed: the offset comes
    from OffsetTimeOriginal, else OffsetTime; with neither, camera time is Shanghai time."""
    naive = parse_exif_time(raw_time)
    if naive is None:
        return None, False
    zone = parse_exif_offset(raw_original) or parse_exif_offset(raw_plain)
    if zone is None:
        return naive.replace(tzinfo=LOCAL_TZ), True
    return naive.replace(tzinfo=zone).astimezone(LOCAL_TZ), False


@functools.lru_cache(maxsize=8192)
def taken_at(path: str, sha256: str) -> tuple[datetime | None, bool]:
    """A photo's DateTimeOriginal in Shanghai time and whether its zone was assumed, read from
    the file's header only (cached by content hash: the same bytes always give the same answer)."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            ifd = image.getexif().get_ifd(EXIF_IFD)
            raws = (
                ifd.get(DATE_TIME_ORIGINAL),
                ifd.get(OFFSET_TIME_ORIGINAL),
                ifd.get(OFFSET_TIME),
            )
    except Exception:  # an unreadable header is a photo without a date, not an error
        return None, False
    return local_taken_at(*raws)


def _later_round_zh(s: Submission) -> str:
    """；第 2 轮（退回整改后）报送于 …，整改期限 2022年9月30日（星期五）当天，按时."""
    due = f"，整改期限 {day_zh(s.due_on)}当天" if s.due_on else ""
    late = f"逾期 {s.late_hours} 小时" if s.late else "按时"
    return f"；第 {s.round} 轮（退回整改后）报送于 {_local(s.submitted_at)}{due}，{late}"


def _first_submissions(session: Session, found: dict[int, EventEvidence]) -> None:
    """Each event's submissions; its summary is judged by the first against the original day."""
    for event_id, subs in submissions.history(session, found).items():
        ev = found[event_id]
        ev.submissions = subs
        ev.submitted_at, ev.due_at, ev.due_on = subs[0].submitted_at, subs[0].due_at, subs[0].due_on


def check_events(
    session: Session, event_ids: list[int], store: FileStore
) -> dict[int, EventEvidence]:
    """The evidence of each event (in `event_ids`' order) that exists."""
    ids = list(dict.fromkeys(event_ids))[:MAX_EVENTS]
    if not ids:
        return {}
    rows = session.execute(
        sa.select(col(Event.id), col(Unit.name), col(Event.theme), col(Event.held_on),
                  col(Event.summary_due_at), col(Event.summary_due_on), col(Summary.submitted_at),
                  col(Unit.district_id))
        .join(Unit, col(Unit.id) == Event.unit_id)
        .outerjoin(Summary, col(Summary.event_id) == Event.id)
        .where(col(Event.id).in_(ids))
    ).all()  # fmt: skip
    found = {
        r.id: EventEvidence(
            r.id, r.name, r.theme, r.held_on, r.submitted_at, r.summary_due_at, r.summary_due_on
        )
        for r in rows
    }
    district_of = {r.id: r.district_id for r in rows}
    _first_submissions(session, found)
    photos = session.execute(
        sa.select(col(Attachment.id), col(Attachment.event_id), col(Attachment.filename),
                  col(Attachment.sha256), col(Attachment.storage_key))
        .where(col(Attachment.event_id).in_(ids), col(Attachment.kind) == "photo")
        .order_by(col(Attachment.event_id), col(Attachment.id))
    ).all()  # fmt: skip
    elsewhere: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
    hashes = sorted({p.sha256 for p in photos})
    for i in range(0, len(hashes), 500):
        for r in session.execute(
            sa.select(col(Attachment.sha256), col(Attachment.event_id), col(Attachment.id),
                      col(Unit.district_id))
            .join(Event, col(Event.id) == Attachment.event_id)
            .join(Unit, col(Unit.id) == Event.unit_id)
            .where(col(Attachment.sha256).in_(hashes[i : i + 500]), col(Attachment.kind) == "photo")
            .order_by(col(Attachment.id))
        ):  # fmt: skip
            elsewhere[r.sha256].append((r.event_id, r.id, r.district_id))
    for p in photos:
        ev = found[p.event_id]
        when, assumed = taken_at(str(Path(store.path(p.storage_key))), p.sha256)
        photo = Photo(p.id, p.filename, when, zone_assumed=assumed)
        if when is None:
            photo.flags.append("no_date")
        elif ev.held_on is not None and when.date() != ev.held_on:
            photo.flags.append("other_day")
        photo.same_as = [
            {"event_id": e, "attachment_id": a}
            for e, a, district in elsewhere[p.sha256]
            # a photo of another district's event is not named: its ids are not the reader's
            if e != p.event_id and district == district_of[p.event_id]
        ]
        if photo.same_as:
            photo.flags.append("duplicate")
        ev.photos.append(photo)
    return {i: found[i] for i in ids if i in found}


def flagged_in_campaign(
    session: Session, campaign_id: int, store: FileStore, *, unit_id: UnitScope = None
) -> list[EventEvidence]:
    """The campaign's events whose summary photos raise a flag, in event id order."""
    stmt = (
        sa.select(col(Attachment.event_id))
        .join(Event, col(Event.id) == Attachment.event_id)
        .where(col(Event.campaign_id) == campaign_id, col(Attachment.kind) == "photo")
        .distinct()
        .order_by(col(Attachment.event_id))
        .limit(MAX_EVENTS)
    )
    stmt = within(stmt, col(Event.unit_id), unit_id)
    ids = list(session.execute(stmt).scalars())
    return [ev for ev in check_events(session, ids, store).values() if ev.flagged]
