"""An event's summary draft and its photos and files."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Response, UploadFile
from fastapi.responses import FileResponse

from schemas.summaries import AttachmentOut, SummaryIn, SummaryOut
from web.deps import API_PREFIX, ActorDep, ClockDep, ExpectedVersion, SessionDep, SettingsDep
from web.loaders import load_event, load_event_for_write
from web.uploads import read_upload
from workflows.event import summary as summaries
from workflows.files.store import FileStore

router = APIRouter(prefix=API_PREFIX + "/events/{event_id}/summary", tags=["summary"])


@router.get("")
def get_summary(event_id: int, actor: ActorDep, session: SessionDep) -> SummaryOut:
    """The event's summary and attachments (a draft until submit_summary)."""
    load_event(session, actor, event_id)
    return SummaryOut.model_validate(summaries.view(session, event_id))


@router.put("")
def put_summary(
    event_id: int,
    body: SummaryIn,
    expected_version: ExpectedVersion,
    actor: ActorDep,
    session: SessionDep,
    clock: ClockDep,
) -> SummaryOut:
    """Write the summary draft (after the event is held, before it is submitted)."""
    event = load_event_for_write(session, actor, event_id)
    view = summaries.write_draft(
        session, event, body.text, expected_version=expected_version, actor=actor, now=clock.now()
    )
    session.commit()
    return SummaryOut.model_validate(view)


@router.post("/attachments", status_code=201)
def upload_attachment(
    event_id: int,
    file: Annotated[UploadFile, File(description="photo or document (图文资料)")],
    expected_version: ExpectedVersion,
    actor: ActorDep,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> AttachmentOut:
    """Attach a photo or file to the summary."""
    event = load_event_for_write(session, actor, event_id)
    summaries.require_open(event)
    data = read_upload(
        file, settings.upload_max_bytes, "attachment_too_large", "附件", "attachment"
    )
    attachment = summaries.attach(
        session,
        event,
        filename=file.filename or "attachment",
        content_type=file.content_type or "application/octet-stream",
        data=data,
        store=FileStore(settings.upload_dir),
        expected_version=expected_version,
        actor=actor,
        now=clock.now(),
    )
    session.commit()
    return AttachmentOut.model_validate(attachment)


@router.get("/attachments/{attachment_id}", response_class=FileResponse)
def download_attachment(
    event_id: int, attachment_id: int, actor: ActorDep, session: SessionDep, settings: SettingsDep
) -> FileResponse:
    """Download an attachment."""
    event = load_event(session, actor, event_id)
    attachment = summaries.get_attachment(session, event, attachment_id)
    # Served as the type detected at upload, never rendered inline by the browser.
    return FileResponse(
        FileStore(settings.upload_dir).path(attachment.storage_key),
        media_type=attachment.content_type,
        filename=summaries.download_name(attachment),
        content_disposition_type="attachment",
        headers={"X-Content-Type-Options": "nosniff"},
    )


@router.delete("/attachments/{attachment_id}", status_code=204)
def delete_attachment(
    event_id: int,
    attachment_id: int,
    expected_version: ExpectedVersion,
    actor: ActorDep,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> Response:
    """Remove an attachment before the summary is submitted (and its file, if unshared)."""
    event = load_event_for_write(session, actor, event_id)
    summaries.detach(
        session,
        event,
        attachment_id,
        expected_version=expected_version,
        actor=actor,
        now=clock.now(),
        store=FileStore(settings.upload_dir),
    )
    session.commit()
    return Response(status_code=204)
