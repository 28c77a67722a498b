"""Run every service benchmark one after another on a quiet machine and regenerate BENCHMARKS.md.

    .venv/bin/python bench/run_all.py            # or: make bench
    .venv/bin/python bench/run_all.py --only moves,overdue --no-write
    .venv/bin/python bench/run_all.py --force    # write BENCHMARKS.md even if disturbed (labelled)
    .venv/bin/python bench/run_all.py --runs 1 --only pages --args pages='--events 2000' --no-write

Each script runs `--runs` times (3): each target's figure in the report is the median run's
(its line keeps the limit measured in that same run), followed by every run's figure, their
spread and verdicts; every run's output is kept in BENCHMARKS.md.

Before each benchmark (after waiting up to `--settle` seconds, 240, for the previous one's load
to decay) the machine must be quiet: 1-minute load average at most `--max-load` (default half
the CPU count: 1.0 on 2 CPUs), no other test/service process (pytest, openday,
dramatiq, uvicorn, celery, playwright/chromium) and less than `--max-other` cores (0.15) busy over a
3-second sample. While a benchmark runs, every process's CPU time is sampled every second
(`snapshot`, `attribute`): what the benchmark's process tree, this runner, Redis, PostgreSQL's
own processes and the backends serving the tree's connections used is the benchmark's; the
rest of the machine's busy time is "other CPU", and the foreign processes that used most of it
are named. Processes that end between samples are found in their reaper's cutime (a backend
in the postmaster's, a worker in its master's), so their past is not mistaken for other work.
A benchmark that started on a busy machine or saw more than `--max-other` cores of
other work on average is DISTURBED; then BENCHMARKS.md is not written (the report is printed,
labelled), unless `--force`, which writes it with the label at the top.

Every figure comes from the benchmark scripts' own output, beside the limit measured in the
same run (each script prints `target …: figure → MET/MISSED`); peak RSS per process (VmHWM) is
read from the scripts' `peak RSS` lines and checked against `--rss-limit` MB (150) for every
process. BENCHMARKS.md gets the commit, the date, the machine, the exact commands and each
script's full output.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import re
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from _common import ROOT, cmdline, machine, process_tree

# name -> (script, arguments, what it measures)
BENCHMARKS: dict[str, tuple[str, list[str], str]] = {
    "moves": ("bench/moves.py", [], "moves through the API vs the raw-SQL limit"),
    "overdue": ("bench/overdue.py", [], "overdue list pages (offset and cursor) vs bare SQL"),
    "timers": ("bench/timers.py", [], "timer lateness and the 100,000-deadline burst vs its floor"),
    "pages": ("bench/pages.py", [], "main pages' server time and first-load bytes, 100k events"),
    "public": ("bench/public_calendar.py", [], "public calendar page rate vs a bare ASGI app"),
    "exports": ("bench/exports.py", [], "100k-event export and the 1,000-unit report"),
    "city": (
        "bench/city.py",
        [],
        "city scale (10 districts × 40 units × 5 campaigns): district pages, 全市对比, its xlsx",
    ),
    "rls": ("bench/rls_moves.py", [], "moves with row-level security on vs off, same run"),
    "checkin": ("bench/checkin.py", [], "200 check-in scans in a minute on the embedded default"),
    "coldstart": (
        "bench/coldstart.py",
        [],
        "cold start: `openday run` / `openday api` to the first /healthz, API worker RSS at idle",
    ),
}
BUSY_WORDS = ("pytest", "openday", "dramatiq", "uvicorn", "celery", "playwright", "chromium")
SHARED_SERVICES = ("redis-server", "redis-rdb-bgsave", "redis-aof-rewrite")  # PostgreSQL: ours_in


@dataclass
class Quiet:
    """How quiet the machine was before a benchmark."""

    loadavg: float
    other_cores: float
    others: list[str]
    foreign: list[str] = field(default_factory=list)  # busiest processes that are not ours

    def ok(self, max_load: float, max_other: float) -> bool:
        """Quiet enough to measure."""
        return self.loadavg <= max_load and self.other_cores <= max_other and not self.others

    def describe(self) -> str:
        """One line."""
        text = f"load average {self.loadavg:.2f}, other CPU {self.other_cores:.2f} cores"
        if self.foreign:
            text += f" (busiest: {'; '.join(self.foreign)})"
        if self.others:
            text += f", other processes: {'; '.join(self.others[:5])}"
        return text


def busy_processes() -> list[str]:
    """Test or service processes that are not ours."""
    mine = set(process_tree(os.getpid()))
    parent = os.getppid()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in mine or int(entry.name) == parent:
            continue
        text = cmdline(int(entry.name))
        if text.startswith(("postgres", "timeout")):
            continue
        if any(word in text for word in BUSY_WORDS):
            found.append(f"{entry.name} {text[:80]}")
    return found


# --------------------------------------------------------------------------------------------
# Who used the CPU: whole-machine snapshots of every process, compared pairwise
# --------------------------------------------------------------------------------------------

CLIENT_PORT = re.compile(r"\(([0-9]+)\)")  # `postgres: 15/main: user db 127.0.0.1(35008) idle`
PARALLEL_OF = re.compile(r"parallel worker for PID ([0-9]+)")


@dataclass(frozen=True)
class ProcSample:
    """One process at one instant, from /proc/<pid>/stat (times in seconds)."""

    pid: int
    ppid: int
    start: int  # starttime in ticks: with pid, the process's identity (pids are reused)
    cpu: float  # utime + stime: all its threads, live and exited
    reaped: float  # cutime + cstime: children it has waited for (their whole lives)
    name: str  # comm, or the command line for PostgreSQL and foreign processes


@dataclass(frozen=True)
class Snapshot:
    """Every process, the machine's busy time and which processes are the benchmark's."""

    at: float  # time.monotonic()
    busy: float  # user+nice+system+irq+softirq of all CPUs, seconds (steal is not work here)
    procs: dict[int, ProcSample]
    ours: frozenset[int]  # pids: the benchmark's trees and the shared services serving them


@dataclass
class Share:
    """CPU between two snapshots: the machine's, the benchmark's, each foreign process's."""

    seconds: float
    busy: float  # CPU seconds
    ours: float
    foreign: dict[tuple[int, str], float]  # (pid, name) -> CPU seconds

    @property
    def other(self) -> float:
        """Cores of work that is not the benchmark's (named processes and unattributed time:
        interrupts taken on idle CPUs, foreign processes born and gone between samples)."""
        return max(0.0, self.busy - self.ours) / self.seconds if self.seconds else 0.0


