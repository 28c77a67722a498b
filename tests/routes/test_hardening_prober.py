"""While hostile requests run, the service keeps answering others (issue 14).

A real server process (uvicorn, one process, SQLite under a private folder) is probed with a
normal read — a supervisor listing events — first idle, then while other threads send zip bombs
and a 340 MB shared-strings sheet to the import, a 5 MB JSON body to sign-in, ids of 2^63 and a
sign-in flood. Every hostile request must get its 4xx within 2 s; the prober's p95 under attack
must stay within LATENCY_FACTOR × the idle p95 + LATENCY_SLACK (both measured here, in the same
test, on the same machine); the server's peak resident memory (VmHWM in /proc) stays ≤ 300 MB
through the archive cases. The sign-in flood runs after them (its Argon2 verifications, 64 MiB
each, raise the peak on their own): every sign-in is refused and the prober is answered
throughout; its latencies are printed, not bounded (each failed sign-in up to the throttle's
count costs one Argon2 verification, so a flood on two cores does slow others).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlmodel import Session

from models import Role, Unit, UnitKind
from tests.browser_support import NOW, free_port, notice_campaign, seed
from tests.files.test_hardening_archives import _bomb_docx, _shared_strings_xlsx
from workflows.accounts.service import create_user, issue_token

ROOT = Path(__file__).resolve().parents[2]
PROBES = 60
LATENCY_FACTOR = 5.0
LATENCY_SLACK = 0.5  # seconds: two shared cores, other suites running beside this one
RSS_LIMIT_KB = 300 * 1024
FAST = 2.0  # seconds for a hostile request's 4xx


@contextmanager
def _server(folder: Path, url: str) -> Iterator[tuple[str, int]]:
    """uvicorn serving api:app against `url`; yields (base URL, server pid)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENDAY_")}
    env.update(
        OPENDAY_DATABASE_URL=url, OPENDAY_VAR_DIR=str(folder / "var"),
        OPENDAY_CLOCK_START=NOW.isoformat(), OPENDAY_LOG_FORMAT="json",
        OPENDAY_LOG_LEVEL="WARNING", OPENDAY_RATELIMIT_URL="memory://",
    )  # fmt: skip
    with open(folder / "server.log", "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api:app", "--port", str(port), "--host",
             "127.0.0.1", "--no-access-log"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, (folder / "server.log").read_text()[-2000:]
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)  # a real process starting to listen
        yield base, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


def _probe(
    base: str, headers: dict[str, str], n: int, until: Callable[[], bool] = lambda: True
) -> list[float]:
    """At least `n` timed reads, back to back, and on until `until()` holds."""
    took: list[float] = []
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        while len(took) < n or not until():
            started = time.perf_counter()
            response = client.get("/api/v1/events", params={"limit": 20})
            took.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
    return took


