"""Reading a backup archive safely: every member is checked against the manifest before any of
it is used. The manifest comes first and is capped in size; each later member must be one the
manifest names (the database, or files/<key> with a content address for a key), a regular file,
of exactly the size the manifest declares, and all of them together must fit on the disk; each
is unpacked into a staging folder while its sha256 is computed, and a member whose hash differs,
a member missing, a member twice, or a truncated archive refuses the whole archive. Nothing
outside the staging folder is written here."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from workflows.backup import facts
from workflows.backup.snapshot import DATABASE_MEMBER, FILES, MANIFEST
from workflows.kernel.errors import DomainError

MAX_MANIFEST_BYTES = 64 * 1024 * 1024
FILE_KEY = re.compile(r"^[0-9a-f]{2}/([0-9a-f]{64})$")


@dataclass(frozen=True)
class Unpacked:
    """A checked archive in its staging folder."""

    manifest: dict[str, Any]
    database: Path
    files: dict[str, Path]  # key → staged file


def damaged(why_zh: str, why_en: str, **details: Any) -> DomainError:
    return DomainError(
        "backup_archive_damaged",
        f"备份文件损坏或不完整，未恢复任何内容：{why_zh}",
        f"the backup archive is damaged or incomplete, nothing was restored: {why_en}",
        status=422,
        details=details,
    )


def unpack(path: Path, staging: Path) -> Unpacked:
    """Check and unpack `path` into `staging`; refuse a damaged archive."""
    try:
        with tarfile.open(path, "r:") as archive:
            members = iter(archive)
            manifest = _manifest(archive, next(members, None))
            expected = _expected(manifest)
            _fits(staging, sum(size for size, _ in expected.values()))
            staged = _members(archive, members, expected, staging)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise damaged("无法读取（已截断或不是备份文件）", f"unreadable ({exc})") from exc
    database = staged.pop(manifest["database"]["member"])
    files = {name.removeprefix(FILES): p for name, p in staged.items()}
    return Unpacked(manifest, database, files)


def _manifest(archive: tarfile.TarFile, first: tarfile.TarInfo | None) -> dict[str, Any]:
    if first is None or first.name != MANIFEST or not first.isreg():
        raise damaged("第一个成员不是 manifest.json", "its first member is not manifest.json")
    if first.size > MAX_MANIFEST_BYTES:
        raise damaged("manifest.json 过大", "manifest.json is too large", size=first.size)
    handle = archive.extractfile(first)
    assert handle is not None
    try:
        manifest = json.loads(handle.read().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise damaged("manifest.json 无法解析", "manifest.json does not parse") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != facts.FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise DomainError(
            "backup_format_unknown",
            f"不是本系统可识别的备份格式（{found}），未恢复任何内容",
            f"not a backup format this version reads ({found}); nothing was restored",
            status=422,
        )
    return manifest


def _expected(manifest: dict[str, Any]) -> dict[str, tuple[int, str]]:
    """Member name → (size, sha256), from a manifest whose shape is checked."""
    try:
        database = manifest["database"]
        if database["member"] not in DATABASE_MEMBER.values():
            raise damaged("数据库成员名无效", "invalid database member name")
        expected = {str(database["member"]): (int(database["size"]), str(database["sha256"]))}
        for key, entry in dict(manifest["files"]).items():
            address = FILE_KEY.match(str(key))
            if address is None or address.group(1) != entry["sha256"]:
                raise damaged(f"文件名无效：{key}", f"invalid file key: {key}")
            expected[FILES + key] = (int(entry["size"]), str(entry["sha256"]))
        for name in ("backend", "migration_head", "row_counts", "audit", "keys"):
            manifest[name]  # noqa: B018 - presence
    except (KeyError, TypeError, ValueError) as exc:
        raise damaged("manifest.json 缺少字段", f"manifest.json lacks a field ({exc})") from exc
    if any(size < 0 for size, _ in expected.values()):
        raise damaged("成员大小为负", "a member size is negative")
    return expected


def _fits(staging: Path, total: int) -> None:
    free = shutil.disk_usage(staging).free
    if total > free:
        raise DomainError(
            "backup_no_space",
            f"磁盘空间不足：恢复需要 {total} 字节，可用 {free} 字节，未恢复任何内容",
            f"not enough disk space: the restore needs {total} bytes, {free} are free; "
            "nothing was restored",
            status=422,
        )


def _members(
    archive: tarfile.TarFile,
    members: Any,
    expected: dict[str, tuple[int, str]],
    staging: Path,
) -> dict[str, Path]:
    staged: dict[str, Path] = {}
    for member in members:
        if member.name not in expected or member.name in staged:
            raise damaged(f"多余或重复的成员：{member.name}", f"unexpected member {member.name}")
        size, digest = expected[member.name]
        if not member.isreg() or member.size != size:
            raise damaged(
                f"成员大小与清单不符：{member.name}",
                f"{member.name} is {member.size} bytes, the manifest says {size}",
            )
        target = staging / f"{len(staged):08d}"
        handle = archive.extractfile(member)
        assert handle is not None
        if _copy(handle, target, size) != digest:
            raise damaged(f"校验值不符：{member.name}", f"sha256 of {member.name} differs")
        staged[member.name] = target
    missing = sorted(set(expected) - set(staged))
    if missing:
        raise damaged(f"缺少成员：{missing[0]} 等 {len(missing)} 个", f"missing {missing[:3]}")
    return staged


def _copy(source: IO[bytes], target: Path, size: int) -> str:
    """Copy at most `size` bytes, hashing them; the sha256 of what was copied."""
    digest = hashlib.sha256()
    left = size
    with target.open("wb") as out:
        while left > 0:
            block = source.read(min(left, 1 << 20))
            if not block:
                raise EOFError("member shorter than its header")
            digest.update(block)
            out.write(block)
            left -= len(block)
    return digest.hexdigest()