def attribute(before: Snapshot, after: Snapshot) -> Share:
    """Split the CPU used between two snapshots into the benchmark's and each foreign
    process's.

    A process alive in both counts its utime+stime growth; one born meanwhile counts in full.
    A process that ended meanwhile is not in `after`: its last interval is found in its
    parent's cutime+cstime, which grows by the child's whole life when the parent reaps it —
    so the parent counts that growth minus what the child had already used at `before`
    (never below zero: a child reaped by nobody we see, or not yet, is simply not counted,
    instead of its whole past CPU being subtracted from the benchmark's). A process is ours
    when it is ours in either snapshot (trees change: workers start, backends come and go).
    """

    def same(pid: int) -> bool:
        old, new = before.procs.get(pid), after.procs.get(pid)
        return old is not None and new is not None and old.start == new.start

    ended: dict[int, float] = {}  # survivor pid -> CPU its ended descendants had at `before`
    for pid, old in before.procs.items():
        if same(pid):
            continue
        # Credit the nearest ancestor still alive: a child reaped by a parent that then ended
        # itself and was reaped in turn reaches that ancestor's cutime inside its parent's.
        up, hops = old.ppid, 0
        while not same(up) and up in before.procs and hops < 64:
            up, hops = before.procs[up].ppid, hops + 1
        if same(up):
            ended[up] = ended.get(up, 0.0) + old.cpu + old.reaped
    ours_keys = {(pid, before.procs[pid].start) for pid in before.ours if pid in before.procs}
    ours_keys |= {(pid, after.procs[pid].start) for pid in after.ours if pid in after.procs}
    ours, foreign = 0.0, {}
    for pid, new in after.procs.items():
        if same(pid):
            old = before.procs[pid]
            used = (new.cpu - old.cpu) + max(0.0, new.reaped - old.reaped - ended.get(pid, 0.0))
        else:
            used = new.cpu + new.reaped
        if (pid, new.start) in ours_keys:
            ours += used
        elif used > 0:
            foreign[(pid, new.name)] = used
    return Share(after.at - before.at, after.busy - before.busy, ours, foreign)


