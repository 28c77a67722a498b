"""Cold start (issue 32): `openday run` (embedded defaults: SQLite, in-process broker) and
`openday api` from process start to the first /healthz 200, and the API worker's resident
memory at idle. Target: `openday run` ≤ 3 s to the first /healthz, every process ≤ 150 MB.

Run from the project root (rerunnable: every round makes its own var dir):

    .venv/bin/python bench/coldstart.py [--runs 5] [--requests 200] [--no-compile]

Byte code: an installed service has its modules compiled (pip compiles what it installs; the
Docker image runs `python -m compileall -q /app`; `make run` compiles the project before
starting). This machine may set PYTHONDONTWRITEBYTECODE=1, which would otherwise make every
start compile every project module from source again, so the script first runs
`python -m compileall -q` over the project's packages (compileall writes .pyc files even under
that variable) and says so; `--no-compile` measures whatever byte code is there.

Each of `--runs` rounds, in a fresh temporary var dir, with no OPENDAY_* variable set except
OPENDAY_VAR_DIR and the project on PYTHONPATH (the checkout is measured, whatever the venv's
editable install points at):

1. `openday run` in the empty var dir (migrate from nothing, load the demo) → first /healthz;
2. `openday run` again on that var dir (schema at head, demo there) → first /healthz; its RSS
   (VmRSS) at idle one second later, then after `--requests` requests of a warm-up (the
   sign-in page, sign-in, the staff's and the supervisor's first pages, the API's event list);
3. `openday api` on that database (no broker) → first /healthz, RSS at idle and after warm-up.

Each time is the median of the rounds with its spread. Then `openday run` once more with
`-X importtime` (PYTHONPROFILEIMPORTTIME) until its first /healthz: the total import time and
the ten costliest top-level packages (self time of their modules, summed) are printed.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from _common import (
    OPENDAY,
    ROOT,
    Proc,
    cpu_seconds,
    free_port,
    machine,
    peak_rss,
    spawn,
    status_kb,
    stop,
)

TARGET_SECONDS = 3.0
RSS_LIMIT_MB = 150.0
SOURCES = ("api.py", "settings.py", "serving.py", "cli", "models", "migrations", "pages",
           "routes", "schemas", "web", "workers", "workflows")  # fmt: skip


def compile_project() -> float:
    """`python -m compileall -q` over the project's packages, as an install does; seconds."""
    began = time.perf_counter()
    subprocess.run([sys.executable, "-m", "compileall", "-q", *SOURCES], cwd=ROOT, check=True)
    return time.perf_counter() - began


def embedded_env(var: Path, **extra: str) -> dict[str, str]:
    """The environment of a first start: no OPENDAY_* setting but the var dir, this checkout
    first on the path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENDAY_") and k != "PORT"}
    env.update(OPENDAY_VAR_DIR=str(var), PYTHONPATH=str(ROOT), **extra)
    return env


def healthy(port: int) -> bool:
    """GET /healthz answered 200."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


@dataclass
class Started:
    """A process up: its first /healthz 200 after `seconds`, having used `cpu` seconds."""

    proc: Proc
    seconds: float
    cpu: float
    port: int


def start(name: str, command: str, var: Path, logs: Path, **extra: str) -> Started:
    """Start `openday <command>` and wait for its first /healthz 200."""
    port = free_port()
    args = [OPENDAY, command, "--host", "127.0.0.1", "--port", str(port)]
    began = time.perf_counter()
    proc = spawn(name, args, embedded_env(var, **extra), logs)
    while not healthy(port):
        if not proc.alive():
            raise SystemExit(f"{name} exited {proc.popen.returncode}:\n{proc.tail()}")
        if time.perf_counter() - began > 120:
            stop(proc)
            raise SystemExit(f"{name}: no /healthz 200 within 120 s:\n{proc.tail()}")
        time.sleep(0.02)
    return Started(proc, time.perf_counter() - began, cpu_seconds([proc.popen.pid]), port)


