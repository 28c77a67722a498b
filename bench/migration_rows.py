"""The migrations since the last release that rewrite or backfill a big table, timed on
PostgreSQL with ROWS rows in each such table, and what they lock while they run.

Run from the project root, on a quiet machine (it loads it for many minutes):

    .venv/bin/python bench/migration_rows.py [--rows 1000000] [--database-url URL]

A private database (`openday_bench_<hex>`, dropped at the end, also on failure) is loaded with
the previous release's dump (tests/fixtures/upgrade/release-0016.pg.sql) and migrated to the
revision before the first measured one (0017). ROWS copies of the release's own rows are then
added to each big table a later migration rewrites:

- `event`: ROWS events (every tenth cancelled, with its `cancel` audit line; the others held);
- `feedback_item`: ROWS answered opinions, one per event (the held events' answers have their
  `feedback.answer` audit line);
- `invitee`: ROWS invitees, one per event;
- `transition_log`: ROWS audit lines (the cancel and answer lines above), sealed with the
  unkeyed hash of those releases, so 0018 verifies and re-seals them.

Then every migration up to head runs alone (`alembic upgrade <next>`, one transaction each, on
a connection named `openday-migration-bench`) and is timed. Meanwhile a sampler reads pg_locks
for that connection every 0.2 s (the strongest lock it held on each big table) and a prober
asks, on its own connection with a 50 ms lock_timeout, for the lock a read (ACCESS SHARE) and
a write (ROW EXCLUSIVE: INSERT, UPDATE, DELETE) of each table need, every 0.5 s or so. The table
printed: seconds per migration, and per big table the strongest lock and how long reads and
writes were refused. Migrations that took under 0.5 s are summed in one line.
Measured (docs/operations.md, "Migrations that rewrite big tables").
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from _common import DEFAULT_PG, ROOT, fresh_database, machine  # puts the project on sys.path
from sqlalchemy.engine import make_url

DUMP = ROOT / "tests/fixtures/upgrade/release-0016.pg.sql"
START = "0017"  # the revision before the first measured migration (0018)
BIG = ("event", "feedback_item", "invitee", "transition_log", "change_log")
APP = "openday-migration-bench"
# pg_locks modes, weakest first.
MODES = (
    "AccessShareLock", "RowShareLock", "RowExclusiveLock", "ShareUpdateExclusiveLock",
    "ShareLock", "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock",
)  # fmt: skip


def load_release(url: sa.URL) -> None:
    command = ["psql", "-q", "-v", "ON_ERROR_STOP=1", "-h", url.host or "127.0.0.1"]
    command += ["-p", str(url.port or 5432), "-U", url.username or "postgres", "-d"]
    command += [url.database or "", "-f", str(DUMP)]
    env = {**os.environ, "PGPASSWORD": url.password or ""}
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def clone(
    conn: sa.Connection, table: str, template: int, source: str, values: dict[str, str]
) -> int:
    """INSERT one copy of row `template` of `table` per row of `source` (a FROM clause whose
    rows are named `s`), with `values` overriding columns (SQL over t, the template, and s)."""
    columns = [c["name"] for c in sa.inspect(conn).get_columns(table) if c["name"] != "id"]
    exprs = [values.get(name, f"t.{name}") for name in columns]
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(exprs)} "
        f"FROM {table} t, {source} WHERE t.id = :template"
    )
    return conn.execute(sa.text(sql), {"template": template}).rowcount


def build(url: str, rows: int) -> None:
    """ROWS events, opinions, invitees and audit lines, made at revision START."""
    import models
    from workflows.kernel.audit import GENESIS, plain_digest

    engine = sa.create_engine(url)
    log = models.TransitionLog.__table__
    with engine.begin() as conn:
        held, opinion, invitee = (
            conn.execute(sa.text(f"SELECT min(id) FROM {where}")).scalar_one()
            for where in (
                "event WHERE held_on IS NOT NULL",
                "feedback_item WHERE answered_at IS NOT NULL",
                "invitee",
            )
        )
        clone(conn, "event", held, f"generate_series(1, {rows}) s(g)", {
            "source_key": "'bench-' || s.g",
            "state": "CASE WHEN s.g % 10 = 0 THEN 'cancelled' ELSE t.state END",
            "held_on": "CASE WHEN s.g % 10 = 0 THEN NULL ELSE t.held_on END",
        })  # fmt: skip
        made = "(SELECT id, state FROM event WHERE source_key LIKE 'bench-%') s"
        clone(conn, "feedback_item", opinion, made, {
            "event_id": "s.id", "receipt_code": "'B' || lpad(s.id::text, 11, '0')",
        })  # fmt: skip
        clone(conn, "invitee", invitee, made, {"event_id": "s.id"})
        present = {c["name"] for c in sa.inspect(conn).get_columns("transition_log")}
        columns = [c for c in log.columns if c.name in present and c.name != "id"]
        templates = {
            trigger: dict(
                conn.execute(
                    sa.select(*columns).where(log.c.trigger == trigger).order_by(log.c.id).limit(1)
                )
                .mappings()
                .one()
            )
            for trigger in ("cancel", "feedback.answer")
        }
        lines = conn.execute(
            sa.text(
                "SELECT e.id, e.state, f.id AS item FROM event e JOIN feedback_item f "
                "ON f.event_id = e.id WHERE e.source_key LIKE 'bench-%' ORDER BY e.id"
            )
        ).all()

        def sealed() -> Iterator[dict[str, Any]]:
            """Each event's one line, the first of its chain, hashed as release 0016 did."""
            for event_id, state, item in lines:
                cancelled = state == "cancelled"
                row = dict(templates["cancel" if cancelled else "feedback.answer"])
                row.update(event_id=event_id, seq=1, prev_hash=GENESIS)
                row["feedback_item_id"] = None if cancelled else item
                row["row_hash"] = plain_digest(log, row, GENESIS)
                yield row

        rows_left = sealed()
        while chunk := list(itertools.islice(rows_left, 10_000)):
            conn.execute(sa.insert(log), chunk)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in BIG:  # what autovacuum would have done on a database in use
            conn.exec_driver_sql(f"VACUUM ANALYZE {table}")
        counts = {t: conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar_one() for t in BIG}
    engine.dispose()
    print("rows at " + START + ": " + ", ".join(f"{t} {n:,}" for t, n in counts.items()))


