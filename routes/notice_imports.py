"""A new campaign read from its notice (issue 30): the JSON twin of 从通知新建活动."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from routes.campaigns import campaign_out
from schemas.common import ErrorOut
from web.deps import API_PREFIX, ActorDep, ClockDep, SessionDep, SettingsDep
from web.uploads import read_upload
from workflows.campaign import notice_campaign as notice
from workflows.files.archive_guard import ImportLimits
from workflows.kernel.errors import InvalidData

router = APIRouter(prefix=API_PREFIX + "/campaigns", tags=["campaigns"])


def _edits(values: str | None) -> dict[str, Any] | None:
    """The caller's values replacing what was read, as a JSON object of strings."""
    if not values:
        return None
    try:
        parsed = json.loads(values)
    except ValueError:
        parsed = None
    known = [*notice.VALUE_LABELS, *notice.SWITCH_VALUE_LABELS]
    if not isinstance(parsed, dict) or set(parsed) - set(known):
        raise InvalidData(
            "notice_values_invalid",
            "values 应为 JSON 对象，键为：" + "、".join(known),
            "values must be a JSON object with keys among: " + ", ".join(known),
            status=422,
        )
    return {key: "" if value is None else str(value) for key, value in parsed.items()}


DistrictForm = Annotated[
    int | None,
    Form(
        ge=1,
        le=2**31 - 1,
        description="the district the campaign is for: a district's supervisor may leave it out "
        "(its own); a city supervisor names one whose grant it holds (422 `district_required` "
        "without one, 403 `district_grant_required` without the grant)",
    ),
]


@router.post(
    "/notice-imports",
    status_code=201,
    responses={
        200: {"description": "dry run: the preview, nothing written"},
        403: {"model": ErrorOut, "description": "not a supervisor, or no grant of the district"},
        404: {"model": ErrorOut, "description": "no such district (or another district's)"},
        409: {"model": ErrorOut, "description": "a campaign exists for its 文号, window or year"},
        413: {"model": ErrorOut, "description": "file or text too large"},
        422: {"model": ErrorOut, "description": "not a notice, values missing or contradicting"},
    },
)
def import_notice(
    actor: ActorDep,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    file: Annotated[UploadFile | None, File(description="the notice, .docx or .txt")] = None,
    text: Annotated[str | None, Form(description="the notice's text, pasted")] = None,
    values: Annotated[
        str | None,
        Form(
            description="JSON object replacing values read from the notice (or filling what it "
            "does not say): doc_number, issuing_office, title, starts_on, ends_on, invitees_min, "
            "invitees_max, citizen_share_min, feedback_answer_workdays, summary_due_days, "
            "summary_recipient"
        ),
    ] = None,
    district_id: DistrictForm = None,
    dry_run: bool = False,
) -> JSONResponse:
    """Read a notice into the campaign it describes (supervisors).

    A dry run answers the preview — each value with the sentence and section it was read from,
    what the notice does not say (`missing`, `not_in_notice`), campaigns it clashes with and the
    attached schedule table's rows — and writes nothing. Otherwise the campaign is created
    (201) unless a required value is missing (422 `notice_fields_missing`), values contradict
    (422 `notice_window_reversed`, `notice_share_above_one`) or a campaign exists for its 文号,
    window or year (409). Import the schedule table next with
    `POST /campaigns/{id}/schedule-imports` and the same file.

    The campaign's district is the caller's own, or at the city level `district_id`, as for
    `POST /campaigns`; the clashes are those of that district (a city-level dry run naming no
    district shows none).
    """
    actor.require_supervisor()
    district = notice.district_of_preview(session, actor, district_id)  # 404 before reading
    limits = ImportLimits.of(settings)
    if file is not None and file.filename:
        data = read_upload(file, settings.upload_max_bytes, "file_too_large", "文件", "file")
        filename = file.filename
        notice_text = notice.read_notice(data, filename, limits)
    else:
        notice_text, filename = notice.check_text(text or ""), "notice.txt"
        data = notice_text.encode("utf-8")
    edits = _edits(values)
    preview = notice.preview(
        session, notice_text, limits, source=data, filename=filename, edits=edits,
        district_id=district,
    )  # fmt: skip
    if dry_run:
        return JSONResponse(jsonable_encoder(preview.as_dict()))
    campaign = notice.create_from_notice(
        session, actor, preview.values, preview.draft, clock.now(),
        source={"filename": filename}, district_id=district_id,
    )  # fmt: skip
    session.commit()
    body = {"campaign": campaign_out(session, campaign), "notice": preview.as_dict()}
    return JSONResponse(jsonable_encoder(body), status_code=201)