def rss_mb(proc: Proc) -> float:
    """The process's resident memory now (VmRSS), MB."""
    return status_kb(proc.popen.pid, "VmRSS") / 1024


def warm_up(port: int, var: Path, requests: int) -> Counter[int]:
    """`requests` requests as people's first minutes send them; the statuses counted."""
    import httpx

    logins = {x["role"]: x for x in json.loads((var / "demo-credentials.json").read_text())}
    statuses: Counter[int] = Counter()
    base = f"http://127.0.0.1:{port}"
    with (
        httpx.Client(base_url=base, timeout=30) as staff,
        httpx.Client(base_url=base, timeout=30) as supervisor,
    ):
        for client, who in ((staff, "unit_staff"), (supervisor, "supervisor")):
            statuses[sign_in(client, logins[who])] += 1
        token = {"authorization": f"Bearer {logins['unit_staff']['token']}"}
        plan = [(staff, "/", {}), (supervisor, "/board", {}), (staff, "/api/v1/events", token),
                (staff, "/login", {}), (staff, "/healthz", {})]  # fmt: skip
        for n in range(max(0, requests - 2)):
            client, path, headers = plan[n % len(plan)]
            statuses[client.get(path, headers=headers).status_code] += 1
    return statuses


def sign_in(client, login: dict[str, str]) -> int:  # noqa: ANN001 - httpx.Client
    """The sign-in form, as a browser sends it; the answer's status (303 when signed in)."""
    page = client.get("/login")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    form = {"csrf": found.group(1) if found else "", **login}
    form = {k: form[k] for k in ("csrf", "username", "password")}
    return int(client.post("/login", data=form).status_code)


@dataclass
class Round:
    """One round's figures: seconds and CPU seconds to the first /healthz, RSS in MB."""

    seconds: dict[str, float] = field(default_factory=dict)  # "fresh", "again", "api"
    cpu: dict[str, float] = field(default_factory=dict)
    rss: dict[str, float] = field(default_factory=dict)  # "openday run idle", …
    peaks: list[str] = field(default_factory=list)  # `peak RSS …` lines
    statuses: Counter[int] = field(default_factory=Counter)

    def took(self, key: str, up: Started) -> Started:
        """Note a start's figures under `key`."""
        self.seconds[key], self.cpu[key] = up.seconds, up.cpu
        return up


def idle_and_warm(name: str, up: Started, var: Path, requests: int, result: Round) -> None:
    """RSS a second after the first /healthz (idle) and the peak so far, then after the
    warm-up (which signs in: argon2's 64 MiB per password check shows in the peak)."""
    time.sleep(1.0)
    result.rss[f"{name} idle"] = rss_mb(up.proc)
    result.rss[f"{name} peak before sign-in"] = status_kb(up.proc.popen.pid, "VmHWM") / 1024
    result.statuses += warm_up(up.port, var, requests)
    result.rss[f"{name} after warm-up"] = rss_mb(up.proc)
    result.peaks.append(f"peak RSS {name}: {peak_rss(name, up.proc).describe()}")


def one_round(requests: int) -> Round:
    """Fresh start, second start (RSS measured), `openday api` (RSS measured) in a new var dir."""
    result = Round()
    with tempfile.TemporaryDirectory(prefix="bench-coldstart-") as tmp:
        var, logs = Path(tmp) / "var", Path(tmp)
        stop(result.took("fresh", start("openday run (fresh)", "run", var, logs)).proc)
        for key, command in (("again", "run"), ("api", "api")):
            up = result.took(key, start(f"openday {command}", command, var, logs))
            try:
                idle_and_warm(f"openday {command}", up, var, requests, result)
            finally:
                stop(up.proc)
    return result