def test_hostile_requests_get_fast_4xx_and_others_keep_their_latency(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'openday.db'}"
    tokens: dict[str, str] = {}

    def fill(session: Session) -> None:
        campaign = notice_campaign(session)
        session.add(Unit(name="区住建局", kind=UnitKind.department, created_at=NOW))
        session.flush()
        tokens["campaign"] = str(campaign.id)
        boss = create_user(session, username="boss", role=Role.supervisor, now=NOW)
        tokens["boss"] = issue_token(session, boss, kind="api", now=NOW)
        create_user(
            session, username="clerk", role=Role.unit_staff, unit_name="区住建局",
            password="Correct-horse-battery", now=NOW,
        )  # fmt: skip

    seed(url, fill)
    headers = {"Authorization": f"Bearer {tokens['boss']}"}
    bomb, sheet, ratio = _bomb_docx(500), _shared_strings_xlsx(340), _bomb_docx(10)
    imports = f"/api/v1/campaigns/{tokens['campaign']}/schedule-imports"
    huge_json = b'{"username": "' + b"a" * (5 * 1024 * 1024) + b'"}'

    hostile: list[tuple[str, Callable[[httpx.Client], httpx.Response], set[int]]] = [
        ("zip bomb .docx", lambda c: c.post(imports, files={"file": ("炸弹.docx", bomb)},
                                            headers=headers), {413}),
        ("340 MB shared strings", lambda c: c.post(imports, files={"file": ("串.xlsx", sheet)},
                                                   headers=headers), {413}),
        ("ratio bomb", lambda c: c.post(imports, files={"file": ("压.docx", ratio)},
                                        headers=headers), {422}),
        ("5 MB JSON", lambda c: c.post("/api/v1/auth/login", content=huge_json,
                                       headers={"content-type": "application/json"}), {413}),
        ("id 2^63", lambda c: c.get("/api/v1/events/9223372036854775808", headers=headers),
         {422}),
        ("offset 2^63", lambda c: c.get("/api/v1/events", params={"offset": 2**63},
                                        headers=headers), {422}),
    ]  # fmt: skip
    login = [
        ("sign-in flood", lambda c, n=n: c.post("/api/v1/auth/login", json={
            "username": "clerk" if n % 2 else f"nobody{n}", "password": f"wrong-{n}"}),
         {401, 429})
        for n in range(40)
    ]  # fmt: skip

    with _server(tmp_path, url) as (base, pid):
        _probe(base, headers, 10)  # warm up (imports, connection, caches)
        idle = _probe(base, headers, PROBES)
        files = _under_attack(base, headers, [hostile] * 2)
        after_archives = _peak_rss_kb(pid)
        flood = _under_attack(base, headers, [login] * 4)
        after_flood = _peak_rss_kb(pid)

    idle_p95 = _p95(idle)
    bound = LATENCY_FACTOR * idle_p95 + LATENCY_SLACK
    print(
        f"\nprober p95: idle {idle_p95 * 1000:.1f} ms; under archives/bodies/ids "
        f"{_p95(files.probes) * 1000:.1f} ms (bound {bound * 1000:.0f} ms, {files.sent} hostile "
        f"requests); under the sign-in flood {_p95(flood.probes) * 1000:.1f} ms ({flood.sent} "
        f"sign-ins, slowest answer {flood.slowest:.2f} s). Server VmHWM {after_archives / 1024:.0f}"
        f" MB after the archive cases, {after_flood / 1024:.0f} MB after the flood"
    )
    assert files.wrong == [], files.wrong[:10]
    assert files.slowest <= FAST, files.slowest
    assert _p95(files.probes) <= bound, (idle_p95, _p95(files.probes))
    assert after_archives <= RSS_LIMIT_KB, f"peak RSS {after_archives / 1024:.0f} MB"
    # The flood: every sign-in refused (401, then 429 once the throttle counts enough), and the
    # prober answered throughout (each probe asserted 200 within its timeout).
    assert flood.wrong == [], flood.wrong[:10]
    assert len(flood.probes) >= PROBES


@dataclass
class Attack:
    probes: list[float]
    sent: int
    slowest: float
    wrong: list[str]


def _under_attack(base: str, headers: dict[str, str], plan: list[list]) -> Attack:
    """Threads send their cases over and over while the prober reads; probing lasts until
    every thread has sent each of its cases at least once."""
    stop = threading.Event()
    rounds = [0] * len(plan)
    result = Attack([], 0, 0.0, [])

    def attack(cases: list, me: int) -> None:
        with httpx.Client(base_url=base, timeout=60) as client:
            while not stop.is_set():
                for name, send, allowed in cases:
                    started = time.perf_counter()
                    response = send(client)
                    took = time.perf_counter() - started
                    result.sent += 1
                    result.slowest = max(result.slowest, took)
                    if response.status_code not in allowed:
                        result.wrong.append(f"{name}: {response.status_code} {response.text[:200]}")
                rounds[me] += 1

    threads = [threading.Thread(target=attack, args=(c, n)) for n, c in enumerate(plan)]
    for t in threads:
        t.start()
    try:
        result.probes = _probe(base, headers, PROBES, until=lambda: min(rounds) >= 1)
    finally:
        stop.set()
        for t in threads:
            t.join(120)
    return result
