"""`make test`'s parallel run keeps each file on one worker and the fault files together.

The run itself is checked: a small suite in a temporary folder, using this suite's scheduler hook,
runs under two xdist workers, and each test writes down the worker it ran on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import FIRST_SCOPES, scope_of

ROOT = Path(__file__).resolve().parent.parent

PROBE = textwrap.dedent(
    """
    import json, os, pathlib

    import pytest

    @pytest.mark.parametrize("n", range(6))
    def test_where(n, request):
        name = request.node.nodeid.replace("/", "_") + ".json"
        ran = [request.node.nodeid, os.environ.get("PYTEST_XDIST_WORKER")]
        (pathlib.Path(os.environ["PROBE_OUT"]) / name).write_text(json.dumps(ran))
    """
)


def test_scope_is_the_file_or_the_serial_group() -> None:
    assert scope_of("tests/pages/test_x.py::test_a[sqlite]") == "tests/pages/test_x.py"
    assert scope_of("tests/faults/test_kill.py::test_b") == "faults"
    assert scope_of("tests/faults/test_redis.py::test_c[pg-aof]") == "faults"
    assert "faults" in FIRST_SCOPES


def test_two_workers_never_split_a_file_nor_the_fault_files(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    for name in ("tests/test_a.py", "tests/test_b.py", "tests/faults/test_c.py",
                 "tests/faults/test_d.py"):  # fmt: skip
        (suite / name).parent.mkdir(parents=True, exist_ok=True)
        (suite / name).write_text(PROBE)
    (suite / "conftest.py").write_text(
        "from tests.conftest import pytest_collection_modifyitems, pytest_xdist_make_scheduler\n"
        "__all__ = ['pytest_collection_modifyitems', 'pytest_xdist_make_scheduler']\n"
    )
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "PROBE_OUT": str(out), "PYTHONPATH": str(ROOT)}
    env.pop("PYTEST_XDIST_WORKER", None)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2",
         "--dist", "loadfile", "--rootdir", str(suite), "-c", os.devnull, str(suite)],
        cwd=suite, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    ran = [json.loads(p.read_text()) for p in out.iterdir()]
    assert len(ran) == 24
    workers: dict[str, set[str]] = {}
    for nodeid, worker in ran:
        workers.setdefault(scope_of(nodeid), set()).add(worker)
    assert sorted(workers) == ["faults", "tests/test_a.py", "tests/test_b.py"]
    assert all(len(w) == 1 for w in workers.values()), workers
