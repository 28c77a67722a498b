"""Restore refuses, in one clear line and writing nothing: a truncated or altered archive, a
member the manifest does not name or of another size, an archive from a newer schema, of the
other backend or taken under other keys, and a non-empty database without --force."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from settings import Settings
from tests.backup.test_drill import openday, url_of
from tests.conftest import Walker
from workflows.backup import restore as flow
from workflows.backup import snapshot
from workflows.kernel.errors import DomainError


@pytest.fixture
def archive(walker: Walker, engine: Engine, settings: Settings, tmp_path: Path) -> Path:
    """A backup of one held event with a summary photo."""
    event, _ = walker.held_event()
    assert walker.upload(event["id"]).status_code == 201
    out = tmp_path / "good.tar"
    snapshot.take(
        url_of(engine),
        settings.upload_dir,
        out,
        now=datetime(2022, 9, 16, 2, tzinfo=UTC),
        settings=settings,
    )
    return out


def refused(archive: Path, tmp_path: Path, settings: Settings, url: str | None = None) -> str:
    """Restore into a fresh SQLite file (or `url`): the refusal's code; nothing written."""
    target = tmp_path / "target.db"
    uploads = tmp_path / "target-var" / "uploads"
    with pytest.raises(DomainError) as info:
        flow.restore(archive, url or f"sqlite:///{target}", uploads, settings=settings, force=False)
    assert not target.exists()
    assert not uploads.exists() or not any(uploads.iterdir())
    return info.value.code


def rewritten(
    archive: Path,
    out: Path,
    manifest_change: Callable[[dict[str, Any]], None] | None = None,
    extra: tuple[str, bytes] | None = None,
) -> Path:
    """A copy of the archive with its manifest changed and/or a member appended."""
    with tarfile.open(archive) as source, tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as copy:
        for member in source:
            data = source.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == "manifest.json" and manifest_change is not None:
                manifest = json.loads(data)
                manifest_change(manifest)
                data = json.dumps(manifest).encode()
            member.size = len(data)
            copy.addfile(member, io.BytesIO(data))
        if extra is not None:
            info = tarfile.TarInfo(extra[0])
            info.size = len(extra[1])
            copy.addfile(info, io.BytesIO(extra[1]))
    return out


def test_a_truncated_archive_is_refused(archive: Path, tmp_path: Path, settings: Settings) -> None:
    cut = tmp_path / "cut.tar"
    cut.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    assert refused(cut, tmp_path, settings) == "backup_archive_damaged"


def test_an_altered_byte_is_refused(archive: Path, tmp_path: Path, settings: Settings) -> None:
    """One byte of the database changed: its sha256 no longer matches the manifest."""
    with tarfile.open(archive) as source:
        member = next(m for m in source if m.name.startswith("database."))
    data = bytearray(archive.read_bytes())
    data[member.offset_data + member.size // 2] ^= 0xFF
    altered = tmp_path / "altered.tar"
    altered.write_bytes(bytes(data))
    assert refused(altered, tmp_path, settings) == "backup_archive_damaged"


@pytest.mark.parametrize(
    ("change", "extra", "code"),
    [
        (lambda m: m.update(migration_head="9999"), None, "archive_newer_schema"),
        (lambda m: m["keys"].update(audit="0" * 16), None, "archive_key_mismatch"),
        (lambda m: m.update(format="something-else/9"), None, "backup_format_unknown"),
        (
            lambda m: m["database"].update(size=m["database"]["size"] + 1),
            None,
            "backup_archive_damaged",
        ),
        (None, ("files/../../evil", b"x"), "backup_archive_damaged"),
        (lambda m: m.update(backend="other"), None, "archive_backend_mismatch"),
    ],
    ids=["newer-schema", "other-key", "unknown-format", "size", "extra-member", "backend"],
)
def test_a_mismatched_archive_is_refused(
    archive: Path,
    tmp_path: Path,
    settings: Settings,
    change: Callable[[dict[str, Any]], None] | None,
    extra: tuple[str, bytes] | None,
    code: str,
    engine: Engine,
) -> None:
    """Each mismatch its own code; on PostgreSQL the target is the other backend's file too."""
    bad = rewritten(archive, tmp_path / "bad.tar", change, extra)
    same_backend = f"sqlite:///{tmp_path / 'target.db'}"
    if engine.dialect.name != "sqlite" and code != "archive_backend_mismatch":
        pytest.skip("the SQLite run covers the archive checks; PostgreSQL: the backend check")
    expected = code if engine.dialect.name == "sqlite" else "archive_backend_mismatch"
    assert refused(bad, tmp_path, settings, same_backend) == expected


def test_a_non_empty_database_needs_force(
    archive: Path,
    engine: Engine,
    walker: Walker,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Restoring onto the database it came from (with more rows now): refused with one line and
    exit 2, nothing changed; with --force the archive's rows are back."""
    walker.create_event(theme="备份之后的活动")
    url = url_of(engine)
    before = flow.read_facts(url)["row_counts"]
    done = openday(["restore", str(archive)], url, settings.var_dir, monkeypatch)
    assert done.exit_code == 2
    assert "--force" in done.output and "not empty" in done.output
    assert flow.read_facts(url)["row_counts"] == before
    done = openday(["restore", "--force", str(archive)], url, settings.var_dir, monkeypatch)
    assert done.exit_code == 0, done.output
    assert flow.read_facts(url)["row_counts"]["event"] == before["event"] - 1


def test_check_only_reads_the_archive_and_writes_nothing(
    archive: Path,
    engine: Engine,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`openday restore --check`: intact → exit 0 with the manifest's summary, damaged → exit 2;
    the target database is not touched either way."""
    target = tmp_path / "never-written.db"
    url = f"sqlite:///{target}" if engine.dialect.name == "sqlite" else url_of(engine)
    before = flow.read_facts(url_of(engine))["row_counts"]
    done = openday(["restore", "--check", str(archive)], url, settings.var_dir, monkeypatch)
    assert done.exit_code == 0, done.output
    assert "archive intact" in done.output and "migration" in done.output
    cut = tmp_path / "cut.tar"
    cut.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    done = openday(["restore", "--check", str(cut)], url, settings.var_dir, monkeypatch)
    assert done.exit_code == 2 and "damaged" in done.output
    assert not target.exists()
    assert flow.read_facts(url_of(engine))["row_counts"] == before


def test_a_migrated_but_empty_database_is_restored_without_force(
    archive: Path, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    """`openday migrate` then `openday restore`: no row to lose, so no --force needed."""
    if engine.dialect.name != "sqlite":
        pytest.skip("one backend shows it; the PostgreSQL drill restores into a fresh database")
    from models.db import migrate

    url = f"sqlite:///{tmp_path / 'migrated.db'}"
    migrate(url)
    done = flow.restore(archive, url, tmp_path / "v" / "uploads", settings=settings, force=False)
    assert done.facts["row_counts"] == done.manifest["row_counts"]