def _read_proc(pid: int, tick: int) -> ProcSample | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    head, _, tail = raw.rpartition(")")
    f = tail.split()
    return ProcSample(
        pid=pid,
        ppid=int(f[1]),
        start=int(f[19]),
        cpu=(int(f[11]) + int(f[12])) / tick,
        reaped=(int(f[13]) + int(f[14])) / tick,
        name=head.partition("(")[2],
    )


def _machine_busy(tick: int) -> float:
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:8]]
    user, nice, system, _idle, _iowait, irq, softirq = fields
    return (user + nice + system + irq + softirq) / tick


def _socket_ports(pids: Iterable[int]) -> set[int]:
    """Local TCP ports of the sockets the processes hold (their client ends of connections)."""
    inodes: set[str] = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if target.startswith("socket:["):
                        inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                cols = line.split()
                if len(cols) > 9 and cols[9] in inodes:
                    ports.add(int(cols[1].rsplit(":", 1)[1], 16))
    return ports


def descendants(procs: dict[int, ProcSample], roots: Iterable[int]) -> set[int]:
    """The roots and every process below them (from the snapshot's parent pids)."""
    children: dict[int, list[int]] = {}
    for p in procs.values():
        children.setdefault(p.ppid, []).append(p.pid)
    tree: set[int] = set()
    todo = [r for r in roots if r in procs]
    while todo:
        pid = todo.pop()
        if pid not in tree:
            tree.add(pid)
            todo += children.get(pid, [])
    return tree


def ours_in(procs: dict[int, ProcSample], tree: set[int], client_ports: set[int],
            cmdlines: dict[int, str]) -> frozenset[int]:  # fmt: skip
    """The benchmark's tree plus the shared services serving it: Redis, PostgreSQL's own
    processes (postmaster, checkpointer, WAL writer, autovacuum…) and the backends whose client
    port is one of the tree's sockets (and their parallel workers). A backend serving anyone
    else — another test suite, another benchmark — is foreign."""
    ours = set(tree)
    parallel: dict[int, int] = {}  # parallel worker pid -> leader pid
    for p in procs.values():
        if p.name in SHARED_SERVICES:
            ours.add(p.pid)
        elif p.name == "postgres":
            line = cmdlines.get(p.pid, "")
            port, leader = CLIENT_PORT.search(line), PARALLEL_OF.search(line)
            if leader is not None:
                parallel[p.pid] = int(leader.group(1))
            elif port is None or int(port.group(1)) in client_ports:
                ours.add(p.pid)
    ours |= {pid for pid, leader in parallel.items() if leader in ours}
    return frozenset(ours)


def snapshot(roots: Iterable[int]) -> Snapshot:
    """All processes now, and which are ours (the roots' trees and the services serving them);
    foreign processes are named by their command line."""
    tick = os.sysconf("SC_CLK_TCK")
    at, busy = time.monotonic(), _machine_busy(tick)
    procs = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (p := _read_proc(int(entry), tick)) is not None:
            procs[p.pid] = p
    lines = {pid: cmdline(pid) for pid, p in procs.items() if p.name == "postgres"}
    tree = descendants(procs, roots)
    ours = ours_in(procs, tree, _socket_ports(tree), lines)
    for pid, p in procs.items():
        if pid not in ours:
            text = lines.get(pid) or cmdline(pid)
            if text and text != "?":
                procs[pid] = replace(p, name=" ".join(text.split())[:80])
    return Snapshot(at, busy, procs, ours)


def other_cores(seconds: float, roots: list[int]) -> tuple[float, list[str]]:
    """Cores of work that is not the roots' trees' nor the services' serving them, over
    `seconds`, and the foreign processes that did most of it."""
    first = snapshot(roots)
    time.sleep(seconds)
    share = attribute(first, snapshot(roots))
    return share.other, top_foreign(share.foreign, share.seconds)


def top_foreign(foreign: dict[tuple[int, str], float], seconds: float, n: int = 5,
                least: float = 0.01) -> list[str]:  # fmt: skip
    """`pid name: 0.97 cores` for the foreign processes that used at least `least` cores."""
    busiest = sorted(foreign.items(), key=lambda kv: -kv[1])[:n]
    return [
        f"{pid} {name}: {used / seconds:.2f} cores"
        for (pid, name), used in busiest
        if seconds and used / seconds >= least
    ]


