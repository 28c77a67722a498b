"""Audit retention: archive the lines older than the retention, then remove them (issue 29).

Audit lines are kept at least OPENDAY_AUDIT_RETENTION_DAYS (180 at least: 网络安全法 第二十一条).
`archive_and_purge` takes the lines older than a cut-off, writes them to a zip archive — one
JSON line per row (its id, chain position, prev_hash, row_hash and hashed content) per table,
and `manifest.json`: the cut-off, each chain's first row's prev_hash and its head at the cut
(last seq and row_hash), every file's SHA-256, the whole MAC'd under the audit key — checks the
archive it wrote as `verify_archive` would, and only then, in one transaction: records the
archive in the change log, writes one anchor per shortened chain (`audit_anchor`, MAC'd) and
deletes the archived rows, which the append-only triggers let through only at or below their
chain's anchor. `openday audit verify` resumes each chain from its anchor; the archive verifies
on its own (`openday audit verify-archive`, with the audit key), and the SHA-256 of the archive
file is in every anchor and in the change-log line, so the database names the archive it trusts.

Only a chain's prefix of old rows goes: a chain stops at its first row younger than the
cut-off, and keeps its last row (and, for an event, its last line of the event's own), so new
lines append as before and an event's version and state stay accounted for. A cut-off younger
than the retention is refused, and so is a chain that does not verify (tampering is evidence,
never archived away).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import Session

from models import AuditAnchor, ChangeLog, TransitionLog
from workflows.kernel import audit
from workflows.kernel.errors import DomainError
from workflows.kernel.visibility import Actor

FORMAT = "openday-audit-archive/1"
MANIFEST = "manifest.json"
_MODELS: tuple[type[Any], ...] = (ChangeLog, TransitionLog)


@dataclass(frozen=True)
class Cut:
    """One chain's archived prefix: rows first_seq..last_seq."""

    table: str
    event_id: int | None
    first_seq: int
    last_seq: int


@dataclass
class ArchiveResult:
    """What one run archived and removed."""

    cutoff: datetime
    path: Path | None = None
    sha256: str | None = None
    rows: dict[str, int] = field(default_factory=dict)
    chains: int = 0


@dataclass
class ArchiveCheck:
    """An archive verified on its own: rows per table, chains, and what does not hold."""

    rows: dict[str, int] = field(default_factory=dict)
    chains: int = 0
    cutoff: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Nothing wrong found."""
        return not self.problems


def refuse_young(cutoff: datetime, now: datetime, retention_days: int) -> None:
    """A cut-off inside the retention would remove lines younger than it: refused."""
    oldest_allowed = now - timedelta(days=retention_days)
    if cutoff > oldest_allowed:
        raise DomainError(
            "audit_retention",
            f"审计记录至少保留 {retention_days} 天：截止时间不能晚于 "
            f"{oldest_allowed:%Y-%m-%d %H:%M} (UTC)",
            f"audit lines are kept at least {retention_days} days: the cut-off cannot be later "
            f"than {oldest_allowed:%Y-%m-%d %H:%M} UTC",
            status=422,
            details={"retention_days": retention_days, "latest_cutoff": oldest_allowed},
        )


# ---- which rows go -------------------------------------------------------------------------------


def plan(connection: Connection, cutoff: datetime) -> list[Cut]:
    """Each chain's prefix of rows older than the cut-off, less what must stay (see above)."""
    cuts: list[Cut] = []
    for model in _MODELS:
        table = audit._table(model)
        per_event = table.name in audit.PER_EVENT
        chain = table.c.event_id if per_event else sa.literal(None)
        own = (
            sa.func.max(sa.case((table.c.feedback_item_id.is_(None), table.c.seq)))
            if per_event
            else sa.func.max(table.c.seq)
        )
        query = sa.select(
            chain.label("chain"),
            sa.func.min(table.c.seq),
            sa.func.max(table.c.seq),
            sa.func.min(sa.case((table.c.at >= cutoff, table.c.seq))),
            own,
        )
        if per_event:
            query = query.group_by(table.c.event_id)
        for key, first, last, young, last_own in connection.execute(query):
            if first is None:
                continue
            stop = min(int(last), int(last_own or last), int(young or last + 1)) - 1
            if stop >= int(first):
                cuts.append(Cut(table.name, key, int(first), stop))
    return cuts


def _rows(connection: Connection, cut: Cut) -> Iterator[dict[str, Any]]:
    """A cut's rows in chain order."""
    model = ChangeLog if cut.table == "change_log" else TransitionLog
    table = audit._table(model)
    query = sa.select(table).where(table.c.seq.between(cut.first_seq, cut.last_seq))
    if cut.event_id is not None:
        query = query.where(table.c.event_id == cut.event_id)
    for row in connection.execute(query.order_by(table.c.seq)).mappings():
        yield dict(row)


# ---- the archive -------------------------------------------------------------------------------


def _key_id() -> str:
    """Which audit key sealed an archive (a fingerprint, never the key)."""
    return hashlib.sha256(b"openday-audit-key-id:" + audit.chain_key()).hexdigest()[:16]


