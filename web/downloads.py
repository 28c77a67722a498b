"""Downloads for routes and pages: list exports streamed from their own session, report and
assessment workbooks, and the district summary draft, each with its file name."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import quote

from fastapi.responses import Response, StreamingResponse
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models import Campaign
from workflows.files.store import FileStore
from workflows.kernel import tenancy
from workflows.kernel.clock import local_date
from workflows.kernel.visibility import Actor
from workflows.reporting import bulletin, exports
from workflows.reporting.summary_docx import district_draft

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def stream_export(
    engine: Engine, actor: Actor, kind: str, fmt: str, filters: exports.Filters, now: datetime
) -> StreamingResponse:
    """The export streamed from its own session (the request's may close before the body),
    working for the caller's district as the request did."""

    def body() -> Iterator[bytes]:
        with Session(engine) as session:
            tenancy.bind_actor(session, actor)
            sheet = exports.sheet(session, kind, filters, now)
            yield from exports.chunks(sheet, fmt)

    stamp = local_date(now).strftime("%Y%m%d")
    title = exports.TITLES_ZH[kind]
    disposition = attachment(f"{kind}-{stamp}.{fmt}", f"{title}-{stamp}.{fmt}")
    return StreamingResponse(
        body(), media_type=exports.MEDIA_TYPES[fmt], headers={"Content-Disposition": disposition}
    )


def attachment(ascii_name: str, name: str) -> str:
    """A `Content-Disposition` every browser saves: a plain ASCII `filename` for old clients and
    the Chinese name as RFC 5987's `filename*` (UTF-8, percent-encoded), which browsers prefer."""
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


def xlsx_download(sheets: Any, name: str, now: datetime, title: str = "") -> StreamingResponse:
    """Sheets streamed as one workbook, named `name` (ASCII; `title` in Chinese) and the day."""
    stamp = local_date(now).strftime("%Y%m%d")
    suffix = name.rpartition("-")[2] if title and "-" in name else ""
    zh = f"{title}-{suffix}-{stamp}.xlsx" if suffix else f"{title or name}-{stamp}.xlsx"
    return StreamingResponse(
        exports.xlsx_chunks(sheets),
        media_type=exports.MEDIA_TYPES["xlsx"],
        headers={"Content-Disposition": attachment(f"{name}-{stamp}.xlsx", zh)},
    )


def summary_docx(
    session: Session, actor: Actor, campaign_id: int, now: datetime, upload_dir: Any
) -> Response:
    """The district summary draft (supervisors, viewers, administrators: it covers every unit)."""
    body = district_draft(session, actor, campaign_id, now, FileStore(upload_dir))
    stamp = local_date(now).strftime("%Y%m%d")
    disposition = attachment(
        f"summary-{campaign_id}-{stamp}.docx", f"总结报告-{campaign_id}-{stamp}.docx"
    )
    return Response(body, media_type=DOCX, headers={"Content-Disposition": disposition})


def bulletin_download(session: Session, actor: Actor, bulletin_id: int, fmt: str) -> Response:
    """A weekly 通报 as .docx or .xlsx (those who see every unit: supervisors, viewers,
    administrators; a unit's staff 403 `bulletin_forbidden`)."""
    bulletin.require_overview(actor)
    b = bulletin.get(session, actor, bulletin_id)
    campaign = session.get(Campaign, b.campaign_id)
    assert campaign is not None
    week = b.week_start.strftime("%Y%m%d")
    if fmt == "docx":
        body, media = bulletin.docx(b, campaign), DOCX
    else:
        body, media = bulletin.xlsx(b, campaign), exports.MEDIA_TYPES["xlsx"]
    disposition = attachment(f"bulletin-{week}.{fmt}", f"每周通报-{week}.{fmt}")
    return Response(body, media_type=media, headers={"Content-Disposition": disposition})
