"""Backups recorded, and the scheduler's nightly one: each backup is a `backup_run` row
(running → succeeded with its archive, or failed with the error); the nightly backup is claimed
once per local day by a unique claim, so of several schedulers exactly one takes it; after a
success the oldest nightly archives beyond `OPENDAY_BACKUP_KEEP` are deleted. /readyz and
/metrics read the last success from here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models import BackupRun
from workflows.backup import snapshot
from workflows.kernel.clock import LOCAL_TZ

# A nightly backup older than this is stale (a day plus slack for a slow run).
STALE_AFTER = timedelta(hours=26)


def _recorded(engine: Engine) -> bool:
    """The schema has the table (a database not yet migrated is backed up unrecorded)."""
    with engine.connect() as conn:
        return sa.inspect(conn).has_table(BackupRun.__tablename__)


def begin(engine: Engine, now: datetime, claim: str | None = None) -> int | None:
    """A running row and its id; None when `claim` is already taken or there is no table."""
    if not _recorded(engine):
        return None
    try:
        with Session(engine) as session:
            run = BackupRun(claim=claim, started_at=now)
            session.add(run)
            session.commit()
            return run.id
    except sa.exc.IntegrityError:
        return None


def finish(engine: Engine, run_id: int | None, now: datetime, **outcome: Any) -> None:
    """The run's end: succeeded (path, size_bytes) or failed (error)."""
    if run_id is None:
        return
    with Session(engine) as session:
        run = session.get(BackupRun, run_id)
        assert run is not None
        run.finished_at = now
        run.state = "failed" if outcome.get("error") else "succeeded"
        run.path = outcome.get("path")
        run.size_bytes = outcome.get("size_bytes")
        run.error = (outcome.get("error") or None) and str(outcome["error"])[:2000]
        session.commit()


def take_recorded(
    engine: Engine, settings: Any, now: datetime, out: Path, claim: str | None = None
) -> snapshot.Taken | None:
    """A backup with its row; None when the claim was taken by another scheduler."""
    run_id = begin(engine, now, claim)
    if claim is not None and run_id is None:
        return None
    try:
        taken = snapshot.take(
            settings.migrate_url(),  # the owner: row-level security would hide rows
            settings.upload_dir,
            out,
            now=now,
            settings=settings,
        )
    except Exception as exc:
        message = getattr(exc, "message_en", None) or str(exc) or type(exc).__name__
        finish(engine, run_id, now, error=message)
        raise
    finish(engine, run_id, now, path=str(taken.path), size_bytes=taken.path.stat().st_size)
    return taken


def nightly_claim(now: datetime, hour: int | None) -> str | None:
    """The claim of today's nightly backup once its hour has come (None: not due / off)."""
    local = now.astimezone(LOCAL_TZ)
    if hour is None or local.hour < hour:
        return None
    return f"nightly:{local.date().isoformat()}"


def run_nightly(engine: Engine, settings: Any, now: datetime) -> snapshot.Taken | None:
    """Today's nightly backup if due and not yet claimed, then the retention."""
    claim = nightly_claim(now, settings.backup_hour)
    if claim is None:
        return None
    directory = settings.backup_path
    taken = take_recorded(engine, settings, now, directory / snapshot.default_name(now), claim)
    if taken is not None:
        prune(directory, settings.backup_keep)
    return taken


def prune(directory: Path, keep: int) -> list[Path]:
    """Delete all but the `keep` newest archives (their names sort by time); those deleted."""
    archives = sorted(directory.glob("openday-*.tar"))
    doomed = archives[:-keep] if keep > 0 else archives
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed


@dataclass(frozen=True)
class LastRuns:
    """The latest successful and failed backups (None: none yet)."""

    success: BackupRun | None
    failure: BackupRun | None


def last_runs(engine: Engine) -> LastRuns:
    if not _recorded(engine):
        return LastRuns(None, None)
    with Session(engine, expire_on_commit=False) as session:

        def latest(state: str) -> BackupRun | None:
            query = select(BackupRun).where(BackupRun.state == state)
            return session.exec(query.order_by(col(BackupRun.finished_at).desc())).first()

        return LastRuns(latest("succeeded"), latest("failed"))


def status(engine: Engine, now: datetime, hour: int | None) -> dict[str, Any]:
    """/readyz's backup line: the last success, its age, and ok / stale / never / off."""
    last = last_runs(engine).success
    if last is None or last.finished_at is None:
        return {"state": "never" if hour is not None else "off", "last_success": None}
    age = now - last.finished_at
    stale = hour is not None and age > STALE_AFTER
    return {
        "state": "stale" if stale else "ok",
        "last_success": last.finished_at.isoformat(),
        "age_hours": round(age.total_seconds() / 3600, 2),
    }
