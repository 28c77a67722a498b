"""Limits on what an imported file may unpack to, checked before any parser sees it.

A .docx or .xlsx is a zip archive. Before python-docx or openpyxl opens one, its central
directory is read (a few KB, nothing is decompressed) and refused when it holds too many
members, when one member or all of them would unpack past the caps, or when a member's
compression ratio is that of a zip bomb. The declared sizes are a real bound: Python's zipfile
stops decompressing a member at its declared size (a member that lies fails its CRC check).

The part a parser builds a whole tree of (a .docx's word/document.xml; an .xlsx's shared strings,
which openpyxl loads whole even when it streams the sheets) has a lower cap of its own:
python-docx and lxml hold about 15 bytes per byte of it while parsing, and the process keeps
that high-water mark afterwards, so a 16 MB document.xml cost ~235 MB per dry run. At 4 MB a
parse peaks near 60 MB; a real schedule table (hundreds of rows, ~1–5 KB each) is far below it.

Rows and cells of an import are capped while the rows are read (:func:`capped_rows`), so a
table of a million rows stops at the cap instead of being read to the end.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from workflows.kernel.errors import InvalidData


@dataclass(frozen=True)
class ImportLimits:
    """Caps of one import (settings: OPENDAY_ARCHIVE_* and OPENDAY_IMPORT_*)."""

    max_members: int = 2000
    max_unpacked_bytes: int = 64 * 1024 * 1024
    max_member_bytes: int = 16 * 1024 * 1024
    max_document_bytes: int = 4 * 1024 * 1024
    max_ratio: int = 100
    max_rows: int = 5000
    max_cells: int = 200_000
    # A .docx/.xlsx is parsed in a child process within these (workflows/files/isolated.py).
    parse_seconds: float = 60.0
    parse_memory_bytes: int = 512 * 1024 * 1024  # on top of the child's size as forked

    @classmethod
    def of(cls, settings: Any) -> ImportLimits:
        """The limits a Settings object names."""
        return cls(
            max_members=settings.archive_max_members,
            max_unpacked_bytes=settings.archive_max_unpacked_bytes,
            max_member_bytes=settings.archive_max_member_bytes,
            max_document_bytes=settings.archive_max_document_bytes,
            max_ratio=settings.archive_max_ratio,
            max_rows=settings.import_max_rows,
            max_cells=settings.import_max_cells,
            parse_seconds=settings.import_parse_seconds,
            parse_memory_bytes=settings.import_parse_memory_mb * 1024 * 1024,
        )


# The parts parsed whole into a tree (python-docx, openpyxl's shared strings).
DOCUMENT_PARTS = frozenset({"word/document.xml", "xl/sharedStrings.xml"})
# A member this small may have any ratio (a few KB of repeated XML compresses very well).
_RATIO_FREE_BYTES = 1024 * 1024


def _refuse(code: str, zh: str, en: str, status: int, **details: Any) -> InvalidData:
    return InvalidData(code, zh, en, status=status, details=details)


def check_archive(data: bytes, filename: str, limits: ImportLimits) -> None:
    """Refuse an archive that would unpack past the limits (422 or 413); read nothing else."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
        raise _refuse(
            "file_unreadable",
            f"无法读取文件“{filename}”：不是有效的压缩文档",
            f'cannot read "{filename}": not a valid zip-based document',
            422,
        ) from exc
    if len(members) > limits.max_members:
        raise _refuse(
            "archive_too_many_members",
            f"文件“{filename}”包含的部件过多（{len(members)} 个，上限 {limits.max_members}）",
            f'"{filename}" holds too many parts ({len(members)}, limit {limits.max_members})',
            422,
            members=len(members),
            limit=limits.max_members,
        )
    total = 0
    for member in members:
        _check_member(member, filename, limits)
        total += member.file_size
    if total > limits.max_unpacked_bytes:
        raise _refuse(
            "archive_too_large",
            f"文件“{filename}”解压后过大（{total} 字节，上限 {limits.max_unpacked_bytes}）",
            f'"{filename}" unpacks to {total} bytes (limit {limits.max_unpacked_bytes})',
            413,
            unpacked_bytes=total,
            limit=limits.max_unpacked_bytes,
        )


def _check_member(member: zipfile.ZipInfo, filename: str, limits: ImportLimits) -> None:
    size = member.file_size
    if size > limits.max_member_bytes:
        raise _refuse(
            "archive_member_too_large",
            f"文件“{filename}”中的“{member.filename}”解压后过大"
            f"（{size} 字节，上限 {limits.max_member_bytes}）",
            f'"{member.filename}" in "{filename}" unpacks to {size} bytes '
            f"(limit {limits.max_member_bytes})",
            413,
            member=member.filename,
            unpacked_bytes=size,
            limit=limits.max_member_bytes,
        )
    ratio = size / max(member.compress_size, 1)
    if size > _RATIO_FREE_BYTES and ratio > limits.max_ratio:
        raise _refuse(
            "archive_ratio_too_high",
            f"文件“{filename}”中的“{member.filename}”压缩比异常（{ratio:.0f} 倍），疑似压缩炸弹",
            f'"{member.filename}" in "{filename}" has a compression ratio of {ratio:.0f} '
            f"(limit {limits.max_ratio}): refused as a likely zip bomb",
            422,
            member=member.filename,
            ratio=round(ratio),
            limit=limits.max_ratio,
        )
    if member.filename in DOCUMENT_PARTS and size > limits.max_document_bytes:
        raise _refuse(
            "archive_document_too_large",
            f"文件“{filename}”的正文部分“{member.filename}”过大"
            f"（解压后 {size} 字节，上限 {limits.max_document_bytes}）：请只保留日程表后重新上传",
            f'the main part "{member.filename}" of "{filename}" unpacks to {size} bytes '
            f"(limit {limits.max_document_bytes}): keep only the schedule table and upload again",
            413,
            member=member.filename,
            unpacked_bytes=size,
            limit=limits.max_document_bytes,
        )


def capped_rows(
    rows: Iterable[tuple[int, list[str]]], filename: str, limits: ImportLimits
) -> Iterator[tuple[int, list[str]]]:
    """Pass rows through, refusing (413) once the import passes its row or cell cap."""
    count = cells = 0
    for row in rows:
        count += 1
        cells += len(row[1])
        if count > limits.max_rows:
            raise _refuse(
                "import_too_many_rows",
                f"文件“{filename}”的行数超过上限（{limits.max_rows} 行）",
                f'"{filename}" has more than {limits.max_rows} rows',
                413,
                limit=limits.max_rows,
            )
        if cells > limits.max_cells:
            raise _refuse(
                "import_too_many_cells",
                f"文件“{filename}”的单元格数超过上限（{limits.max_cells} 个）",
                f'"{filename}" has more than {limits.max_cells} cells',
                413,
                limit=limits.max_cells,
            )
        yield row