def loadavg() -> float:
    """The 1-minute load average."""
    return float(Path("/proc/loadavg").read_text().split()[0])


def quiet_now(max_load: float, settle_seconds: float) -> Quiet:
    """Load average, other CPU over 3 s, other test/service processes — after waiting up to
    `settle_seconds` for the load average to fall below `max_load` (it decays over about a
    minute after the previous benchmark's own load)."""
    deadline = time.monotonic() + settle_seconds
    while loadavg() > max_load and time.monotonic() < deadline:
        time.sleep(5)
    cores, foreign = other_cores(3.0, [os.getpid()])
    return Quiet(loadavg(), cores, busy_processes(), foreign)


@dataclass
class Result:
    """One benchmark's run."""

    name: str
    command: str
    before: Quiet
    output: str = ""
    returncode: int = 0
    seconds: float = 0.0
    other_during: float = 0.0
    foreign_during: list[str] = field(default_factory=list)  # busiest processes not ours
    others_seen: list[str] = field(default_factory=list)
    targets: list[tuple[str, str]] = field(default_factory=list)  # (line, MET/MISSED)
    rss: list[tuple[str, list[float]]] = field(default_factory=list)

    def disturbed(self, max_load: float, max_other: float) -> bool:
        """Started busy, or other work ran beside it."""
        return (
            not self.before.ok(max_load, max_other)
            or self.other_during > max_other
            or bool(self.others_seen)
        )


