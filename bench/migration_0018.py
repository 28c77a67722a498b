"""Migration 0018 (the audit chains keyed: verify, then re-hash and UPDATE every audit row) timed
on SQLite with N extra transition_log rows — the migration that rewrites the biggest table.

Run from the project root:

    .venv/bin/python bench/migration_0018.py [ROWS]    # default 1000000

The previous release's database (tests/fixtures/upgrade/release-0016.sqlite) is copied to a
temporary folder and migrated to 0017; ROWS rows are appended to one event's chain, sealed with
the unkeyed hash those releases used; then `alembic upgrade 0018` is timed. Measured (docs/
operations.md, "Migrations that rewrite big tables"): 1,000,079 rows, 861 s on the 2-core
development machine at load average 12-16 (seven other jobs running).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent


def main(rows: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="openday-0018-"))
    db = work / "openday.db"
    shutil.copy(PROJECT / "tests/fixtures/upgrade/release-0016.sqlite", db)
    url = f"sqlite:///{db}"
    os.environ.update(
        OPENDAY_DATABASE_URL=url,
        OPENDAY_VAR_DIR=str(work / "var"),
        OPENDAY_AUDIT_KEY="bench-0018-" + "k" * 32,
    )
    sys.path.insert(0, str(PROJECT))
    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config

    import models
    from workflows.kernel.audit import plain_digest

    config = Config(str(PROJECT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT / "migrations"))
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, "0017")
    table = models.TransitionLog.__table__
    engine = sa.create_engine(url)
    started = time.perf_counter()
    with engine.begin() as conn:
        last = conn.execute(sa.select(table).order_by(table.c.id.desc()).limit(1)).mappings().one()
        template = dict(last)
        template.pop("id")
        seq, prev = template["seq"], template["row_hash"]
        batch: list[dict[str, object]] = []
        for _ in range(rows):
            seq += 1
            row = {**template, "seq": seq, "prev_hash": prev}
            row["row_hash"] = prev = plain_digest(table, row, prev)
            batch.append(row)
            if len(batch) == 20_000:
                conn.execute(sa.insert(table), batch)
                batch = []
        if batch:
            conn.execute(sa.insert(table), batch)
        total = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
    engine.dispose()
    print(
        f"{rows} rows appended ({total} in transition_log) in {time.perf_counter() - started:.0f} s"
    )
    started = time.perf_counter()
    command.upgrade(config, "0018")
    print(f"migration 0018: {time.perf_counter() - started:.1f} s for {total} audit rows")
    shutil.rmtree(work)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