@dataclass
class Watch:
    """Locks the migration's connection holds, and what a read and a write of each big table
    could get meanwhile; sampled by two threads until `stop` is set."""

    url: str
    pid: int
    stop: threading.Event = field(default_factory=threading.Event)
    strongest: dict[str, str] = field(default_factory=dict)
    refused: dict[tuple[str, str], float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def __enter__(self) -> Watch:
        self.threads = [threading.Thread(target=f, daemon=True) for f in (self._locks, self._probe)]
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()

    def _locks(self) -> None:
        query = sa.text(
            "SELECT c.relname, l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE l.pid = :pid AND l.granted AND c.relname = ANY(:tables)"
        )
        engine = sa.create_engine(self.url, poolclass=sa.pool.NullPool)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            while not self.stop.wait(0.2):
                for table, mode in conn.execute(query, {"pid": self.pid, "tables": list(BIG)}):
                    before = self.strongest.get(table)
                    if before is None or MODES.index(mode) > MODES.index(before):
                        self.strongest[table] = mode
        engine.dispose()

    def _probe(self) -> None:
        """A refused probe counts the wall time since the previous round (a round of refused
        probes takes longer than its 0.5 s pause on a loaded machine)."""
        engine = sa.create_engine(self.url, poolclass=sa.pool.NullPool)
        last = time.perf_counter()
        with engine.connect() as conn:
            while not self.stop.wait(0.5):
                now = time.perf_counter()
                step, last = now - last, now
                for table in BIG:
                    for what, mode in (("read", "ACCESS SHARE"), ("write", "ROW EXCLUSIVE")):
                        try:
                            conn.exec_driver_sql("SET LOCAL lock_timeout = '50ms'")
                            conn.exec_driver_sql(f"LOCK TABLE {table} IN {mode} MODE")
                        except sa.exc.OperationalError as error:
                            if "lock timeout" not in str(error):
                                self.errors.append(str(error).splitlines()[0])
                            key = (table, what)
                            self.refused[key] = self.refused.get(key, 0.0) + step
                        finally:
                            conn.rollback()
        engine.dispose()


def measure(url: str) -> list[tuple[str, float, Watch]]:
    """Every migration from START to head, alone, timed and watched."""
    from alembic import command
    from alembic.script import ScriptDirectory

    config = alembic_config(url)
    script = ScriptDirectory.from_config(config)
    order = [r.revision for r in reversed(list(script.walk_revisions("base", "heads")))]
    todo = order[order.index(START) + 1 :]
    engine = sa.create_engine(
        make_url(url).update_query_dict({"application_name": APP}), poolclass=sa.pool.NullPool
    )
    results = []
    with engine.connect() as conn:
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        conn.commit()
        config.attributes["connection"] = conn
        for revision in todo:
            with Watch(url, pid) as watch:
                started = time.perf_counter()
                command.upgrade(config, revision)
                conn.commit()
                took = time.perf_counter() - started
            results.append((revision, took, watch))
            print(f"  {revision}: {took:.1f} s", flush=True)
    engine.dispose()
    return results


def report(results: list[tuple[str, float, Watch]]) -> None:
    short = [(r, t) for r, t, _ in results if t < 0.5]
    print()
    print("| migration | seconds | strongest lock held (table) | reads refused | writes refused |")
    print("| --- | ---: | --- | --- | --- |")
    for revision, took, watch in results:
        if took < 0.5:
            continue
        held = ", ".join(
            f"{m.removesuffix('Lock')} ({t})" for t, m in sorted(watch.strongest.items())
        )
        cells = []
        for what in ("read", "write"):
            refused = [f"{t} {s:.1f} s" for (t, w), s in sorted(watch.refused.items()) if w == what]
            cells.append(", ".join(refused) or "none")
        print(f"| {revision} | {took:.1f} | {held or '-'} | {cells[0]} | {cells[1]} |")
        for error in sorted(set(watch.errors))[:3]:
            print(f"|   probe error: {error} | | | | |")
    if short:
        names = ", ".join(r for r, _ in short)
        print(f"| {names} | {sum(t for _, t in short):.1f} in all | | | |")
    print()
    print(machine())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=DEFAULT_PG)
    args = parser.parse_args()
    from alembic import command

    with tempfile.TemporaryDirectory(prefix="openday-migrations-") as work:
        os.environ.update(OPENDAY_VAR_DIR=work, OPENDAY_AUDIT_KEY="bench-migrations-" + "k" * 32)
        with fresh_database(args.database_url, migrate_schema=False) as url:
            load_release(make_url(url))
            command.upgrade(alembic_config(url), START)
            started = time.perf_counter()
            build(url, args.rows)
            print(f"built in {time.perf_counter() - started:.0f} s; migrating one at a time:")
            report(measure(url))


if __name__ == "__main__":
    sys.exit(main())
