"""bench/coldstart.py keeps working (issue 32): one round with a few warm-up requests (seconds,
not a measurement: only that every start comes up, the warm-up is answered, the figures and
the costliest imports are printed, and bench/run_all.py reads its targets and peak RSS lines).
Needs no PostgreSQL or Redis: the embedded default is what it measures."""

from __future__ import annotations

from tests.bench.test_city_bench import _bench, _run, _targets


def test_the_cold_start_benchmark_runs() -> None:
    code, out = _run("coldstart.py", "--runs", "1", "--requests", "6", "--top", "5")
    assert code in (0, 1), out  # 1: a target missed (a busy machine), not a failure
    assert "byte code: `python -m compileall -q` over the project first" in out
    for start in ("empty var dir (migrate, demo)", "`openday run`, existing var dir",
                  "`openday api`, existing database"):  # fmt: skip
        assert f"{start} → first /healthz: " in out, (start, out)
    assert "RSS openday api idle: " in out and "RSS openday run after warm-up: " in out
    assert "warm-up answers by status: {200: " in out and "400" not in out.split("status:")[1][:40]
    imports = out.split("costliest top-level packages")[1].splitlines()[1:6]
    assert all(line.strip().split()[1] == "ms" for line in imports), imports
    found = _targets(out)
    labels = " | ".join(found)
    assert "openday run to first /healthz, existing var dir (median)" in labels, labels
    assert any(label.startswith("API worker RSS") for label in found), labels
    assert all(figure > 0 for figure, _ in found.values()), found
    run_all = _bench("run_all")
    assert run_all.BENCHMARKS["coldstart"][0] == "bench/coldstart.py"
    result = type("R", (), {"output": out, "targets": [], "rss": []})()
    run_all.parse(result)
    assert [name for name, _ in result.rss] == ["openday run", "openday api"]
