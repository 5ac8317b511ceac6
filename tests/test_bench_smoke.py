"""`make bench-smoke` inside `make test`: every benchmark runs at its smoke size and prints its figure and its
baseline line (a benchmark cannot rot unnoticed); and the rule that finds the benchmarks."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import Benchmark, benchmarks, run

RUNNABLE = 'if __name__ == "__main__":\n    main()\n'


@pytest.mark.parametrize("benchmark", benchmarks(), ids=lambda b: b.name)
def test_the_benchmark_runs_at_smoke_size_and_prints_its_figure_and_baseline(benchmark: Benchmark) -> None:
    outcome = run(benchmark, smoke=True)
    assert not outcome.problems, f"{benchmark.module} --smoke: {outcome.problems}\n{outcome.output}"


def test_every_script_in_bench_is_a_benchmark_and_helpers_are_not(tmp_path: Path) -> None:
    (tmp_path / "setup.py").write_text("def bench_world() -> None: ...\n")
    (tmp_path / "__main__.py").write_text(RUNNABLE)
    (tmp_path / "calls.py").write_text(f'FIGURE = r"^calls: \\d+"\nBASELINE = r"^raw: \\d+"\n{RUNNABLE}')
    [found] = benchmarks(tmp_path)
    assert found.name == "calls" and found.figure.search("x\ncalls: 12\n") and not found.baseline.search("raw: -")


def test_a_script_that_declares_no_figure_or_baseline_is_refused(tmp_path: Path) -> None:
    (tmp_path / "calls.py").write_text(f'FIGURE = r"^calls: \\d+"\n{RUNNABLE}')
    with pytest.raises(ValueError, match="does not declare FIGURE and BASELINE"):
        benchmarks(tmp_path)


def test_the_whole_repository_has_the_seven_benchmarks_at_least() -> None:
    names = {b.name for b in benchmarks()}
    assert {
        "create_accounts",
        "search",
        "sms_queue",
        "licence",
        "imports",
        "sip_register",
        "import_time",
        "sip_calls",
    } <= names