class Watcher(threading.Thread):
    """Every second a snapshot of all processes; each consecutive pair is split by
    `attribute` into the benchmark's CPU (its tree, the runner, the services serving them) and
    everyone else's, summed over the run."""

    def __init__(self, root_pid: int, interval: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.roots = [root_pid, os.getpid()]
        self.interval = interval
        self.seconds = self.busy = self.ours = 0.0
        self.foreign: dict[tuple[int, str], float] = {}
        self.names: dict[int, tuple[int, str]] = {}  # pid -> its key in foreign
        self.others: set[str] = set()
        self.stop_flag = threading.Event()

    def run(self) -> None:
        last, n = snapshot(self.roots), 0
        while True:
            stopping = self.stop_flag.wait(self.interval)
            now = snapshot(self.roots)
            self.add(attribute(last, now))
            last, n = now, n + 1
            if stopping:
                return
            if n % 10 == 1:
                self.others.update(busy_processes_outside(now.ours))

    def add(self, share: Share) -> None:
        """Sum one interval in."""
        self.seconds += share.seconds
        self.busy += share.busy
        self.ours += share.ours
        for (pid, name), used in share.foreign.items():
            key = self.names.setdefault(pid, (pid, name))  # a backend's title shows its state
            self.foreign[key] = self.foreign.get(key, 0.0) + used

    def mean(self) -> float:
        """Average cores of work that was not the benchmark's."""
        return max(0.0, self.busy - self.ours) / self.seconds if self.seconds else 0.0

    def busiest(self) -> list[str]:
        """The foreign processes that used the most CPU over the run."""
        return top_foreign(self.foreign, self.seconds)


def busy_processes_outside(tree: Iterable[int]) -> list[str]:
    """busy_processes, not counting the benchmark's own tree."""
    own = {str(p) for p in tree}
    return [line for line in busy_processes() if line.split()[0] not in own]


FIRST = re.compile(r"([^;→]+?)→\s*(MET|MISSED)")
MORE = re.compile(r"\s*;\s*([^;→]+?)→\s*(MET|MISSED)")
RSS = re.compile(r"peak RSS ([^:]+): \d+ procs: ([\d + ]+)= [\d.]+ MB")


def parse(result: Result) -> None:
    """Targets and peak RSS lines from a script's output (rich may wrap a caption line)."""
    flat = re.sub(r"\s*\n\s*", " ", result.output)
    for segment in flat.split("target ")[1:]:
        match, pattern, pos = None, FIRST, 0
        while (match := pattern.match(segment, pos)) is not None:
            result.targets.append(("target " + " ".join(match.group(1).split()), match.group(2)))
            pattern, pos = MORE, match.end()
    for verdict in re.findall(r"all targets: (MET|MISSED)", flat):
        result.targets.append(("all targets of the script", verdict))
    for name, parts in RSS.findall(flat):
        result.rss.append((name.strip(), [float(x) for x in parts.split("+") if x.strip()]))


FIGURE = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


@dataclass
class Target:
    """One target over several runs of its script: the median run's line and verdict, every
    run's figure (the first number after the label's colon) and their spread."""

    label: str
    line: str  # the median run's line: its figure beside its same-run limit
    verdict: str
    figures: list[float]
    verdicts: list[str]

    def describe(self) -> str:
        """The median run's line, then the runs' figures and their spread."""
        runs = len(self.verdicts)
        if runs == 1:
            return self.line
        if not self.figures:
            return f"{self.line} (runs: {', '.join(self.verdicts)})"
        low, high = min(self.figures), max(self.figures)
        middle = sorted(self.figures)[(len(self.figures) - 1) // 2]
        spread = f"{(high - low) / abs(middle) * 100:.0f}% of the median" if middle else "—"
        shown = ", ".join(f"{f:g}" for f in self.figures)
        return (
            f"{self.line} — median of {runs} runs (figures {shown}; spread {low:g}–{high:g}, "
            f"{spread}; verdicts {'/'.join(self.verdicts)})"
        )


def figure_of(line: str) -> float | None:
    """The figure of a target line: the first number after the label's colon."""
    _, colon, rest = line.partition(": ")
    found = FIGURE.search(rest) if colon else None
    return float(found.group(0).replace(",", "")) if found else None


def median_targets(runs: list[Result]) -> list[Target]:
    """Each target of a script over its runs, matched by label (the text before the colon):
    the run whose figure is the median (the lower middle for an even count) gives the line and
    the verdict; without figures, the verdict most runs gave (MISSED on a tie)."""
    labels: dict[str, list[tuple[str, str]]] = {}
    for run in runs:
        for line, verdict in run.targets:
            labels.setdefault(line.partition(": ")[0], []).append((line, verdict))
    out = []
    for label, seen in labels.items():
        figures = [f for line, _ in seen if (f := figure_of(line)) is not None]
        verdicts = [v for _, v in seen]
        if len(figures) == len(seen):
            ranked = sorted(seen, key=lambda lv: figure_of(lv[0]) or 0.0)
            line, verdict = ranked[(len(ranked) - 1) // 2]
        else:
            figures = []
            verdict = "MET" if verdicts.count("MET") > len(verdicts) / 2 else "MISSED"
            line = seen[0][0]
        out.append(Target(label, line, verdict, figures, verdicts))
    return out


def run_one(name: str, python: str, extra: list[str], max_load: float, settle: float) -> Result:
    """Run one benchmark script, watching the machine meanwhile."""
    script, args, _ = BENCHMARKS[name]
    argv = [python, script, *args, *extra]
    command = " ".join([".venv/bin/python", script, *args, *extra])
    result = Result(name, command, quiet_now(max_load, settle))
    print(f"== {name}: {result.command}  ({result.before.describe()})", flush=True)
    started = time.monotonic()
    proc = subprocess.Popen(
        argv, cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    watcher = Watcher(proc.pid)
    watcher.start()
    out, _ = proc.communicate()
    watcher.stop_flag.set()
    watcher.join()
    result.output, result.returncode = out, proc.returncode
    result.seconds = time.monotonic() - started
    result.other_during, result.others_seen = watcher.mean(), sorted(watcher.others)
    result.foreign_during = watcher.busiest()
    parse(result)
    print(out, flush=True)
    return result


def git(*args: str) -> str:
    """A git command's output in the project."""
    return subprocess.run(
        ["git", *args], cwd=str(ROOT), capture_output=True, text=True, check=False
    ).stdout.strip()


def report(runs: list[list[Result]], args: argparse.Namespace, disturbed: bool) -> str:
    """BENCHMARKS.md's text."""
    dirty = git("status", "--porcelain", "--untracked-files=no")
    commit = git("rev-parse", "--short", "HEAD") + (" (with uncommitted changes)" if dirty else "")
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = ["# Benchmarks", ""]
    if disturbed:
        lines += [
            "> **DISTURBED RUN** — other work ran on the machine before or during at least one",
            "> benchmark (see each section's quiet check). The figures below are not a fair",
            "> measurement; re-run `make bench` on a quiet machine.",
            "",
        ]
    lines += [
        f"Generated by `{' '.join(['.venv/bin/python', 'bench/run_all.py', *sys.argv[1:]])}`"
        f" on commit `{commit}`, {when}. Machine: {machine()}. What each script does:"
        " [bench/README.md](bench/README.md).",
        "",
        f"## Targets (each figure beside the limit measured in the same run; the median of "
        f"{args.runs} run{'s' if args.runs != 1 else ''} with the figures' spread)",
        "",
        "| benchmark | target: figure vs limit | verdict |",
        "| --- | --- | --- |",
    ]
    for group in runs:
        name = group[0].name
        for target in median_targets(group):
            lines.append(
                f"| {name} | {target.describe().replace('|', '/')} | **{target.verdict}** |"
            )
        rss = [(n, v) for r in group for n, v in r.rss if v]
        worst = max((max(v) for _, v in rss), default=None)
        if worst is not None:
            ok = worst <= args.rss_limit
            procs = "; ".join(f"{n}: {' + '.join(f'{x:.0f}' for x in v)}" for n, v in rss)
            lines.append(
                f"| {name} | peak RSS ≤ {args.rss_limit:.0f} MB per process, every run: worst "
                f"{worst:.0f} MB ({procs}) | **{'MET' if ok else 'MISSED'}** |"
            )
        for r in group:
            if r.returncode:
                lines.append(f"| {name} | a run exited {r.returncode} | **FAILED** |")
    lines.append("")
    for group in runs:
        _, _, what = BENCHMARKS[group[0].name]
        lines += [f"## {group[0].name}: {what}", "", "```sh", group[0].command, "```", ""]
        for n, r in enumerate(group, 1):
            quiet = "quiet" if not r.disturbed(args.max_load, args.max_other) else "**DISTURBED**"
            if len(group) > 1:
                lines += [f"### run {n} of {len(group)}", ""]
            lines += [
                f"{quiet}: before — {r.before.describe()}; during — other CPU "
                f"{r.other_during:.2f} cores on average"
                + (f" (busiest: {'; '.join(r.foreign_during)})" if r.foreign_during else "")
                + (
                    f", other processes seen: {'; '.join(r.others_seen[:5])}"
                    if r.others_seen
                    else ""
                )
                + f"; took {r.seconds:.0f} s.",
                "",
                "```",
                r.output.rstrip(),
                "```",
                "",
            ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Check the machine, run the benchmarks in turn, write BENCHMARKS.md when undisturbed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(BENCHMARKS)}")
    parser.add_argument("--max-load", type=float, default=0.5 * (os.cpu_count() or 1))
    parser.add_argument("--max-other", type=float, default=0.15, help="cores of other work")
    parser.add_argument(
        "--settle", type=float, default=240.0, help="seconds to wait for the load to fall"
    )
    parser.add_argument("--rss-limit", type=float, default=150.0, help="MB per process")
    parser.add_argument(
        "--runs", type=int, default=3, help="runs of each script; each figure is their median"
    )
    parser.add_argument(
        "--args",
        action="append",
        default=[],
        metavar="NAME=ARGS",
        help="extra arguments for one script, e.g. pages='--events 2000' (a smoke run)",
    )
    parser.add_argument("--force", action="store_true", help="write even when disturbed")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"))
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else list(BENCHMARKS)
    unknown = set(names) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    extra: dict[str, list[str]] = {}
    for item in args.args:
        name, _, text = item.partition("=")
        if name not in BENCHMARKS:
            parser.error(f"--args: unknown benchmark {name!r}")
        extra[name] = shlex.split(text)
    python = sys.executable
    runs = [
        [
            run_one(name, python, extra.get(name, []), args.max_load, args.settle)
            for _ in range(max(1, args.runs))
        ]
        for name in names
    ]
    disturbed = any(r.disturbed(args.max_load, args.max_other) for group in runs for r in group)
    text = report(runs, args, disturbed)
    print("\n" + "\n".join(line for line in text.splitlines() if line.startswith("|")))
    if disturbed:
        print("\nDISTURBED: other work ran on the machine; see the quiet checks above.")
    if args.no_write or (disturbed and not args.force):
        print("BENCHMARKS.md not written" + (" (--no-write)" if args.no_write else ""))
        return 2 if disturbed else 0
    Path(args.output).write_text(text + "\n")
    print(f"wrote {args.output}")
    return 2 if disturbed else 0


if __name__ == "__main__":
    sys.exit(main())
