"""Audit retention (issue 29): lines are kept at least 180 days; `openday audit archive` writes
the older ones to an archive that verifies on its own and only then removes them, leaving an
anchor per chain so `openday audit verify` still verifies what remains."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from datetime import timedelta
from pathlib import Path

import pydantic
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models import AuditAnchor, ChangeLog, TransitionLog
from settings import PROJECT_DIR, Settings
from tests.conftest import Walker
from tests.kernel.test_audit_chain import _behind_its_back, _rows, _some_history
from workflows.kernel import audit, audit_archive
from workflows.kernel.clock import FixedClock
from workflows.kernel.errors import DomainError
from workflows.kernel.visibility import SYSTEM

RETENTION = 180


def _later_history(walker: Walker, username: str = "viewer-later") -> None:
    """An account change, at the clock's (later) time."""
    body = {"username": username, "role": "viewer", "display_name": "后来"}
    headers = walker.world.headers["secadmin"]
    assert walker.client.post("/api/v1/users", json=body, headers=headers).status_code == 201


def _archive(
    engine: Engine, clock: FixedClock, directory: Path, days: int = RETENTION
) -> audit_archive.ArchiveResult:
    now = clock.now()
    with Session(engine) as session:
        done = audit_archive.archive_and_purge(
            session,
            SYSTEM,
            now=now,
            cutoff=now - timedelta(days=days),
            retention_days=RETENTION,
            directory=directory,
        )
        session.commit()
    return done


def _archived_history(
    walker: Walker, engine: Engine, clock: FixedClock, tmp_path: Path, days: int = 20
) -> audit_archive.ArchiveResult:
    """History, then `days` past the retention more history, then an archive run."""
    _some_history(walker)
    clock.advance(timedelta(days=RETENTION + days))
    _later_history(walker)
    return _archive(engine, clock, tmp_path)


