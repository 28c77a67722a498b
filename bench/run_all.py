"""Run every service benchmark one after another on a quiet machine and regenerate BENCHMARKS.md.

    .venv/bin/python bench/run_all.py            # or: make bench
    .venv/bin/python bench/run_all.py --only moves,overdue --no-write
    .venv/bin/python bench/run_all.py --force    # write BENCHMARKS.md even if disturbed (labelled)

Before each benchmark (after waiting up to `--settle` seconds, 240, for the previous one's load
to decay) the machine must be quiet: 1-minute load average at most `--max-load` (default half
the CPU count: 1.0 on 2 CPUs), no other test/service process (pytest, openday,
dramatiq, uvicorn, celery, playwright/chromium) and less than `--max-other` cores (0.15) busy over a
3-second sample. While a benchmark runs, the machine's busy time is sampled every second and
what the benchmark's own process tree, PostgreSQL and Redis used is subtracted: the rest is
"other CPU". A benchmark that started on a busy machine or saw more than `--max-other` cores of
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
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from _common import ROOT, cmdline, cpu_busy_seconds, cpu_seconds, machine, process_tree

# name -> (script, arguments, what it measures)
BENCHMARKS: dict[str, tuple[str, list[str], str]] = {
    "moves": ("bench/moves.py", [], "moves through the API vs the raw-SQL limit"),
    "overdue": ("bench/overdue.py", [], "overdue list pages (offset and cursor) vs bare SQL"),
    "timers": ("bench/timers.py", [], "timer lateness and the 10,000-deadline burst vs its floor"),
    "pages": ("bench/pages.py", [], "main pages' server time and first-load bytes, 100k events"),
    "public": ("bench/public_calendar.py", [], "public calendar page rate vs a bare ASGI app"),
    "exports": ("bench/exports.py", [], "100k-event export and the 1,000-unit report"),
}
BUSY_WORDS = ("pytest", "openday", "dramatiq", "uvicorn", "celery", "playwright", "chromium")
SHARED_SERVICES = ("postgres", "redis-server")


@dataclass
class Quiet:
    """How quiet the machine was before a benchmark."""

    loadavg: float
    other_cores: float
    others: list[str]

    def ok(self, max_load: float, max_other: float) -> bool:
        """Quiet enough to measure."""
        return self.loadavg <= max_load and self.other_cores <= max_other and not self.others

    def describe(self) -> str:
        """One line."""
        text = f"load average {self.loadavg:.2f}, other CPU {self.other_cores:.2f} cores"
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


def service_pids() -> list[int]:
    """PostgreSQL and Redis server processes (shared services the benchmarks load)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                if (entry / "comm").read_text().strip() in SHARED_SERVICES:
                    pids.append(int(entry.name))
    return pids


def other_cores(seconds: float, own: list[int] | None = None) -> float:
    """Cores busy over `seconds` with work that is neither ours nor the shared services'."""
    pids = (own or []) + service_pids()
    b0, o0, t0 = cpu_busy_seconds(), cpu_seconds(pids), time.monotonic()
    time.sleep(seconds)
    pids = (own or []) + service_pids()
    b1, o1 = cpu_busy_seconds(), cpu_seconds(pids)
    return max(0.0, ((b1 - b0) - (o1 - o0)) / (time.monotonic() - t0))


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
    return Quiet(loadavg(), other_cores(3.0, process_tree(os.getpid())), busy_processes())


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
    """Samples other CPU (machine busy − the benchmark's tree − PostgreSQL/Redis) each second."""

    def __init__(self, root_pid: int) -> None:
        super().__init__(daemon=True)
        self.root_pid = root_pid
        self.samples: list[float] = []
        self.others: set[str] = set()
        self.stop_flag = threading.Event()

    def run(self) -> None:
        while not self.stop_flag.is_set():
            tree = process_tree(self.root_pid) + process_tree(os.getpid())
            self.samples.append(other_cores(1.0, tree))
            if len(self.samples) % 10 == 1:
                self.others.update(busy_processes_outside(tree))

    def mean(self) -> float:
        """Average other cores."""
        return sum(self.samples) / len(self.samples) if self.samples else 0.0


def busy_processes_outside(tree: list[int]) -> list[str]:
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
    parse(result)
    print(out, flush=True)
    return result


def git(*args: str) -> str:
    """A git command's output in the project."""
    return subprocess.run(
        ["git", *args], cwd=str(ROOT), capture_output=True, text=True, check=False
    ).stdout.strip()


def report(results: list[Result], args: argparse.Namespace, disturbed: bool) -> str:
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
        "## Targets (each figure beside the limit measured in the same run)",
        "",
        "| benchmark | target: figure vs limit | verdict |",
        "| --- | --- | --- |",
    ]
    for r in results:
        for text, verdict in r.targets:
            lines.append(f"| {r.name} | {text.replace('|', '/')} | **{verdict}** |")
        worst = max((max(v) for _, v in r.rss if v), default=None)
        if worst is not None:
            ok = worst <= args.rss_limit
            procs = "; ".join(f"{n}: {' + '.join(f'{x:.0f}' for x in v)}" for n, v in r.rss)
            lines.append(
                f"| {r.name} | peak RSS ≤ {args.rss_limit:.0f} MB per process: worst "
                f"{worst:.0f} MB ({procs}) | **{'MET' if ok else 'MISSED'}** |"
            )
        if r.returncode:
            lines.append(f"| {r.name} | the script exited {r.returncode} | **FAILED** |")
    lines.append("")
    for r in results:
        _, _, what = BENCHMARKS[r.name]
        quiet = "quiet" if not r.disturbed(args.max_load, args.max_other) else "**DISTURBED**"
        lines += [
            f"## {r.name}: {what}",
            "",
            "```sh",
            r.command,
            "```",
            "",
            f"{quiet}: before — {r.before.describe()}; during — other CPU "
            f"{r.other_during:.2f} cores on average"
            + (f", other processes seen: {'; '.join(r.others_seen[:5])}" if r.others_seen else "")
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
    parser.add_argument("--force", action="store_true", help="write even when disturbed")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"))
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else list(BENCHMARKS)
    unknown = set(names) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    python = sys.executable
    results = [run_one(name, python, [], args.max_load, args.settle) for name in names]
    disturbed = any(r.disturbed(args.max_load, args.max_other) for r in results)
    text = report(results, args, disturbed)
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