def import_profile(top: int) -> tuple[float, float, list[tuple[str, float]]]:
    """`openday run` on an existing var dir under -X importtime, until its first /healthz:
    (seconds to /healthz, total import seconds, the `top` costliest top-level packages)."""
    with tempfile.TemporaryDirectory(prefix="bench-coldstart-") as tmp:
        var, logs = Path(tmp) / "var", Path(tmp)
        stop(start("prepare", "run", var, logs).proc)
        up = start("importtime", "run", var, logs, PYTHONPROFILEIMPORTTIME="1")
        stop(up.proc)
        text = up.proc.stderr_path.read_text(errors="replace")
    by_package: Counter[str] = Counter()
    for own, name in re.findall(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", text):
        by_package[name.split(".")[0]] += int(own)
    total = sum(by_package.values()) / 1e6
    return up.seconds, total, [(n, us / 1e6) for n, us in by_package.most_common(top)]


def spread(values: list[float]) -> str:
    """`median s (spread min–max s)`."""
    return f"{statistics.median(values):.2f} s (spread {min(values):.2f}–{max(values):.2f} s)"


STARTS = {
    "fresh": "`openday run`, empty var dir (migrate, demo) → first /healthz",
    "again": "`openday run`, existing var dir → first /healthz",
    "api": "`openday api`, existing database → first /healthz",
}


def report(rounds: list[Round], profile: tuple[float, float, list[tuple[str, float]]]) -> bool:
    """Print the figures and the target lines; True when every target is met."""
    print(f"  {len(rounds)} round{'s' if len(rounds) != 1 else ''}, each figure their median:")
    for key, what in STARTS.items():
        print(f"  {what}: {spread([r.seconds[key] for r in rounds])}; "
              f"its CPU time {spread([r.cpu[key] for r in rounds])}")  # fmt: skip
    for key in rounds[0].rss:
        values = [r.rss[key] for r in rounds]
        print(f"  RSS {key}: {statistics.median(values):.0f} MB "
              f"(spread {min(values):.0f}–{max(values):.0f} MB)")  # fmt: skip
    statuses = sum((r.statuses for r in rounds), Counter())
    print(f"  warm-up answers by status: {dict(sorted(statuses.items()))}")
    seconds, total, top = profile
    print(
        f"  under -X importtime (existing var dir, {seconds:.2f} s to /healthz): {total:.2f} s"
        " of imports; costliest top-level packages (own time of their modules):"
    )
    for name, own in top:
        print(f"    {own * 1000:7.0f} ms  {name}")
    for line in rounds[len(rounds) // 2].peaks:
        print(f"  {line}")
    return targets(rounds) and all(code < 400 for code in statuses)


def targets(rounds: list[Round]) -> bool:
    """The target lines (bench/run_all.py reads them); True when all are met. Issue 32's start
    target is a start on an existing var dir (the one every `make run` after the first is);
    the first start, which migrates an empty database through every revision, is reported
    above beside it."""
    median = statistics.median(r.seconds["again"] for r in rounds)
    ok = median <= TARGET_SECONDS
    print(
        f"  target openday run to first /healthz, existing var dir (median): {median:.2f} s ≤ "
        f"{TARGET_SECONDS:.0f} s → {'MET' if ok else 'MISSED'}"
    )
    worst = max(v for r in rounds for v in r.rss.values())
    met = worst <= RSS_LIMIT_MB
    print(
        "  target API worker RSS, idle, peak before sign-in, after warm-up (worst): "
        f"{worst:.0f} MB ≤ {RSS_LIMIT_MB:.0f} MB → {'MET' if met else 'MISSED'}"
    )
    return ok and met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="rounds; each time is their median")
    parser.add_argument("--requests", type=int, default=200, help="warm-up requests")
    parser.add_argument("--top", type=int, default=10, help="costliest imports listed")
    parser.add_argument("--no-compile", action="store_true", help="measure the byte code there")
    args = parser.parse_args()
    print(f"coldstart: {machine()}")
    if args.no_compile:
        print("  byte code: as found (--no-compile)")
    else:
        took = compile_project()
        print(f"  byte code: `python -m compileall -q` over the project first ({took:.1f} s), "
              "as an install does")  # fmt: skip
    rounds = [one_round(args.requests) for _ in range(max(1, args.runs))]
    ok = report(rounds, import_profile(args.top))
    return 0 if ok else 1


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
