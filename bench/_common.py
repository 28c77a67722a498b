"""Shared helpers for the service benchmarks (not a benchmark itself).

- a private PostgreSQL database per run (CREATE DATABASE openday_bench_<hex>, migrate, DROP …
  WITH (FORCE) at the end) and a private, empty Redis database number;
- the real processes (`openday api|scheduler|worker`) spawned with the benchmark environment;
- a small keep-alive HTTP/1.1 client on asyncio streams, so the load generator costs little CPU
  on a 2-core machine (httpx spends ~10x more per request, which would eat the server's CPU);
- peak RSS (VmHWM) of a process tree read from /proc; percentiles; the machine description;
- the move clients of bench/moves.py and bench/rls_moves.py (`load`, `client_loop`, `Run`);
- signed-in page timing and keyset walks of bench/pages.py and bench/city.py (`time_pages`,
  `walk`), and the spread of rounds (`spread`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS = "redis://127.0.0.1:6379"
# BENCH_OPENDAY: another `openday` executable (e.g. a patched checkout) to benchmark instead.
OPENDAY = os.environ.get("BENCH_OPENDAY") or str(Path(sys.executable).parent / "openday")


# --------------------------------------------------------------------------------------------
# Databases
# --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def fresh_database(server_url: str, *, migrate_schema: bool = True) -> Iterator[str]:
    """A private, migrated database on the PostgreSQL server, dropped at the end."""
    from models.db import migrate

    server = make_url(server_url)
    name = f"openday_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        url = server.set(database=name).render_as_string(hide_password=False)
        if migrate_schema:
            migrate(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def libpq_dsn(url: str) -> str:
    """A psycopg (libpq) DSN for an SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextlib.contextmanager
def private_redis(base: str, db: int) -> Iterator[str]:
    """Redis database `db` (must be empty: it is flushed at the end, so it must be ours)."""
    import redis

    url = f"{base.rstrip('/')}/{db}"
    client = redis.Redis.from_url(url)
    if size := client.dbsize():
        keys = sorted(k.decode(errors="replace") for k in itertools.islice(client.scan_iter(), 5))
        raise SystemExit(
            f"Redis database {db} is not empty ({size} keys: {', '.join(keys)}); pick a free one "
            "with --redis-db (refusing to flush someone else's data)"
        )
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


# --------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def service_env(database_url: str, broker_url: str, var_dir: Path, **extra: str) -> dict[str, str]:
    """The environment the service processes run with in every benchmark."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENDAY_") and k != "PORT"}
    env.update(
        OPENDAY_DATABASE_URL=database_url,
        OPENDAY_BROKER_URL=broker_url,
        OPENDAY_LOG_FORMAT="json",
        OPENDAY_NOTIFY_LOG="true",
        OPENDAY_LOG_LEVEL="WARNING",
        OPENDAY_VAR_DIR=str(var_dir),
        PYTHONUNBUFFERED="1",
        OPENDAY_ALLOW_PRIVILEGED_DB_ROLE="true",  # the benchmarks' postgres superuser
    )
    env.update(extra)
    return env


@dataclass
class Proc:
    """A spawned process; stdout is discarded or kept, stderr always goes to a log file."""

    name: str
    popen: subprocess.Popen
    stderr_path: Path
    stdout_path: Path | None

    def tail(self, n: int = 3000) -> str:
        """The end of its stderr (and stdout, when kept)."""
        text = self.stderr_path.read_text(errors="replace")[-n:]
        if self.stdout_path is not None:
            text += "\n--- stdout ---\n" + self.stdout_path.read_text(errors="replace")[-n:]
        return text

    def alive(self) -> bool:
        """Still running."""
        return self.popen.poll() is None


def spawn(
    name: str,
    args: Sequence[str],
    env: dict[str, str],
    logdir: Path,
    *,
    keep_stdout: bool = False,
) -> Proc:
    """Start a process in its own process group (so it and its children can be stopped)."""
    err = logdir / f"{name}.stderr.log"
    out = logdir / f"{name}.stdout.log" if keep_stdout else None
    popen = subprocess.Popen(
        list(args),
        env=env,
        cwd=str(ROOT),
        stdout=out.open("wb") if out else subprocess.DEVNULL,
        stderr=err.open("wb"),
        start_new_session=True,
    )
    return Proc(name, popen, err, out)


def stop(proc: Proc, timeout: float = 20) -> None:
    """SIGTERM the process group, then SIGKILL it if it lingers."""
    if proc.popen.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.popen.pid, signal.SIGTERM)
    try:
        proc.popen.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.popen.pid, signal.SIGKILL)
        proc.popen.wait(5)


def _listening(port: int) -> int:
    """How many sockets listen on this TCP port (one per worker under SO_REUSEPORT)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError), open(table) as f:
            for line in f.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                count += state == "0A" and int(local.rsplit(":", 1)[1], 16) == port
    return count


