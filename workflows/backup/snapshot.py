"""`openday backup`: one consistent snapshot of the database, the uploaded files, and a
manifest, in one tar archive.

The database is copied in one snapshot while writes go on: SQLite through its online backup
API (one step, under a read transaction: in WAL mode writers carry on), PostgreSQL by
`pg_dump -Fc --snapshot` of a snapshot this process exports and holds in a REPEATABLE READ
transaction. The manifest's row counts and audit chain heads are read from that same snapshot
(the SQLite copy; the held PostgreSQL transaction), so they describe exactly what the archive
holds. Files are content-addressed and written before the row that names them commits, so the
files present after the snapshot include every one it refers to.

Archive members, in order: manifest.json, the database (database.sqlite or database.pgdump),
then files/<key> for each uploaded file. The archive is written under a temporary name and
renamed into place when complete.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from workflows.backup import facts
from workflows.kernel.errors import DomainError

MANIFEST = "manifest.json"
FILES = "files/"
DATABASE_MEMBER = {"sqlite": "database.sqlite", "postgresql": "database.pgdump"}


@dataclass(frozen=True)
class Taken:
    """A finished backup: where it is and what its manifest says."""

    path: Path
    manifest: dict[str, Any]


def backend_of(url: str) -> str:
    """'sqlite' or 'postgresql' (anything else is refused)."""
    name = make_url(url).get_backend_name()
    if name not in DATABASE_MEMBER:
        raise DomainError(
            "backup_backend_unknown",
            f"不支持的数据库：{name}（仅支持 SQLite 与 PostgreSQL）",
            f"unsupported database: {name} (SQLite and PostgreSQL only)",
        )
    return name


def take(url: str, uploads: Path, out: Path, *, now: datetime, settings: Any) -> Taken:
    """Snapshot the database at `url` and the files under `uploads` into the archive `out`."""
    backend = backend_of(url)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".backup-") as work:
        copy = Path(work) / DATABASE_MEMBER[backend]
        snapshot = _sqlite_snapshot if backend == "sqlite" else _postgres_snapshot
        database_facts = snapshot(url, copy)
        files = _file_entries(uploads)
        manifest = {
            "format": facts.FORMAT,
            "created_at": now.isoformat(),
            "versions": _versions(),
            "backend": backend,
            **database_facts,
            "keys": facts.key_fingerprints(settings),
            "database": {
                "member": copy.name,
                "size": copy.stat().st_size,
                "sha256": facts.sha256_of(copy),
            },
            "files": {
                key: {"size": size, "sha256": digest} for key, (size, digest, _) in files.items()
            },
        }
        partial = Path(work) / "archive.tar"
        _write(partial, manifest, copy, {key: path for key, (_, _, path) in files.items()})
        os.replace(partial, out)
    return Taken(out, manifest)


def _versions() -> dict[str, str]:
    try:
        app = metadata.version("openday")
    except metadata.PackageNotFoundError:
        app = "unknown"
    return {"openday": app, "sqlite": sqlite3.sqlite_version, "sqlalchemy": sa.__version__}


def _sqlite_snapshot(url: str, copy: Path) -> dict[str, Any]:
    """SQLite's online backup API, in one step, then the facts read from the copy."""
    path = make_url(url).database
    if not path or path == ":memory:" or not Path(path).exists():
        raise DomainError(
            "backup_database_missing",
            f"数据库文件不存在：{path}",
            f"the database file does not exist: {path}",
        )
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    target = sqlite3.connect(copy)
    try:
        source.backup(target, pages=-1)
        target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    finally:
        target.close()
        source.close()
    engine = sa.create_engine(f"sqlite:///{copy}")
    try:
        with engine.connect() as conn:
            return facts.of_database(conn)
    finally:
        engine.dispose()


def _postgres_snapshot(url: str, copy: Path) -> dict[str, Any]:
    """pg_dump -Fc of a snapshot held open here; the facts read in the same snapshot."""
    engine = sa.create_engine(url, isolation_level="REPEATABLE READ")
    try:
        with engine.connect() as conn, conn.begin():
            snapshot_id = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
            run_pg(
                [
                    "pg_dump",
                    "-Fc",
                    "--no-owner",
                    "--no-acl",
                    f"--snapshot={snapshot_id}",
                    "-f",
                    str(copy),
                ],
                url,
            )
            return facts.of_database(conn)
    finally:
        engine.dispose()


def run_pg(command: list[str], url: str) -> None:
    """A PostgreSQL client tool against `url` (password through the environment); a failure is
    refused with the tool's own first line."""
    parsed = make_url(url)
    if shutil.which(command[0]) is None:
        raise DomainError(
            "backup_tool_missing",
            f"未找到 {command[0]}（请安装 PostgreSQL 客户端）",
            f"{command[0]} not found (install the PostgreSQL client)",
        )
    dsn = parsed.set(drivername="postgresql", password=None).render_as_string()
    env = {**os.environ, "PGPASSWORD": parsed.password or ""} if parsed.password else None
    done = subprocess.run([*command, "--dbname", dsn], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        line = (done.stderr.strip().splitlines() or ["exit status " + str(done.returncode)])[0]
        raise DomainError(
            "backup_tool_failed", f"{command[0]} 执行失败：{line}", f"{command[0]} failed: {line}"
        )


def _file_entries(uploads: Path) -> dict[str, tuple[int, str, Path]]:
    """Every stored file under `uploads` (not a write in progress): key → size, sha256, path."""
    entries: dict[str, tuple[int, str, Path]] = {}
    if not uploads.is_dir():
        return entries
    for path in sorted(uploads.rglob("*")):
        if not path.is_file() or any(p.startswith(".") for p in path.relative_to(uploads).parts):
            continue
        key = path.relative_to(uploads).as_posix()
        entries[key] = (path.stat().st_size, facts.sha256_of(path), path)
    return entries


def _write(partial: Path, manifest: dict[str, Any], database: Path, files: dict[str, Path]) -> None:
    data = json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")
    with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as archive:
        info = tarfile.TarInfo(MANIFEST)
        info.size, info.mode = len(data), 0o600
        archive.addfile(info, io.BytesIO(data))
        archive.add(database, arcname=database.name, recursive=False)
        for key, path in files.items():
            archive.add(path, arcname=FILES + key, recursive=False)
    fd = os.open(partial, os.O_RDONLY)  # on disk before it is renamed into place
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def default_name(now: datetime) -> str:
    """openday-20260301T020000Z.tar"""
    return f"openday-{now.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}.tar"