def _manifest_mac(manifest: dict[str, Any], algorithm: str) -> str:
    body = {k: v for k, v in manifest.items() if k != "mac"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return audit.mac(audit.chain_key(), text.encode(), algorithm)


def write_archive(
    connection: Connection, cuts: list[Cut], *, cutoff: datetime, now: datetime, directory: Path
) -> tuple[Path, str]:
    """Write the cuts' rows and the manifest to a new zip under `directory`; its path and the
    SHA-256 of the file. A chain that does not verify is refused (nothing written)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"openday-audit-{now:%Y%m%dT%H%M%SZ}-{cutoff:%Y%m%d}.zip"
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    chains, files = [], {}
    try:
        with zipfile.ZipFile(partial, "x", zipfile.ZIP_DEFLATED) as archive:
            for model in _MODELS:
                name = audit._table(model).name
                digest, count = hashlib.sha256(), 0
                with archive.open(f"{name}.jsonl", "w") as out:
                    for cut in (c for c in cuts if c.table == name):
                        chain = _write_chain(connection, cut, out, digest)
                        chains.append(chain)
                        count += chain["rows"]
                files[f"{name}.jsonl"] = {"sha256": digest.hexdigest(), "rows": count}
            manifest: dict[str, Any] = {
                "format": FORMAT,
                "created_at": now.isoformat(),
                "cutoff": cutoff.isoformat(),
                "key_id": _key_id(),
                "algorithm": audit.chain_algorithm(),
                "files": files,
                "chains": chains,
            }
            manifest["mac"] = _manifest_mac(manifest, audit.chain_algorithm())
            archive.writestr(MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1))
        with partial.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path, file_sha256(path)


def _write_chain(connection: Connection, cut: Cut, out: Any, digest: Any) -> dict[str, Any]:
    """One chain's rows as JSON lines, checked link by link as they are written."""
    table = audit._table(ChangeLog if cut.table == "change_log" else TransitionLog)
    first_prev: str | None = None
    prev, expected, count = "", cut.first_seq, 0
    for row in _rows(connection, cut):
        if first_prev is None:
            first_prev = prev = str(row["prev_hash"])
        ok = (
            row["seq"] == expected
            and row["prev_hash"] == prev
            and hmac.compare_digest(str(row["row_hash"]), audit.stored_digest(table, row, prev))
        )
        if not ok:
            raise DomainError(
                "audit_chain_broken",
                f"审计链在 {cut.table} 第 {row['id']} 行断开，不能归档"
                "（请先运行 openday audit verify）",
                f"the audit chain of {cut.table} is broken at row id {row['id']}; nothing is "
                "archived (run `openday audit verify`)",
                status=409,
            )
        line = {
            "id": row["id"],
            "seq": row["seq"],
            "prev_hash": row["prev_hash"],
            "row_hash": row["row_hash"],
            "content": audit.canonical_content(table, row),
        }
        data = (json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n").encode()
        out.write(data)
        digest.update(data)
        prev, expected, count = str(row["row_hash"]), expected + 1, count + 1
    return {
        "table": cut.table,
        "event_id": cut.event_id,
        "first_seq": cut.first_seq,
        "first_prev_hash": first_prev,
        "head_seq": cut.last_seq,
        "head_hash": prev,
        "rows": count,
    }


def file_sha256(path: Path) -> str:
    """SHA-256 of a file."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


# ---- verifying an archive on its own ------------------------------------------------------------


def verify_archive(path: Path) -> ArchiveCheck:
    """Check an archive without the database: the manifest's MAC, each file's SHA-256, every
    row's MAC and link, each chain from its first prev_hash to the head the manifest names."""
    check = ArchiveCheck()
    try:
        with zipfile.ZipFile(path) as archive:
            manifest = json.loads(archive.read(MANIFEST))
            _check_manifest(manifest, check)
            if check.ok:
                for name, expected in manifest["files"].items():
                    _check_file(archive.read(name), name, expected, manifest, check)
    except (OSError, KeyError, ValueError, TypeError, zipfile.BadZipFile) as exc:
        check.problems.append(f"unreadable archive: {type(exc).__name__}: {exc}")
    return check


def _check_manifest(manifest: dict[str, Any], check: ArchiveCheck) -> None:
    if manifest.get("format") != FORMAT:
        check.problems.append(f"unknown format {manifest.get('format')!r}")
        return
    if manifest["key_id"] != _key_id():
        check.problems.append(f"sealed with another audit key (key id {manifest['key_id']})")
        return
    stored = str(manifest.get("mac", ""))
    if not hmac.compare_digest(stored, _manifest_mac(manifest, audit.algorithm_of(stored))):
        check.problems.append("manifest MAC does not match (manifest changed)")
    check.cutoff = manifest["cutoff"]
    check.chains = len(manifest["chains"])


def _check_file(
    data: bytes, name: str, expected: dict[str, Any], manifest: dict[str, Any], check: ArchiveCheck
) -> None:
    if hashlib.sha256(data).hexdigest() != expected["sha256"]:
        check.problems.append(f"{name}: SHA-256 does not match the manifest")
        return
    table = name.removesuffix(".jsonl")
    heads = {
        c["event_id"]: c for c in manifest["chains"] if c["table"] == table
    }  # chain → what the manifest says
    walked: dict[int | None, tuple[int, str]] = {}
    for text in data.decode().splitlines():
        row = json.loads(text)
        key = row["content"].get("event_id") if table == "transition_log" else None
        head = heads.get(key)
        if head is None:
            check.problems.append(f"{name}: row id {row['id']} of a chain the manifest lacks")
            return
        seq, prev = walked.get(key, (head["first_seq"] - 1, head["first_prev_hash"]))
        text_mac = audit.canonical_text(table, row["content"], prev)
        computed = audit.mac(audit.chain_key(), text_mac, audit.algorithm_of(row["row_hash"]))
        if (
            row["seq"] != seq + 1
            or row["content"].get("seq") != row["seq"]
            or row["prev_hash"] != prev
            or not hmac.compare_digest(str(row["row_hash"]), computed)
        ):
            check.problems.append(f"{name}: row id {row['id']} (seq {row['seq']}) does not verify")
            return
        walked[key] = (row["seq"], row["row_hash"])
    for key, head in heads.items():
        if walked.get(key) != (head["head_seq"], head["head_hash"]):
            check.problems.append(f"{name}: chain {key} does not end at its head in the manifest")
            return
    check.rows[table] = len(data.splitlines())


# ---- the run ----------------------------------------------------------------------------------


def archive_and_purge(
    session: Session,
    actor: Actor,
    *,
    now: datetime,
    cutoff: datetime,
    retention_days: int,
    directory: Path,
) -> ArchiveResult:
    """Archive every chain's lines older than `cutoff`, verify the archive, then anchor the
    chains and remove those lines, recording the run in the change log (caller commits)."""
    refuse_young(cutoff, now, retention_days)
    connection = session.connection()
    cuts = plan(connection, cutoff)
    result = ArchiveResult(cutoff=cutoff)
    if not cuts:
        return result
    try:
        path, sha256 = write_archive(connection, cuts, cutoff=cutoff, now=now, directory=directory)
    except OSError as exc:
        raise DomainError(
            "audit_archive_failed",
            f"无法写入归档文件（{directory}），未删除任何审计记录",
            f"cannot write the archive under {directory} ({exc.strerror or exc}); no audit line "
            "was removed",
            status=500,
        ) from exc
    check = verify_archive(path)
    if not check.ok or file_sha256(path) != sha256:
        raise DomainError(
            "audit_archive_unverified",
            "归档文件校验未通过，未删除任何审计记录",
            f"the archive written does not verify ({'; '.join(check.problems)}); no audit line "
            "was removed",
            status=500,
        )
    result.path, result.sha256, result.chains = path, sha256, len(cuts)
    result.rows = {t: sum(c.last_seq - c.first_seq + 1 for c in cuts if c.table == t) for t in
                   ("change_log", "transition_log")}  # fmt: skip
    audit.record(
        session, actor, entity="audit", entity_id=None, action="audit_archive", now=now,
        after={"archive": path.name, "sha256": sha256, "cutoff": cutoff, "rows": result.rows,
               "chains": len(cuts), "retention_days": retention_days},
    )  # fmt: skip
    session.flush()
    _anchor_and_remove(session, cuts, path.name, sha256, cutoff, now)
    return result


def _anchor_and_remove(
    session: Session, cuts: list[Cut], name: str, sha256: str, cutoff: datetime, now: datetime
) -> None:
    """One anchor per cut, then the cut's rows; a count that differs undoes everything."""
    connection = session.connection()
    anchors_table = audit._table(AuditAnchor)
    for cut in cuts:
        model = ChangeLog if cut.table == "change_log" else TransitionLog
        table = audit._table(model)
        head = connection.execute(
            sa.select(table.c.row_hash).where(
                table.c.seq == cut.last_seq,
                *([table.c.event_id == cut.event_id] if cut.event_id is not None else []),
            )
        ).scalar_one()
        anchor = {
            "table_name": cut.table, "event_id": cut.event_id, "seq": cut.last_seq,
            "row_hash": head, "cutoff": cutoff, "archive_name": name, "archive_sha256": sha256,
            "at": now,
        }  # fmt: skip
        anchor["anchor_hash"] = audit.anchor_mac(anchor)
        connection.execute(sa.insert(anchors_table).values(**anchor))
        remove = sa.delete(table).where(
            table.c.seq.between(cut.first_seq, cut.last_seq), table.c.at < cutoff
        )
        if cut.event_id is not None:
            remove = remove.where(table.c.event_id == cut.event_id)
        removed = connection.execute(remove).rowcount
        if removed != cut.last_seq - cut.first_seq + 1:
            raise DomainError(
                "audit_purge_mismatch",
                "待删除的审计记录与归档不一致，未删除任何记录",
                f"{cut.table} chain {cut.event_id}: {removed} rows matched, "
                f"{cut.last_seq - cut.first_seq + 1} archived; nothing was removed",
                status=409,
            )
