"""Round trips of a timer burst's delivery path, counted (not timed): how many SQL statements
(and rows sent in executemany batches) one worker's `handle_timers` batch sends, against the
set-based floor's six statements per batch (bench/timers.py).

    .venv/bin/python bench/timer_statements.py [--timers 500]

A private database gets `--timers` pending level-1 hold escalations on their own planned
events, all due; the scheduler's claim fires them; then the worker's code path
(workers/actors.py `_apply`: escalation.handle_timers, the log channel's inline delivery, the
commit) runs once over the whole batch with a statement counter on the engine, and the
relay of what it owes is counted apart. Load does not change the counts, so this is the check
of the burst's path on a busy machine; bench/timers.py times it on a quiet one.
"""

from __future__ import annotations

import argparse
import collections
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from _common import DEFAULT_PG, fresh_database  # first: puts the project root on sys.path
from _seed import connect, seed_events, seed_world
from timers import FLOOR_CLAIM, insert_timers


def main(argv: list[str] | None = None) -> int:
    """Seed, fire, run one batch with a statement counter; print the counts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_PG)
    parser.add_argument("--timers", type=int, default=500, help="one batch (the scheduler's 500)")
    args = parser.parse_args(argv)

    import sqlalchemy as sa

    from models.db import make_engine
    from settings import Settings, configure_logging
    from workers import actors
    from workers.runtime import Runtime, build_channels
    from workflows.kernel.clock import SystemClock

    past = datetime.now(UTC).date() - timedelta(days=3)
    with fresh_database(args.database_url) as url:
        world = seed_world(url, 20)
        with connect(url) as conn:
            first, _ = seed_events(conn, world, args.timers, day=past)
            insert_timers(conn, first, args.timers, datetime.now(UTC) - timedelta(hours=1), 0.0)
            ids = [r[0] for r in conn.execute(FLOOR_CLAIM, {"batch": args.timers})]
        settings = Settings(
            database_url=url, log_format="json", log_level="WARNING", notify_log=True
        )
        configure_logging(settings)
        engine = make_engine(url)
        rt = Runtime(engine, SystemClock(), settings, build_channels(settings))
        counts: collections.Counter[str] = collections.Counter()
        rows: collections.Counter[str] = collections.Counter()

        def count(_c: Any, _cur: Any, statement: str, params: Any, _ctx: Any, many: bool) -> None:
            text = " ".join(statement.split())
            key = re.sub(r"\(%\(.*", "(…", text)[:110]
            counts[key] += 1
            rows[key] += len(params) if many and isinstance(params, list | tuple) else 1

        sa.event.listen(engine, "before_cursor_execute", count)
        try:
            owed = actors._apply(rt, ids)
        finally:
            sa.event.remove(engine, "before_cursor_execute", count)
        print(f"handle_timers over one batch of {len(ids)} fired timers:")
        for key, n in counts.most_common():
            print(f"  {n:5d} × ({rows[key]:5d} rows)  {key}")
        total = sum(counts.values())
        print(f"{total} statements (round trips) for {len(ids)} timers, {len(owed)} outbox rows")
        print("the floor: 6 statements per batch (claim, read, lock events, lock timers, level, "
              "notifications, done)")  # fmt: skip
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
