"""`openday restore`: a checked archive back into a database and the uploads folder.

In order, and nothing is written before every check passed: the archive is unpacked into a
staging folder and every member checked against the manifest (`archive`); the archive must be
from this backend, from a schema this version knows (never a newer one), and from a machine
with the same audit and privacy keys (else the chains would not verify and registrants' data
would not decrypt); the target database must be empty unless `force`. Then the database is
loaded (SQLite: the online backup API into the target file; PostgreSQL: pg_restore in one
transaction, after emptying the schema when forced), the files are moved into place, and the
restored database is read again: its migration head, row counts and audit chain heads must be
the manifest's, or the restore says which differ.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from settings import PROJECT_DIR
from workflows.backup import facts
from workflows.backup.archive import Unpacked, unpack
from workflows.backup.snapshot import backend_of, run_pg
from workflows.kernel.errors import DomainError


@dataclass(frozen=True)
class Restored:
    """What a restore put back."""

    manifest: dict[str, Any]
    facts: dict[str, Any]
    files_placed: int
    code_head: str | None


def restore(path: Path, url: str, uploads: Path, *, settings: Any, force: bool) -> Restored:
    """Restore the archive at `path` into `url` and `uploads`."""
    backend = backend_of(url)
    uploads.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=uploads.parent, prefix=".restore-") as work:
        unpacked = unpack(path, Path(work))
        manifest = unpacked.manifest
        code_head = check_compatible(manifest, backend, settings)
        check_target(url, force=force)
        if backend == "sqlite":
            _load_sqlite(unpacked.database, url)
        else:
            _load_postgres(unpacked.database, url)
        placed = _place_files(unpacked, uploads)
    after = read_facts(url)
    differences = compare(manifest, after)
    if differences:
        raise DomainError(
            "restore_mismatch",
            "恢复后的数据库与备份清单不一致：" + "；".join(differences),
            "the restored database differs from the manifest: " + "; ".join(differences),
        )
    return Restored(manifest, after, placed, code_head)


def check(path: Path, url: str, scratch: Path, *, settings: Any) -> dict[str, Any]:
    """Every check a restore makes of the archive (members, hashes, backend, schema, keys),
    writing nothing but a staging folder under `scratch` that is removed; the manifest."""
    backend = backend_of(url)
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=scratch, prefix=".check-") as work:
        manifest = unpack(path, Path(work)).manifest
    check_compatible(manifest, backend, settings)
    return manifest


def known_revisions() -> tuple[set[str], str | None]:
    """Every migration this version has, and its head."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config(str(PROJECT_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_DIR / "migrations"))
    script = ScriptDirectory.from_config(config)
    return {rev.revision for rev in script.walk_revisions()}, script.get_current_head()


def check_compatible(manifest: dict[str, Any], backend: str, settings: Any) -> str | None:
    """Refuse an archive of another backend, a newer schema, or other keys; this code's head."""
    if manifest["backend"] != backend:
        raise DomainError(
            "archive_backend_mismatch",
            f"备份来自 {manifest['backend']}，目标数据库是 {backend}，未恢复任何内容",
            f"the archive is of {manifest['backend']}, the target is {backend}; "
            "nothing was restored",
            status=409,
        )
    revisions, head = known_revisions()
    if manifest["migration_head"] not in revisions:
        raise DomainError(
            "archive_newer_schema",
            f"备份的数据库结构（{manifest['migration_head']}）比本版本（{head}）新，"
            "请用更新的版本恢复，未恢复任何内容",
            f"the archive's schema ({manifest['migration_head']}) is newer than this version's "
            f"({head}): restore it with a newer version; nothing was restored",
            status=409,
        )
    here = facts.key_fingerprints(settings)
    for name, label in (("audit", "审计密钥"), ("privacy", "个人信息加密密钥")):
        if manifest["keys"].get(name) != here[name]:
            raise DomainError(
                "archive_key_mismatch",
                f"本机的{label}与备份时不同（请先配置备份所用的密钥），未恢复任何内容",
                f"this machine's {name} key is not the one the backup was taken with "
                "(configure that key first); nothing was restored",
                status=409,
            )
    return head


def check_target(url: str, *, force: bool) -> None:
    """Refuse a target that holds data unless forced."""
    if force or _target_empty(url):
        return
    raise DomainError(
        "restore_target_not_empty",
        "目标数据库已有数据；确需覆盖请加 --force，未恢复任何内容",
        "the target database is not empty; add --force to write over it; nothing was restored",
        status=409,
    )


def _target_empty(url: str) -> bool:
    database = make_url(url).database
    if make_url(url).get_backend_name() == "sqlite" and not (database and Path(database).exists()):
        return True
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return facts.is_empty(conn)
    finally:
        engine.dispose()


def _load_sqlite(staged: Path, url: str) -> None:
    target = Path(make_url(url).database or "")
    target.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(f"file:{staged}?mode=ro", uri=True)
    destination = sqlite3.connect(target)
    try:
        source.backup(destination, pages=-1)
    finally:
        destination.close()
        source.close()


def _load_postgres(staged: Path, url: str) -> None:
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
    finally:
        engine.dispose()
    run_pg(
        [
            "pg_restore",
            "--no-owner",
            "--no-acl",
            "--exit-on-error",
            "--single-transaction",
            str(staged),
        ],
        url,
    )


def _place_files(unpacked: Unpacked, uploads: Path) -> int:
    """Move each staged file to its key (content-addressed: one already there with the same
    hash stays); the number moved."""
    placed = 0
    for key, staged in unpacked.files.items():
        target = uploads / key
        if target.exists() and facts.sha256_of(target) == unpacked.manifest["files"][key]["sha256"]:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, target)
        placed += 1
    return placed


def read_facts(url: str) -> dict[str, Any]:
    """The facts of the database at `url`, as a manifest records them."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return facts.of_database(conn)
    finally:
        engine.dispose()


def compare(manifest: dict[str, Any], found: dict[str, Any]) -> list[str]:
    """What differs between a manifest and a database's facts, one phrase each."""
    differences = []
    if manifest["migration_head"] != found["migration_head"]:
        differences.append(f"migration {found['migration_head']} != {manifest['migration_head']}")
    for table, rows in manifest["row_counts"].items():
        if found["row_counts"].get(table) != rows:
            differences.append(f"{table} rows {found['row_counts'].get(table)} != {rows}")
    for chain, then in zip(found["audit"], manifest["audit"], strict=False):
        if (chain["rows"], chain["head_hash"], chain["intact"]) != (
            then["rows"],
            then["head_hash"],
            then["intact"],
        ):
            differences.append(f"{chain['table']} chain head differs")
    return differences