def _cli(engine: Engine, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENDAY_")}
    env["OPENDAY_DATABASE_URL"] = engine.url.render_as_string(hide_password=False)
    return subprocess.run(
        [sys.executable, "-m", "cli", "audit", *args],
        env=env,
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _counts(engine: Engine) -> tuple[int, int]:
    return len(_rows(engine, TransitionLog)), len(_rows(engine, ChangeLog))


def test_old_lines_are_archived_then_removed_and_the_rest_still_verifies(
    walker: Walker, engine: Engine, clock: FixedClock, tmp_path: Path
) -> None:
    _some_history(walker)
    old_moves, old_changes = _rows(engine, TransitionLog), _rows(engine, ChangeLog)
    clock.advance(timedelta(days=RETENTION + 20))
    _later_history(walker)
    done = _archive(engine, clock, tmp_path)
    assert done.path is not None and done.path.exists()
    # Every old change-log line went; each event keeps its last line of its own.
    assert done.rows["change_log"] == len(old_changes)
    kept_moves = _rows(engine, TransitionLog)
    kept_old = [m for m in kept_moves if m.at < done.cutoff]
    assert done.rows["transition_log"] == len(old_moves) - len(kept_old) > 0
    assert len(kept_old) == 2  # each old event's last line (event 1: collect_feedback, 2: cancel)
    assert {m.event_id for m in kept_moves} == {m.event_id for m in old_moves}
    assert all(m.at >= done.cutoff for m in _rows(engine, ChangeLog))
    with Session(engine) as session:
        reports = audit.verify(session)
        assert all(r.broken is None for r in reports), reports
        assert sum(r.anchored for r in reports) == done.chains
        assert audit.unmatched_events(session) == []
        anchors = session.exec(select(AuditAnchor)).all()
        line = session.exec(select(ChangeLog).where(ChangeLog.action == "audit_archive")).one()
    assert {a.archive_sha256 for a in anchors} == {done.sha256} == {line.after["sha256"]}
    assert len(anchors) == done.chains
    # The archive verifies on its own, through the CLI too; so does the database.
    check = audit_archive.verify_archive(done.path)
    assert check.ok, check.problems
    assert check.rows == {k: v for k, v in done.rows.items() if v}
    shown = _cli(engine, "verify-archive", str(done.path))
    assert shown.returncode == 0, shown.stderr
    assert f"sha256 {done.sha256}" in shown.stderr
    verified = _cli(engine, "verify")
    assert verified.returncode == 0, verified.stderr
    assert "resumed from archive anchors" in verified.stderr


def test_a_second_run_moves_the_anchors_on(
    walker: Walker, engine: Engine, clock: FixedClock, tmp_path: Path
) -> None:
    first = _archived_history(walker, engine, clock, tmp_path, days=1)
    clock.advance(timedelta(days=RETENTION + 1))
    _later_history(walker, "viewer-third")
    second = _archive(engine, clock, tmp_path)
    assert first.path != second.path and second.path is not None
    assert second.rows["change_log"] >= 1  # the first run's own line, now old, went too
    with Session(engine) as session:
        assert all(r.broken is None for r in audit.verify(session))
        assert audit.unmatched_events(session) == []
    assert audit_archive.verify_archive(second.path).ok


def test_a_cutoff_inside_the_retention_is_refused_and_nothing_moves(
    walker: Walker, engine: Engine, clock: FixedClock, tmp_path: Path
) -> None:
    _some_history(walker)
    clock.advance(timedelta(days=RETENTION + 20))
    before = _counts(engine)
    with pytest.raises(DomainError) as refused:
        _archive(engine, clock, tmp_path / "out", days=RETENTION - 1)
    assert refused.value.code == "audit_retention" and refused.value.status == 422
    assert "180" in refused.value.message_zh and "180" in refused.value.message_en
    assert _counts(engine) == before and not (tmp_path / "out").exists()


def test_nothing_is_removed_without_a_verified_archive(
    walker: Walker,
    engine: Engine,
    clock: FixedClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _some_history(walker)
    clock.advance(timedelta(days=RETENTION + 20))
    before = _counts(engine)
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    with pytest.raises(DomainError) as unwritable:
        _archive(engine, clock, blocked)
    assert unwritable.value.code == "audit_archive_failed"
    assert _counts(engine) == before

    def failing(path: Path) -> audit_archive.ArchiveCheck:
        return audit_archive.ArchiveCheck(problems=["disk returned other bytes"])

    monkeypatch.setattr(audit_archive, "verify_archive", failing)
    with pytest.raises(DomainError) as unverified:
        _archive(engine, clock, tmp_path / "out")
    assert unverified.value.code == "audit_archive_unverified"
    assert _counts(engine) == before
    with Session(engine) as session:
        assert session.exec(select(AuditAnchor)).all() == []


def test_the_database_refuses_deleting_a_line_no_anchor_covers(
    walker: Walker, engine: Engine, clock: FixedClock, tmp_path: Path
) -> None:
    _archived_history(walker, engine, clock, tmp_path)
    for table in ("transition_log", "change_log", "audit_anchor"):
        with Session(engine) as session, pytest.raises(sa.exc.DatabaseError) as info:
            session.execute(sa.text(f"DELETE FROM {table}"))
            session.commit()
        assert "append-only" in str(info.value)
    with Session(engine) as session, pytest.raises(sa.exc.DatabaseError):
        session.execute(sa.text("UPDATE audit_anchor SET seq = seq + 5"))
        session.commit()


def test_a_changed_archive_or_anchor_fails(
    walker: Walker, engine: Engine, clock: FixedClock, tmp_path: Path
) -> None:
    done = _archived_history(walker, engine, clock, tmp_path)
    assert done.path is not None
    with zipfile.ZipFile(done.path) as original:
        parts = {n: original.read(n) for n in original.namelist()}
    lines = parts["change_log.jsonl"].decode().splitlines()
    row = json.loads(lines[0])
    row["content"]["actor_name"] = "someone else"
    lines[0] = json.dumps(row, ensure_ascii=False, sort_keys=True)
    edited = {**parts, "change_log.jsonl": ("\n".join(lines) + "\n").encode()}
    manifest = json.loads(parts["manifest.json"])
    manifest["files"]["change_log.jsonl"]["sha256"] = (
        __import__("hashlib").sha256(edited["change_log.jsonl"]).hexdigest()
    )
    for name, changed in (
        ("row", edited),  # the file's hash no longer matches the manifest
        ("manifest", {**edited, "manifest.json": json.dumps(manifest).encode()}),  # its MAC
    ):
        forged = tmp_path / f"forged-{name}.zip"
        with zipfile.ZipFile(forged, "w") as out:
            for part, data in changed.items():
                out.writestr(part, data)
        assert not audit_archive.verify_archive(forged).ok
        shown = _cli(engine, "verify-archive", str(forged))
        assert shown.returncode == 1 and "fails" in shown.stderr
    # An anchor written behind the service's back (no key) is named by verify.
    with _behind_its_back(engine, "audit_anchor") as conn:
        conn.execute(
            sa.text(
                "INSERT INTO audit_anchor (table_name, event_id, seq, row_hash, cutoff, "
                "archive_name, archive_sha256, at, anchor_hash) SELECT table_name, event_id, "
                "seq + 1, row_hash, cutoff, archive_name, archive_sha256, at, anchor_hash "
                "FROM audit_anchor WHERE table_name = 'change_log'"
            )
        )
    with Session(engine) as session:
        chain = audit.verify(session, [ChangeLog])[0]
    assert chain.broken is not None and chain.broken.what == "anchor"


def test_a_broken_chain_is_never_archived(
    walker: Walker, engine: Engine, clock: FixedClock, tmp_path: Path
) -> None:
    _some_history(walker)
    target = _rows(engine, ChangeLog)[0]
    with _behind_its_back(engine, "change_log") as conn:
        conn.execute(
            sa.text("UPDATE change_log SET actor_name = 'x' WHERE id = :i"), {"i": target.id}
        )
    clock.advance(timedelta(days=RETENTION + 20))
    before = _counts(engine)
    with pytest.raises(DomainError) as refused:
        _archive(engine, clock, tmp_path / "out")
    assert refused.value.code == "audit_chain_broken"
    assert _counts(engine) == before and list((tmp_path / "out").iterdir()) == []


def test_a_retention_under_180_days_is_refused_with_a_clear_error() -> None:
    with pytest.raises(pydantic.ValidationError) as refused:
        Settings(audit_retention_days=90)
    assert "至少保留 180 天" in str(refused.value) and "at least 180 days" in str(refused.value)
    assert Settings().audit_retention_days == 180
