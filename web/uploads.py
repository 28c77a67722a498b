"""Reading uploaded files for routes and pages, refused with 413 past a size limit."""

from __future__ import annotations

from fastapi import UploadFile

from workflows.kernel.errors import DomainError


def read_upload(file: UploadFile, limit: int, code: str, what_zh: str, what_en: str) -> bytes:
    """An uploaded file's bytes, refused with 413 past `limit`."""
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise DomainError(
            code,
            f"{what_zh}超过 {limit // (1024 * 1024)} MB 上限",
            f"the {what_en} exceeds the {limit} byte limit",
            status=413,
        )
    return data