def wait_http(url: str, proc: Proc, timeout: float = 60, *, listeners: int = 1) -> None:
    """Wait until GET url answers 200 and `listeners` sockets listen on its port (every worker
    of `serving.serve` has its own: load started before the last one listens all lands on the
    first)."""
    import httpx

    port = httpx.URL(url).port or 80
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200 and _listening(port) >= listeners:
                return
        except httpx.HTTPError:
            pass
        if not proc.alive():
            raise SystemExit(f"{proc.name} exited:\n{proc.tail()}")
        time.sleep(0.1)
    raise SystemExit(f"{url} did not come up:\n{proc.tail()}")


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return out
    for tid in tasks:
        with contextlib.suppress(FileNotFoundError):
            out += [int(c) for c in Path(f"/proc/{pid}/task/{tid}/children").read_text().split()]
    return out


def process_tree(pid: int) -> list[int]:
    """The pid and all its descendants."""
    todo, seen = [pid], []
    while todo:
        p = todo.pop()
        seen.append(p)
        todo += _children(p)
    return seen


def status_kb(pid: int, field: str) -> int:
    """A kB field of /proc/<pid>/status (VmHWM: peak RSS, VmRSS: current RSS)."""
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def cmdline(pid: int) -> str:
    """The command line of a process, shortened."""
    with contextlib.suppress(FileNotFoundError):
        raw = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        return raw.replace(str(Path(sys.executable).parent) + "/", "")
    return "?"


@dataclass
class Peak:
    """Peak RSS of one process tree: each process and the sum."""

    name: str
    per_process: list[tuple[int, str, int]]  # pid, cmdline, VmHWM kB

    @property
    def total_mb(self) -> float:
        """Sum of the tree's peaks, MB (an upper bound of the tree's peak)."""
        return sum(kb for _, _, kb in self.per_process) / 1024

    def describe(self) -> str:
        """`N procs: a + b + c MB`."""
        parts = " + ".join(f"{kb / 1024:.0f}" for _, _, kb in self.per_process)
        return f"{len(self.per_process)} procs: {parts} = {self.total_mb:.0f} MB"


def peak_rss(name: str, proc: Proc) -> Peak:
    """VmHWM of the process and every descendant, read now (call before stopping it)."""
    return Peak(
        name,
        [(p, cmdline(p), status_kb(p, "VmHWM")) for p in process_tree(proc.popen.pid)],
    )


def cpu_seconds(pids: Sequence[int]) -> float:
    """utime+stime of the processes (not their reaped children), seconds."""
    total = 0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / tick


# --------------------------------------------------------------------------------------------
# A lean keep-alive HTTP/1.1 client (asyncio streams)
# --------------------------------------------------------------------------------------------


