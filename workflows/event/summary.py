"""The summary (总结): text and photos or files (图文资料), drafted after the event is held."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import event as sa_event
from sqlmodel import Session, col, select

from models import Attachment, Event, EventState, Summary, VisitPhoto
from workflows.event import submissions
from workflows.event.machine import STATE_LABELS_ZH
from workflows.event.service import record_edit, require_version
from workflows.files import filetypes
from workflows.files.store import FileStore
from workflows.kernel import tenancy
from workflows.kernel.errors import Conflict, DomainError, NotFound
from workflows.kernel.visibility import Actor

OPEN = (EventState.held, EventState.feedback_collected)


@dataclass(frozen=True)
class SummaryView:
    """The summary as people see it: a draft until submit_summary."""

    event_id: int
    text: str
    submitted_at: datetime | None
    attachments: list[Attachment]
    # Every submission (round, when, the deadline it answered to, how late), first first.
    submissions: list[dict[str, Any]] = field(default_factory=list)


def require_open(event: Event) -> None:
    """The summary may change after the event is held and until it is submitted."""
    if event.state not in OPEN:
        raise Conflict(
            "summary_not_open",
            f"活动状态为“{STATE_LABELS_ZH[event.state]}”，总结不能修改",
            f"the summary cannot change in state '{event.state}'",
        )


def view(session: Session, event_id: int) -> SummaryView:
    """The summary and its attachments."""
    summary = session.exec(select(Summary).where(Summary.event_id == event_id)).first()
    attachments = session.exec(
        select(Attachment).where(Attachment.event_id == event_id).order_by(col(Attachment.id))
    ).all()
    return SummaryView(
        event_id=event_id,
        text=summary.text if summary else "",
        submitted_at=summary.submitted_at if summary else None,
        attachments=list(attachments),
        submissions=[s.as_dict() for s in submissions.of_event(session, event_id)],
    )


def write_draft(
    session: Session, event: Event, text: str, *, expected_version: int, actor: Actor, now: datetime
) -> SummaryView:
    """Write the summary draft of a (locked) event."""
    require_open(event)
    require_version(event, expected_version)
    assert event.id is not None
    summary = session.exec(select(Summary).where(Summary.event_id == event.id)).first()
    if summary is None:
        summary = Summary(event_id=event.id, updated_at=now)
        session.add(summary)
    summary.text = text
    summary.updated_at = now
    record_edit(
        session,
        event,
        "summary",
        expected_version=expected_version,
        actor=actor,
        now=now,
        data={"characters": len(text)},
    )
    return view(session, event.id)


def clean_filename(name: str) -> str:
    """The last path part of an uploaded name, without control or bidirectional characters."""
    return filetypes.clean_filename(name)


def attach(
    session: Session,
    event: Event,
    *,
    filename: str,
    content_type: str,
    data: bytes,
    store: FileStore,
    expected_version: int,
    actor: Actor,
    now: datetime,
) -> Attachment:
    """Store a photo or file and attach it to a (locked) event's summary."""
    require_open(event)
    require_version(event, expected_version)
    if not data:
        raise DomainError("attachment_empty", "附件为空", "the attachment is empty", status=422)
    # The uploader's content type is not trusted: the bytes say what the file is.
    detected = filetypes.detect(data, "attachment", clean_filename(filename))
    stored = store.put(data)
    attachment = Attachment(
        event_id=event.id,  # type: ignore[arg-type]
        kind="photo" if detected.is_image else "file",
        filename=clean_filename(filename),
        content_type=detected.content_type,
        size=stored.size,
        sha256=stored.sha256,
        storage_key=stored.key,
        uploaded_by=actor.id,
        created_at=now,
    )
    session.add(attachment)
    session.flush()
    record_edit(
        session,
        event,
        "attachment",
        expected_version=expected_version,
        actor=actor,
        now=now,
        data={"added": attachment.id, "filename": attachment.filename, "size": attachment.size},
    )
    return attachment


def remove_unreferenced_after_commit(session: Session, store: FileStore, key: str) -> None:
    """Once this transaction commits, delete the stored file if no row refers to it any more."""
    engine = session.get_bind()

    def _after_commit(_: Session) -> None:
        with Session(engine) as check:
            # Whether any district's row refers to the file: a city-wide job's question.
            tenancy.bind(check, tenancy.JOBS)
            used = (
                check.exec(select(Attachment.id).where(Attachment.storage_key == key)).first()
                or check.exec(select(VisitPhoto.id).where(VisitPhoto.storage_key == key)).first()
            )
        if used is None:
            store.path(key).unlink(missing_ok=True)

    sa_event.listen(session, "after_commit", _after_commit, once=True)


def get_attachment(session: Session, event: Event, attachment_id: int) -> Attachment:
    """An attachment of this event, or 404."""
    attachment = session.get(Attachment, attachment_id)
    if attachment is None or attachment.event_id != event.id:
        raise NotFound(
            "attachment_not_found",
            f"附件 {attachment_id} 不存在",
            f"attachment {attachment_id} not found",
        )
    return attachment


def download_name(attachment: Attachment) -> str:
    """The name a summary file is served under, derived by the service, never the uploader's:
    总结-<event id>-<attachment id>.<extension of the detected type>."""
    ext = filetypes.served_extension(attachment.content_type, attachment.filename)
    return f"总结-{attachment.event_id}-{attachment.id}.{ext}"


def detach(
    session: Session,
    event: Event,
    attachment_id: int,
    *,
    expected_version: int,
    actor: Actor,
    now: datetime,
    store: FileStore | None = None,
) -> None:
    """Remove an attachment before the summary is submitted (its file too, once the removal
    is committed and nothing else refers to the same bytes)."""
    require_open(event)
    require_version(event, expected_version)
    attachment = get_attachment(session, event, attachment_id)
    session.delete(attachment)
    if store is not None:
        remove_unreferenced_after_commit(session, store, attachment.storage_key)
    record_edit(
        session,
        event,
        "attachment",
        expected_version=expected_version,
        actor=actor,
        now=now,
        data={"removed": attachment_id, "filename": attachment.filename},
    )
