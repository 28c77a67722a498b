"""Restore drill on each backend (issue 31): data with moves, photos and registrations is backed
up by `openday backup` while another thread keeps moving events, restored by `openday restore`
into a fresh database and a fresh uploads folder, and the restored copy has exactly the
manifest's row counts, file hashes and audit chain heads, and `openday audit verify` passes."""

from __future__ import annotations

import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, select
from typer.testing import CliRunner

from models import Attachment, VisitPhoto
from settings import Settings, get_settings
from tests.conftest import DATABASE_URL, Walker, tiny_jpeg
from tests.public.test_public import open_event, register
from workflows.backup import restore as restore_flow
from workflows.backup import snapshot

# Writes the other thread makes while the snapshot is being read.
WRITES_DURING_BACKUP = 3


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Uploads in a private folder; rate limits per app (the registrations)."""
    return Settings(var_dir=tmp_path / "var", database_url="sqlite://", ratelimit_url="memory://")


def url_of(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture
def fresh_url(engine: Engine, tmp_path: Path) -> Iterator[str]:
    """An empty database of the engine's backend (never migrated)."""
    if engine.dialect.name == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored.db'}"
        return
    server = make_url(DATABASE_URL)
    name = f"openday_restore_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def openday(args: list[str], url: str, var_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run the `openday` command on `url` and `var_dir`."""
    from cli import app

    monkeypatch.setenv("OPENDAY_DATABASE_URL", url)
    monkeypatch.setenv("OPENDAY_VAR_DIR", str(var_dir))
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(app, args)
    finally:
        get_settings.cache_clear()


def make_data(walker: Walker) -> None:
    """Moves up to a submitted summary with two photos (the same bytes: one file), a visit
    with a photo of its own, two public registrations."""
    event, _ = walker.held_event()
    assert (
        walker.move(event["id"], "collect_feedback", data={"no_opinions": True}).status_code == 200
    )
    assert walker.upload(event["id"]).status_code == 201
    assert walker.upload(event["id"], name="second.jpg").status_code == 201
    response = walker.move(event["id"], "submit_summary", data={"text": "活动顺利开展"})
    assert response.status_code == 200, response.text
    h = walker.world.headers["supervisor"]
    body = {"visited_on": "2022-09-16", "people": "区政府办 张三", "findings": "现场秩序良好"}
    visit = walker.client.post(f"/api/v1/events/{event['id']}/visits", json=body, headers=h)
    assert visit.status_code == 201, visit.text
    photo = ("走访.jpg", tiny_jpeg(6, 5), "image/jpeg")
    response = walker.client.post(
        f"/api/v1/visits/{visit.json()['id']}/photos", files={"file": photo}, headers=h
    )
    assert response.status_code == 201, response.text
    public = open_event(walker, places=3)
    for n, phone in enumerate(("13800000001", "13800000002")):
        assert (
            register(walker.client, public["id"], phone=phone, name=f"市民{n}").status_code == 201
        )


class Writer(threading.Thread):
    """Plans events and invites them, one commit after another, until told to stop; `more(n)`
    blocks until it has made n more writes (so writes provably happen during the backup)."""

    def __init__(self, walker: Walker) -> None:
        super().__init__(daemon=True)
        self.walker = walker
        self.stop = threading.Event()
        self.writes = 0
        self.changed = threading.Condition()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                event = self.walker.create_event(theme="备份期间新建的活动")
                self.walker.add_invitees(event["id"], citizens=5, deputies=10)
                assert self.walker.move(event["id"], "invite").status_code == 200
                with self.changed:
                    self.writes += 3
                    self.changed.notify_all()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
            with self.changed:
                self.changed.notify_all()

    def more(self, n: int) -> None:
        with self.changed:
            target = self.writes + n
            assert self.changed.wait_for(
                lambda: self.writes >= target or self.error is not None, timeout=60
            ), "the writer stalled"
        assert self.error is None, self.error


def during_snapshot(monkeypatch: pytest.MonkeyPatch, writer: Writer) -> None:
    """The snapshot's facts are read only after the writer made more writes."""
    original: Callable[..., Any] = snapshot.facts.of_database

    def late(conn: Any) -> Any:
        writer.more(WRITES_DURING_BACKUP)
        return original(conn)

    monkeypatch.setattr(snapshot.facts, "of_database", late)


def test_restore_drill(
    walker: Walker,
    engine: Engine,
    fresh_url: str,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Back up under writes, restore fresh, and find the manifest's rows, files and chains."""
    make_data(walker)
    archive = tmp_path / "drill.tar"
    writer = Writer(walker)
    writer.start()
    try:
        writer.more(1)
        with monkeypatch.context() as patch:
            during_snapshot(patch, writer)
            done = openday(["backup", "-o", str(archive)], url_of(engine), settings.var_dir, patch)
    finally:
        writer.stop.set()
        writer.join(timeout=60)
    assert done.exit_code == 0, done.output
    assert writer.error is None, writer.error
    manifest = snapshot_manifest(archive, tmp_path)
    source_now = restore_flow.read_facts(url_of(engine))["row_counts"]
    assert source_now["event"] > manifest["row_counts"]["event"]  # writes went on after it
    restored_var = tmp_path / "restored-var"
    shutil.copytree(settings.var_dir, restored_var, ignore=shutil.ignore_patterns("uploads"))
    done = openday(["restore", str(archive)], fresh_url, restored_var, monkeypatch)
    assert done.exit_code == 0, done.output
    check_restored(fresh_url, restored_var / "uploads", manifest, monkeypatch)


def snapshot_manifest(archive: Path, tmp_path: Path) -> dict[str, Any]:
    """The archive's manifest, checked the way restore checks it."""
    from workflows.backup.archive import unpack

    staging = tmp_path / "inspect"
    staging.mkdir()
    manifest = unpack(archive, staging).manifest
    assert manifest["row_counts"]["attachment"] == 2
    assert manifest["row_counts"]["public_registration"] == 2
    assert len(manifest["files"]) == 2 and all(chain["intact"] for chain in manifest["audit"])
    return manifest


def check_restored(
    url: str, uploads: Path, manifest: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows, chain heads and files exactly the manifest's; audit verify passes."""
    found = restore_flow.read_facts(url)
    assert found["row_counts"] == manifest["row_counts"]
    assert found["migration_head"] == manifest["migration_head"]
    assert [(c["table"], c["rows"], c["head_hash"]) for c in found["audit"]] == [
        (c["table"], c["rows"], c["head_hash"]) for c in manifest["audit"]
    ]
    for key, entry in manifest["files"].items():
        from workflows.backup.facts import sha256_of

        assert sha256_of(uploads / key) == entry["sha256"]
    engine = sa.create_engine(url)
    with Session(engine) as session:
        keys = session.exec(select(Attachment.storage_key)).all()
        keys += session.exec(select(VisitPhoto.storage_key)).all()
    engine.dispose()
    assert keys and all((uploads / key).is_file() for key in keys)
    verified = openday(["audit", "verify"], url, uploads.parent, monkeypatch)
    assert verified.exit_code == 0, verified.output
    assert "transition_log" in verified.output and "broken" not in verified.output
