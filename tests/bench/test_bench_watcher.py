"""bench/run_all.py's CPU accounting on synthetic /proc samples (no servers, no benchmark).

The watcher must read near zero "other" CPU when only the benchmark (its process tree, the
PostgreSQL backends serving its connections, Redis) works — processes ending between samples
included — and must see and name real foreign work beside it.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))
run_all = importlib.import_module("run_all")
sys.path.remove(str(BENCH))

ProcSample, Snapshot, attribute = run_all.ProcSample, run_all.Snapshot, run_all.attribute

RUNNER, BENCH_PID, API, POSTMASTER, BACKEND, INIT = 100, 200, 300, 400, 401, 1


def proc(pid: int, ppid: int, cpu: float, reaped: float = 0.0, *, start: int = 1,
         name: str = "python") -> ProcSample:  # fmt: skip
    return ProcSample(pid=pid, ppid=ppid, start=start, cpu=cpu, reaped=reaped, name=name)


def snap(at: float, busy: float, procs: list[ProcSample], ours: set[int]) -> Snapshot:
    return Snapshot(at, busy, {p.pid: p for p in procs}, frozenset(ours))


def world(
    *, bench: float, api: float, backend: float | None, postmaster_reaped: float
) -> list[ProcSample]:
    """init, the runner, the benchmark and its API, PostgreSQL (postmaster and one backend
    serving the benchmark, when alive), an idle foreign shell."""
    procs = [
        proc(INIT, 0, 5.0, name="init"),
        proc(RUNNER, INIT, 1.0),
        proc(BENCH_PID, RUNNER, bench),
        proc(API, BENCH_PID, api),
        proc(POSTMASTER, INIT, 2.0, postmaster_reaped, name="postgres"),
        proc(900, INIT, 0.3, name="bash"),
    ]
    if backend is not None:
        procs.append(proc(BACKEND, POSTMASTER, backend, name="postgres"))
    return procs


OURS = {RUNNER, BENCH_PID, API, POSTMASTER, BACKEND}


def test_a_backend_that_ends_between_samples_is_not_foreign_cpu() -> None:
    # The backend had used 6.74 s when the first sample was taken, 0.30 s more before its
    # connection closed; the postmaster reaped it (its cutime grew by the backend's life).
    before = snap(0.0, 100.0, world(bench=3.0, api=4.0, backend=6.74, postmaster_reaped=0.0),
                  OURS)  # fmt: skip
    after = snap(1.0, 101.61, world(bench=3.5, api=4.8, backend=None, postmaster_reaped=7.04),
                 OURS - {BACKEND})  # fmt: skip
    share = attribute(before, after)
    assert share.ours == pytest.approx(0.5 + 0.8 + 0.30)
    assert share.other == pytest.approx(0.01, abs=1e-9)  # the kernel's crumbs
    assert share.foreign == {}


def test_the_benchmark_ending_and_being_reaped_counts_each_second_once() -> None:
    # The benchmark reaps its API, then ends itself and is reaped by the runner: the runner's
    # cutime grows by the benchmark's whole life, which includes the API's whole life.
    before = snap(0.0, 50.0, world(bench=3.0, api=4.0, backend=None, postmaster_reaped=0.0),
                  OURS)  # fmt: skip
    procs = [p for p in world(bench=0, api=0, backend=None, postmaster_reaped=0.0)
             if p.pid not in (BENCH_PID, API, RUNNER)]  # fmt: skip
    runner = proc(RUNNER, INIT, 1.02, reaped=3.1 + 4.2)  # 0.1 + 0.2 more before they ended
    after = snap(1.0, 50.32, [*procs, runner], {RUNNER, POSTMASTER})
    share = attribute(before, after)
    assert share.ours == pytest.approx(0.02 + 0.1 + 0.2)
    assert share.other == pytest.approx(0.0, abs=1e-9)


def test_a_child_nobody_reaped_is_not_subtracted_from_the_benchmark() -> None:
    # An orphan that ended (reaped by init, whose cutime is not ours), and a child of the
    # benchmark's that ended without being waited for (SIGCHLD ignored: the parent's cutime
    # does not grow): their last interval is lost, their past is not taken off ours.
    before = snap(0.0, 10.0, [proc(RUNNER, INIT, 1.0), proc(BENCH_PID, RUNNER, 2.0),
                              proc(API, INIT, 9.0), proc(301, BENCH_PID, 5.0),
                              proc(INIT, 0, 0.0)],
                  {RUNNER, BENCH_PID, API, 301})  # fmt: skip
    after = snap(1.0, 10.6, [proc(RUNNER, INIT, 1.0), proc(BENCH_PID, RUNNER, 2.4),
                             proc(INIT, 0, 0.0)],
                 {RUNNER, BENCH_PID})  # fmt: skip
    share = attribute(before, after)
    assert share.ours == pytest.approx(0.4)
    assert share.other == pytest.approx(0.2)  # their last 0.1 s each: unattributed, small


def test_a_reused_pid_is_a_new_process() -> None:
    before = snap(0.0, 10.0, [proc(RUNNER, INIT, 1.0), proc(API, RUNNER, 8.0, start=5)],
                  {RUNNER, API})  # fmt: skip
    after = snap(1.0, 10.3, [proc(RUNNER, INIT, 1.0, reaped=8.1),
                             proc(API, RUNNER, 0.2, start=90)], {RUNNER, API})  # fmt: skip
    share = attribute(before, after)
    assert share.ours == pytest.approx(0.1 + 0.2)
    assert share.other == pytest.approx(0.0, abs=1e-9)


def test_foreign_busy_loop_beside_the_benchmark_is_counted_and_named() -> None:
    loop = "python3 -c while True: pass"
    before = snap(0.0, 100.0, [*world(bench=3.0, api=4.0, backend=1.0, postmaster_reaped=0.0),
                               proc(777, 900, 12.0, name=loop)], OURS)  # fmt: skip
    after = snap(2.0, 103.6, [*world(bench=3.4, api=4.9, backend=1.3, postmaster_reaped=0.0),
                              proc(777, 900, 13.98, name=loop)], OURS)  # fmt: skip
    share = attribute(before, after)
    assert share.other == pytest.approx((3.6 - 1.6) / 2)
    assert share.foreign == {(777, loop): pytest.approx(1.98)}
    watcher = run_all.Watcher(os.getpid())
    watcher.add(share)
    watcher.add(share)
    # A PostgreSQL backend's title changes with its state: still one process.
    watcher.add(run_all.Share(1.0, 1.0, 0.0, {(403, "postgres: … 127.0.0.1(41000) idle"): 0.5}))
    watcher.add(run_all.Share(1.0, 1.0, 0.0, {(403, "postgres: … 127.0.0.1(41000) COMMIT"): 0.5}))
    assert watcher.mean() == pytest.approx(6 / 6)
    assert watcher.busiest() == [
        f"777 {loop}: 0.66 cores",
        "403 postgres: … 127.0.0.1(41000) idle: 0.17 cores",
    ]


def test_backends_serving_someone_else_are_foreign() -> None:
    procs = {
        p.pid: p
        for p in [
            proc(RUNNER, INIT, 0),
            proc(BENCH_PID, RUNNER, 0),
            proc(API, BENCH_PID, 0),
            proc(POSTMASTER, INIT, 0, name="postgres"),
            proc(402, POSTMASTER, 0, name="postgres"),  # checkpointer
            proc(BACKEND, POSTMASTER, 0, name="postgres"),  # the API's connection
            proc(403, POSTMASTER, 0, name="postgres"),  # another suite's connection
            proc(404, POSTMASTER, 0, name="postgres"),  # parallel worker of ours
            proc(405, POSTMASTER, 0, name="postgres"),  # parallel worker of theirs
            proc(500, INIT, 0, name="redis-server"),
            proc(600, INIT, 0, name="pytest"),
        ]
    }
    lines = {
        POSTMASTER: "/usr/lib/postgresql/15/bin/postgres -D /var/lib/postgresql/15/main",
        402: "postgres: 15/main: checkpointer",
        BACKEND: "postgres: 15/main: postgres openday_bench_ab 127.0.0.1(35008) idle",
        403: "postgres: 15/main: postgres openday_test_cd 127.0.0.1(41000) SELECT",
        404: f"postgres: 15/main: parallel worker for PID {BACKEND}",
        405: "postgres: 15/main: parallel worker for PID 403",
    }
    tree = run_all.descendants(procs, [RUNNER])
    assert tree == {RUNNER, BENCH_PID, API}
    ours = run_all.ours_in(procs, tree, {35008, 52000}, lines)
    assert ours == {RUNNER, BENCH_PID, API, POSTMASTER, 402, BACKEND, 404, 500}


def test_snapshot_of_this_machine_counts_this_process_as_ours() -> None:
    if not Path("/proc/stat").exists():
        pytest.skip("no /proc")
    first = run_all.snapshot([os.getpid()])
    sum(i * i for i in range(300_000))  # some CPU of our own
    second = run_all.snapshot([os.getpid()])
    assert os.getpid() in first.ours and os.getpid() in second.ours
    share = attribute(first, second)
    assert share.ours >= 0 and (os.getpid(), "python") not in share.foreign


def test_parse_collects_the_exports_targets_and_rss() -> None:
    result = run_all.Result("exports", "cmd", run_all.Quiet(0.1, 0.0, []))
    result.output = (
        "2 CPUs (Xeon), 23.5 GiB RAM, Python 3.11.7\n"
        "┃ request                    ┃   time ┃    size ┃ verdict ┃\n"
        "│ events.xlsx (100,000 rows) │ 2.26 s │  4.4 MB │     MET │\n"
        "target events.xlsx (100,000 rows) ≤ 10 s: 2.26 s → MET; events.csv (100,000 rows) ≤ 10 s:"
        " 1.71 s → MET; report (1,000 units) ≤ 1 s: 0.19 s → MET; report.xlsx (1,000 units) ≤ 1"
        " s: 0.09 s → MET; API peak RSS ≤ 150 MB: 142 MB (before the exports: 139 MB) → MET\n"
        "peak RSS API: 1 procs: 142 = 142 MB\n"
    )
    run_all.parse(result)
    assert [verdict for _, verdict in result.targets] == ["MET"] * 5
    assert result.targets[0][0] == "target events.xlsx (100,000 rows) ≤ 10 s: 2.26 s"
    assert result.targets[-1][0].startswith("target API peak RSS ≤ 150 MB: 142 MB")
    assert result.rss == [("API", [142.0])]


def _run_with(lines: list[tuple[str, str]]) -> object:
    result = run_all.Result("moves", "cmd", run_all.Quiet(0.1, 0.0, []))
    result.targets = lines
    return result


def test_each_target_is_the_median_run_with_its_own_limit_and_the_spread() -> None:
    runs = [
        _run_with([("target API ≥ 75% of raw: 71% (212 vs 298/s)", "MISSED")]),
        _run_with([("target API ≥ 75% of raw: 80% (240 vs 300/s)", "MET")]),
        _run_with([("target API ≥ 75% of raw: 77% (231 vs 300/s)", "MET")]),
    ]
    (target,) = run_all.median_targets(runs)
    assert (target.line, target.verdict) == ("target API ≥ 75% of raw: 77% (231 vs 300/s)", "MET")
    assert target.figures == [71.0, 80.0, 77.0]
    text = target.describe()
    assert "median of 3 runs" in text and "spread 71–80" in text and "12% of the median" in text


def test_a_target_without_a_figure_takes_the_verdict_most_runs_gave() -> None:
    runs = [_run_with([("all targets of the script", v)]) for v in ("MET", "MISSED", "MISSED")]
    (target,) = run_all.median_targets(runs)
    assert target.verdict == "MISSED" and target.figures == []
    assert run_all.figure_of("target burst ≤ 3 × floor: 3.33 s vs 3 × 1.45") == 3.33
    assert run_all.figure_of("target calendar page ≥ 500 req/s: 2,000") == 2000.0
