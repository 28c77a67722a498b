"""The scheduler's nightly backup (OPENDAY_BACKUP_HOUR): taken once a local day at its hour by
one scheduler of several, the oldest archives beyond OPENDAY_BACKUP_KEEP deleted, a failure
recorded; the last success on /readyz and /metrics."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models import BackupRun
from settings import Settings
from tests.backup.test_drill import url_of
from tests.conftest import Walker, local
from workers.scheduler import Scheduler
from workflows.backup import nightly
from workflows.kernel.clock import FixedClock


def backup_settings(engine: Engine, tmp_path: Path, **extra: object) -> Settings:
    """Settings naming the test database, uploads in tmp, nightly at 02:00, keep 2."""
    return Settings(
        var_dir=tmp_path / "var",
        database_url=url_of(engine),
        backup_hour=2,
        backup_keep=2,
        **extra,  # type: ignore[arg-type]
    )


def scheduler(engine: Engine, clock: FixedClock, settings: Settings) -> Scheduler:
    return Scheduler(engine, lambda actor, args: None, clock, backup_settings=settings)


def run_pass(sched: Scheduler) -> bool:
    """One scheduler pass; True when it started a backup (waited for)."""
    started = sched.backup_nightly()
    if started is not None:
        started.join(timeout=120)
        assert not started.is_alive()
    return started is not None


def backup_values(metrics: str) -> dict[str, float]:
    """The openday_backup_* samples of a /metrics page."""
    return {
        name: float(value)
        for name, _, value in (line.partition(" ") for line in metrics.splitlines())
        if name.startswith("openday_backup_")
    }


def test_nightly_backup_once_a_day_at_its_hour_with_retention(
    walker: Walker, engine: Engine, tmp_path: Path
) -> None:
    """01:59 nothing; 02:00 one archive and a succeeded row; again that day nothing, also from a
    second scheduler; three nights later two archives are left."""
    walker.held_event()
    settings = backup_settings(engine, tmp_path)
    clock = FixedClock(local(2022, 9, 17, 1, 59))
    first, second = scheduler(engine, clock, settings), scheduler(engine, clock, settings)
    assert not run_pass(first)
    clock.set(local(2022, 9, 17, 2, 0))
    assert run_pass(first)
    assert not run_pass(first)  # done for the day here
    run_pass(second)  # the other scheduler tries: the day is claimed in the database
    assert len(list(settings.backup_path.glob("openday-*.tar"))) == 1
    with Session(engine) as session:
        runs = session.exec(select(BackupRun)).all()
    assert [(r.claim, r.state) for r in runs] == [("nightly:2022-09-17", "succeeded")]
    assert runs[0].path and Path(runs[0].path).is_file() and runs[0].size_bytes
    for day in (18, 19, 20):
        clock.set(local(2022, 9, day, 3, 30))
        assert run_pass(second if day % 2 else first)
    archives = sorted(settings.backup_path.glob("openday-*.tar"))
    assert [a.name for a in archives] == [
        "openday-20220918T193000Z.tar",
        "openday-20220919T193000Z.tar",
    ]


def test_a_failed_nightly_backup_is_recorded_and_reported(
    walker: Walker, engine: Engine, tmp_path: Path, clock: FixedClock
) -> None:
    """A backup that cannot be written (its folder is a file) is a failed row; /readyz still
    answers 200 and shows no success; /metrics has the failure time."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    settings = backup_settings(engine, tmp_path, backup_dir=blocker / "backups")
    clock.set(local(2022, 9, 17, 2, 5))
    assert run_pass(scheduler(engine, clock, settings))
    with Session(engine) as session:
        run = session.exec(select(BackupRun)).one()
    assert run.state == "failed" and run.error
    ready = walker.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["backup"] == {"state": "never", "last_success": None}
    metrics = walker.client.get("/metrics", headers={"Authorization": "Bearer metrics-test-token"})
    failed_at = backup_values(metrics.text)["openday_backup_last_failure_timestamp_seconds"]
    assert failed_at == clock.now().timestamp()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The app's settings: nightly backups configured (for /readyz), metrics open to a token."""
    return Settings(
        var_dir=tmp_path / "var",
        database_url="sqlite://",
        backup_hour=2,
        metrics_token="metrics-test-token",  # type: ignore[arg-type]
    )


def test_readyz_and_metrics_show_the_last_success(
    walker: Walker, engine: Engine, tmp_path: Path, clock: FixedClock
) -> None:
    """Never → 'never'; after a backup, its time and age; 27 hours later 'stale' (still 200)."""
    assert walker.client.get("/readyz").json()["backup"] == {"state": "never", "last_success": None}
    taken_at = local(2022, 9, 16, 10)
    nightly.take_recorded(
        engine, backup_settings(engine, tmp_path), taken_at, tmp_path / "manual.tar"
    )
    clock.set(local(2022, 9, 16, 12))
    backup = walker.client.get("/readyz").json()["backup"]
    assert (backup["state"], backup["age_hours"]) == ("ok", 2.0)
    assert datetime.fromisoformat(backup["last_success"]) == taken_at
    metrics = walker.client.get(
        "/metrics", headers={"Authorization": "Bearer metrics-test-token"}
    ).text
    values = backup_values(metrics)
    assert values["openday_backup_last_success_timestamp_seconds"] == taken_at.timestamp()
    assert values["openday_backup_last_failure_timestamp_seconds"] == 0
    assert values["openday_backup_last_size_bytes"] == (tmp_path / "manual.tar").stat().st_size
    clock.set(local(2022, 9, 17, 13, 1))
    ready = walker.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["backup"]["state"] == "stale"
