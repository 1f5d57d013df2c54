"""make bench reads each ratio to the previous bench against the machine's own (bench/machine.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture(scope="module")
def bench_modules():
    """bench/bench.py under a name of its own (the folder bench/ is no package), and the machine
    module it imports; the folder it puts on sys.path is taken off again."""
    path = list(sys.path)
    spec = importlib.util.spec_from_file_location("fangfan_bench_script", BENCH / "bench.py")
    bench_module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(bench_module)
        yield bench_module, sys.modules["machine"]
    finally:
        sys.path[:] = path


def _run(seconds: float, outside: float) -> dict:
    step = {"seconds": seconds, "cpu": seconds, "rows_in": 1, "rows_out": 1, "peak_rss": 2**30}
    return {
        "repeats": 1, "wall": seconds + outside, "cpu": seconds, "user": seconds, "sys": 0.0,
        "peak_rss": 2**30, "minflt": 0, "steps": {"ingest": step}, "outside_steps": outside,
    }  # fmt: skip


def test_a_step_as_much_slower_as_the_machine_is_on_par(bench_modules):
    bench, _ = bench_modules
    line, slower = bench.format_machine(
        {"start": 0.58, "end": 0.62, "seconds": 0.60}, {"seconds": 0.50}
    )
    assert slower == pytest.approx(1.2)
    assert "1.20× its time" in line
    text = bench.format_run("first run", _run(12.0, 6.0), _run(10.0, 4.0), slower)
    ingest = next(row for row in text.splitlines() if row.strip().startswith("ingest"))
    assert "1.20×" in ingest and "1.00×" in ingest  # vs the previous bench, and on par
    outside = next(row for row in text.splitlines() if "process start" in row)
    assert "1.50×" in outside and "1.25×" in outside
    assert "[previous bench: 14.0 s wall, ratio 1.29×; 1.07× on a machine as fast as then]" in text


def test_without_the_previous_machine_no_ratio_is_read_against_it(bench_modules):
    bench, machine = bench_modules
    line, slower = bench.format_machine({"start": 0.6, "end": 0.6, "seconds": 0.6}, None)
    assert slower is None and "did not time it" in line
    text = bench.format_run("first run", _run(12.0, 6.0), _run(10.0, 4.0), slower)
    assert "on a machine as fast" not in text
    ingest = next(row for row in text.splitlines() if row.strip().startswith("ingest"))
    assert ingest.split()[2:4] == ["1.20×", "–"]
    assert machine.against_machine(None, 1.1) == "" and machine.against_machine(1.1, None) == ""


def test_the_workload_runs_and_takes_time(bench_modules, monkeypatch):
    _, machine = bench_modules
    monkeypatch.setattr(machine, "ROWS", 20_000)
    assert 0 < machine.workload_seconds() < 60
