"""A start of the embedded default loads only what it uses (issue 32's cold start): a second
`openday run` on an existing var dir goes through every step of `run` — the startup checks,
the demo's preparation, the escalation warning, the in-process worker and scheduler, the app —
without importing redis-py, pika (the brokers it does not use), httpx (webhooks, imported when
one is first sent) or Alembic (the schema is already at head: models/revisions.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from settings import PROJECT_DIR

NOT_AT_START = ("redis", "pika", "httpx", "alembic", "dramatiq.brokers.redis")

# The steps of cli/serve.py's `run`, up to serving; then which of those modules were imported.
START = f"""
import json, os, sys
from cli import serve
from cli.checks import preflight
from cli.shared import open_engine

settings = serve._served_settings("127.0.0.1", None)
preflight(settings, "127.0.0.1", 0, allow_empty=True)
serve._prepare_demo(settings)
serve.warn_unreached(settings)
stop, threads, broker = serve._start_background(settings)
from api import create_app

create_app(settings, broker=broker)
print(json.dumps(sorted(m for m in {NOT_AT_START!r} if m in sys.modules)), flush=True)
os._exit(0)  # the worker's threads are not daemons: `run` stops them through uvicorn's exit
"""


def _start(var: Path) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENDAY_")}
    env.update(OPENDAY_VAR_DIR=str(var), PYTHONPATH=str(PROJECT_DIR), OPENDAY_LOG_LEVEL="WARNING")
    done = subprocess.run(
        [sys.executable, "-c", START], env=env, cwd=PROJECT_DIR, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


def test_a_second_embedded_start_imports_no_broker_client_webhook_client_or_alembic(
    tmp_path: Path,
) -> None:
    var = tmp_path / "var"
    first = _start(var)
    assert "alembic" in first  # the empty database was migrated: the check can see imports
    assert _start(var) == []
    assert (var / "openday.db").exists() and (var / "demo-credentials.json").exists()
