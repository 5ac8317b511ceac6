"""The benchmarks, and the rule that finds them (`python -m bench [--smoke]`, `make bench`, `make bench-smoke`).

A benchmark is a module `bench/<name>.py` that runs as a script (it has an `if __name__ == "__main__":` block)
and declares two regular expressions, `FIGURE` and `BASELINE`: the line that prints its own figure and the line
that prints the raw baseline measured in the same run. Other modules here (`setup.py`, this package's files) are
helpers. Every benchmark takes `--smoke` (see `arguments`): tiny sizes, well under 20 s, the same two lines.
"""

from __future__ import annotations

import argparse
import ast
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
SMOKE_TIMEOUT_SECONDS = 90  # a smoke run is meant to take well under 20 s; this is the shared machine's slack


def arguments(
    parser: argparse.ArgumentParser, smoke: dict[str, object], argv: Sequence[str] | None = None
) -> argparse.Namespace:
    """The benchmark's arguments, plus `--smoke`: the `smoke` sizes replace the defaults (explicit options win)."""
    shown = ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in smoke.items())
    parser.add_argument("--smoke", action="store_true", help=f"tiny sizes ({shown}): only checks that it runs")
    given = list(sys.argv[1:] if argv is None else argv)
    if "--smoke" in given:
        parser.set_defaults(**smoke)
    return parser.parse_args(given)


@dataclass(frozen=True)
class Benchmark:
    name: str
    figure: re.Pattern[str]
    baseline: re.Pattern[str]

    @property
    def module(self) -> str:
        return f"bench.{self.name}"


def _runs_as_script(tree: ast.Module) -> bool:
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Compare):
            left = node.test.left
            if isinstance(left, ast.Name) and left.id == "__name__":
                return True
    return False


def _pattern(tree: ast.Module, name: str) -> str | None:
    for node in tree.body:
        if not isinstance(node, ast.Assign) or not any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            continue
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return node.value.value
    return None


def benchmarks(directory: Path = HERE) -> list[Benchmark]:
    """Every benchmark module in `directory`, by the rule above (read from the source, nothing imported).
    A script that does not declare both patterns is an error, so a new benchmark cannot go unchecked."""
    found = []
    for path in sorted(directory.glob("*.py")):
        if path.name.startswith("_"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        if not _runs_as_script(tree):
            continue  # a helper (setup.py)
        figure, baseline = _pattern(tree, "FIGURE"), _pattern(tree, "BASELINE")
        if figure is None or baseline is None:
            raise ValueError(f"{path} runs as a benchmark but does not declare FIGURE and BASELINE (regex strings)")
        found.append(Benchmark(path.stem, re.compile(figure, re.MULTILINE), re.compile(baseline, re.MULTILINE)))
    return found


@dataclass(frozen=True)
class Outcome:
    benchmark: Benchmark
    seconds: float
    returncode: int
    output: str

    @property
    def problems(self) -> list[str]:
        found = []
        if self.returncode != 0:
            found.append(f"exit status {self.returncode}")
        if not self.benchmark.figure.search(self.output):
            found.append(f"no figure line (/{self.benchmark.figure.pattern}/)")
        if not self.benchmark.baseline.search(self.output):
            found.append(f"no baseline line (/{self.benchmark.baseline.pattern}/)")
        return found


def run(benchmark: Benchmark, smoke: bool, timeout: float | None = SMOKE_TIMEOUT_SECONDS) -> Outcome:
    command = [sys.executable, "-m", benchmark.module, *(["--smoke"] if smoke else [])]
    started = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=HERE.parent, capture_output=True, text=True, timeout=timeout, check=False)
        code, output = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as exc:
        code, output = -1, f"timed out after {timeout} s\n{_text(exc.stdout)}{_text(exc.stderr)}"
    return Outcome(benchmark, time.perf_counter() - started, code, output)


def _text(captured: bytes | str | None) -> str:
    return captured.decode(errors="replace") if isinstance(captured, bytes) else captured or ""
