"""Fault tests (issue 6): the real `openday scheduler`, `openday worker` and `openday api`
processes under kill -9, SIGTERM, Redis restarts and pauses, a PostgreSQL outage, duplicated
messages and racing schedulers — each checked by comparing the escalations owed (computed from
the seeded database rows) with the ones delivered (a local webhook sink keyed by
Idempotency-Key): every owed one delivered, none delivered twice.

Run (CI does, with the rest of the suite):

    OPENDAY_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
    OPENDAY_REDIS_URL=redis://127.0.0.1:6379/0 OPENDAY_REQUIRE_SERVICES=1 \\
    .venv/bin/python -m pytest tests/faults -q

Servers that a test stops or pauses are its own (a throwaway redis-server; a throwaway
PostgreSQL cluster via initdb/pg_ctl) — the machine's servers are never touched. Knobs:
OPENDAY_FAULT_SEED replays the kill test's random choices; OPENDAY_FAULT_FULL=1 makes the
scheduler race also deliver all 10,000 escalations (~100 s more). Shared helpers are in
`harness.py`; `doubling.py` is the broker module of the double-delivery test.
"""