class HttpConnection:
    """One keep-alive connection; requests are sequential on it."""

    def __init__(self, host: str, port: int, headers: dict[str, str] | None = None) -> None:
        self.host, self.port = host, port
        self.headers = headers or {}
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    async def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        """Send one request, return (status, body); reconnects once if the server had closed
        an idle keep-alive connection."""
        try:
            return await self._request(method, path, body, headers)
        except (asyncio.IncompleteReadError, ConnectionError):
            await self.close()
            return await self._request(method, path, body, headers)

    async def _request(
        self, method: str, path: str, body: Any, headers: dict[str, str] | None
    ) -> tuple[int, bytes]:
        if self.writer is None:
            await self._connect()
        assert self.reader is not None and self.writer is not None
        data = b"" if body is None else json.dumps(body).encode()
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        for k, v in {**self.headers, **(headers or {})}.items():
            lines.append(f"{k}: {v}")
        if body is not None:
            lines.append("Content-Type: application/json")
        lines.append(f"Content-Length: {len(data)}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + data)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        chunked = False
        for line in head.split(b"\r\n")[1:]:
            lower = line.lower()
            if lower.startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
            elif lower.startswith(b"transfer-encoding:") and b"chunked" in lower:
                chunked = True
        if chunked:
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                parts.append(chunk[:-2])
            payload = b"".join(parts)
        else:
            payload = await self.reader.readexactly(length)
        return status, payload

    async def close(self) -> None:
        """Close the socket."""
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
            self.writer = None


# --------------------------------------------------------------------------------------------
# Numbers and output
# --------------------------------------------------------------------------------------------


def pct(values: Sequence[float], p: float) -> float:
    """The p-th percentile (nearest rank) of values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1))
    return ordered[k]


def machine() -> str:
    """nproc, CPU model, RAM, PostgreSQL and Redis versions, Python."""
    model = "?"
    with contextlib.suppress(FileNotFoundError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kb = status_like("/proc/meminfo", "MemTotal")
    return (
        f"{os.cpu_count()} CPUs ({model}), {mem_kb / 1024 / 1024:.1f} GiB RAM, "
        f"Python {platform.python_version()}"
    )


def status_like(path: str, field: str) -> int:
    """A `Field: N kB` line of a /proc file."""
    for line in Path(path).read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def server_versions(database_url: str, redis_url: str) -> str:
    """`PostgreSQL 15.x, Redis 7.x`."""
    import psycopg
    import redis

    with psycopg.connect(libpq_dsn(database_url)) as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
    info = redis.Redis.from_url(redis_url).info("server")
    return f"PostgreSQL {pg.split()[0]}, Redis {info['redis_version']}"


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]],
                caption: str | None = None) -> None:  # fmt: skip
    """One rich table on stdout."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, caption=caption, caption_justify="left")
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    Console(width=130).print(table)


def verdict(ok: bool) -> str:
    """MET / MISSED."""
    return "MET" if ok else "MISSED"


def cpu_busy_seconds() -> float:
    """Machine-wide busy CPU seconds so far (all CPUs, from /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class MachineLoad:
    """How busy the whole machine was between start() and stop(), in cores, and the load
    average at the start — so a run disturbed by other work on the machine shows it."""

    def __init__(self) -> None:
        self.t0 = self.b0 = 0.0
        self.cores = 0.0
        self.loadavg = Path("/proc/loadavg").read_text().split()[0]

    def start(self) -> MachineLoad:
        """Take the first snapshot."""
        self.loadavg = Path("/proc/loadavg").read_text().split()[0]
        self.t0, self.b0 = time.monotonic(), cpu_busy_seconds()
        return self

    def stop(self) -> float:
        """Busy cores since start()."""
        self.cores = (cpu_busy_seconds() - self.b0) / max(1e-9, time.monotonic() - self.t0)
        return self.cores


def foreign_processes(own: Sequence[int]) -> list[str]:
    """Other Python/dramatiq/uvicorn processes running now (another benchmark or test suite
    on the same machine makes the figures meaningless)."""
    out = []
    mine = set(own) | {os.getpid()}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in mine:
            continue
        text = cmdline(int(entry.name))
        if text.startswith("postgres") or text.startswith("timeout"):
            continue
        if any(word in text for word in ("pytest", "openday", "dramatiq", "uvicorn")):
            out.append(f"{entry.name}: {text[:100]}")
    return out


# --------------------------------------------------------------------------------------------
# Moves under load (bench/moves.py, bench/rls_moves.py): the clients and what a run measured
# --------------------------------------------------------------------------------------------


@dataclass
class Run:
    """What one target did in the measured window."""

    label: str
    moves: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    server_cpu: float = 0.0
    postgres_cpu: float = 0.0
    client_cpu: float = 0.0
    machine_cpu: float = 0.0
    loadavg: str = ""
    error_samples: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Moves per second."""
        return self.moves / self.seconds if self.seconds else 0.0


def postgres_cpu() -> dict[int, float]:
    """CPU seconds of every PostgreSQL server process on this machine, by pid."""
    out = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    out[int(entry.name)] = cpu_seconds([int(entry.name)])
            except (FileNotFoundError, ProcessLookupError):
                pass
    return out


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU used between two snapshots (processes started meanwhile count in full; processes
    that ended meanwhile are lost, so connections are kept open during the window)."""
    return sum(t - before.get(pid, 0.0) for pid, t in after.items())


class Events:
    """Each event's version and current date, shared across targets (both bump the version)."""

    def __init__(self, ids: list[int], day1: date, day2: date) -> None:
        self.version = dict.fromkeys(ids, 1)
        self.day = dict.fromkeys(ids, day1)
        self.days = (day1, day2)

    def next_day(self, event_id: int) -> date:
        """The other of the two dates."""
        return self.days[1] if self.day[event_id] == self.days[0] else self.days[0]


async def client_loop(
    kind: str,
    port: int,
    token: str | None,
    ids: list[int],
    events: Events,
    t_measure: float,
    t_end: float,
    run: Run,
) -> None:
    """Move this client's events round-robin until t_end; record what completes in the window."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    conn = HttpConnection("127.0.0.1", port, headers)
    i = 0
    try:
        while True:
            started = time.perf_counter()
            if started >= t_end:
                return
            eid = ids[i % len(ids)]
            i += 1
            day = events.next_day(eid)
            if kind == "raw":
                path = f"/raw/events/{eid}/move"
                body = {
                    "expected_version": events.version[eid],
                    "date": day.isoformat(),
                    "reason": "基准测试：改期",
                }
            else:
                path = f"/api/v1/events/{eid}/transitions"
                body = {
                    "trigger": "reschedule",
                    "expected_version": events.version[eid],
                    "reason": "基准测试：改期",
                    "data": {"date": day.isoformat()},
                }
            status, payload = await conn.request("POST", path, body)
            done = time.perf_counter()
            answer = json.loads(payload)
            if status == 200:
                events.version[eid] = answer["event"]["version"]
                events.day[eid] = day
                if t_measure <= started and done <= t_end:
                    run.moves += 1
                    run.latencies.append(done - started)
            else:
                run.errors += 1
                if len(run.error_samples) < 3:
                    run.error_samples.append(f"{status} {payload[:300]!r}")
                current = (answer.get("error", {}).get("details") or {}).get(
                    "current_version", answer.get("current_version")
                )
                if current:
                    events.version[eid] = current
    finally:
        await conn.close()


async def load(
    label: str,
    kind: str,
    port: int,
    owners: list[tuple[str | None, list[int]]],
    events: Events,
    warmup: float,
    seconds: float,
    servers: list[Proc],
) -> Run:
    """Warm up, then measure `seconds` of moves by every client at once."""
    run = Run(label)
    now = time.perf_counter()
    t_measure, t_end = now + warmup, now + warmup + seconds
    tasks = [
        asyncio.create_task(client_loop(kind, port, token, ids, events, t_measure, t_end, run))
        for token, ids in owners
    ]
    await asyncio.sleep(max(0.0, t_measure - time.perf_counter()))
    server_pids = [p for s in servers for p in process_tree(s.popen.pid)]
    load = MachineLoad().start()
    s0, p0, c0 = cpu_seconds(server_pids), postgres_cpu(), time.process_time()
    await asyncio.sleep(max(0.0, t_end - time.perf_counter()))
    s1, p1, c1 = cpu_seconds(server_pids), postgres_cpu(), time.process_time()
    run.machine_cpu, run.loadavg = load.stop(), load.loadavg
    await asyncio.gather(*tasks)
    run.seconds = seconds
    run.server_cpu, run.postgres_cpu = s1 - s0, cpu_delta(p0, p1)
    run.client_cpu = c1 - c0
    return run


# --------------------------------------------------------------------------------------------
# Pages (bench/pages.py, bench/city.py): server time of signed-in pages, keyset walks
# --------------------------------------------------------------------------------------------

COOKIE = "od_session"
NEXT_PAGE = re.compile(r'id="next-page" href="([^"]+)"')


async def time_pages(port: int, requests: list[tuple[str, str]]) -> list[float]:
    """Milliseconds per request, one at a time, on one keep-alive connection per cookie."""
    connections: dict[str, HttpConnection] = {}
    out = []
    try:
        for token, path in requests:
            conn = connections.get(token)
            if conn is None:
                conn = HttpConnection("127.0.0.1", port, {"Cookie": f"{COOKIE}={token}"})
                connections[token] = conn
            t0 = time.perf_counter()
            status, body = await conn.request("GET", path)
            out.append((time.perf_counter() - t0) * 1000)
            if status != 200:
                raise SystemExit(f"GET {path} answered {status}: {body[:300]!r}")
    finally:
        for conn in connections.values():
            await conn.close()
    return out


def walk(base: str, token: str, path: str, depth: int) -> list[str]:
    """`path` and the next `depth - 1` pages by their next links (keyset cursors)."""
    import httpx

    urls = [path]
    with httpx.Client(base_url=base, cookies={COOKIE: token}, timeout=60) as client:
        while len(urls) < depth:
            page = client.get(urls[-1])
            found = NEXT_PAGE.search(page.text)
            if page.status_code != 200 or not found:
                break
            urls.append(found.group(1).replace("&amp;", "&"))
    return urls


def spread(values: Sequence[float]) -> str:
    """Lowest–highest as a share of the median (how much rounds or runs disagree)."""
    import statistics

    mid = statistics.median(values)
    return f"{(max(values) - min(values)) / mid:.0%}" if mid else "-"
