"""The app's import time, as a cold-start proxy: what a new Lambda instance pays before its first event.

    python -m bench.import_time [--runs 7] [--top 15] [--package PATH/deployment.zip] [--only venv|package]

Each run is a fresh interpreter that imports `app` (the module Lambda loads: routes, handlers, chalicelib) with
the production configuration in its environment (DynamoDB storage, OpenSearch search, Twilio SMS); nothing
connects at import. For each of two places it prints the median, minimum and maximum of the timed imports
against the goal (median under 400 ms), then one `python -X importtime` run's time per top-level package:

1. **the repository with the project's venv** (bytecode cached in `__pycache__` as usual);
2. **the Lambda package**, imported the way Lambda does: unzipped, without site-packages, with only what
   Lambda's Python runtime adds (boto3, botocore, s3transfer, jmespath: `infra.lambda_package.RUNTIME_PROVIDED`)
   and without writing bytecode (Lambda's /var/task is read-only: what comes without a `.pyc` is compiled on
   every cold start). The package is built as the deployment builds it (`chalice package`, then
   `infra.lambda_package.optimize`), unless `--package` names one (e.g. the synthesized
   `infra/cdk.out/asset.*.zip` or a `chalice.out/*/deployment.zip`).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from bench import arguments
from infra.lambda_package import RUNTIME_PROVIDED, build_package

ROOT = Path(__file__).resolve().parent.parent
GOAL_MS = 400.0
FIGURE = r"\(site-packages off, runtime libraries only, no bytecode writing\):\nimport app: median \d+ ms"
BASELINE = r"^from the repository \(project venv\):\nimport app: median \d+ ms"
# What the deployment sets (infra/stack.py), with placeholder values: the import must not use them.
PRODUCTION_ENV = {
    "STORAGE_BACKEND": "dynamodb",
    "SEARCH_BACKEND": "opensearch",
    "OPENSEARCH_URL": "https://search.invalid",
    "OPENSEARCH_SIGV4": "true",
    "SMS_PROVIDER": "twilio",
    "TABLE_PREFIX": "bench",
    "AWS_DEFAULT_REGION": "eu-west-1",
}
IMPORTTIME_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|(\s+)(\S+)")


class Target:
    """Where `import app` runs: the repository with the venv, or an unzipped package with runtime libraries."""

    def __init__(self, path_prefix: list[Path] | None = None) -> None:
        self.path_prefix = path_prefix

    def command(self, code: str, *python_options: str) -> list[str]:
        if self.path_prefix is None:
            return [sys.executable, *python_options, "-c", code]
        prefix = ", ".join(repr(str(p)) for p in self.path_prefix)
        return [sys.executable, "-S", *python_options, "-c", f"import sys; sys.path[:0] = [{prefix}]\n{code}"]

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        env.update(PRODUCTION_ENV)
        if self.path_prefix is not None:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        return env

    @property
    def cwd(self) -> Path:
        return self.path_prefix[0] if self.path_prefix else ROOT

    def run(self, code: str, *python_options: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(code, *python_options),
            cwd=self.cwd,
            env=self.environment(),
            capture_output=True,
            text=True,
            check=False,
        )


def unpack_package(package: Path, workdir: Path) -> Target:
    """The package unzipped into `workdir/task`, next to `workdir/runtime` holding the runtime's libraries."""
    task, runtime = workdir / "task", workdir / "runtime"
    with zipfile.ZipFile(package) as archive:
        archive.extractall(task)
    runtime.mkdir()
    for name in RUNTIME_PROVIDED:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError(f"{name} is not installed here, so the Lambda runtime cannot be imitated")
        (runtime / name).symlink_to(next(iter(spec.submodule_search_locations)))
    return Target([task, runtime])


def timed_import_ms(target: Target) -> float:
    code = "import time; t = time.perf_counter(); import app; print(time.perf_counter() - t)"
    result = target.run(code)
    if result.returncode != 0:
        raise RuntimeError(f"import app failed:\n{result.stderr}")
    return float(result.stdout.strip().splitlines()[-1]) * 1000


def slowest_packages(target: Target, top: int) -> list[tuple[str, float]]:
    """Import time spent in each top-level package's own modules (self time summed: no double counting, the
    figures add up to the whole import), for everything `import app` loads directly or not."""
    result = target.run("import app", "-X", "importtime")
    by_package: dict[str, float] = {}
    for line in result.stderr.splitlines():
        match = IMPORTTIME_LINE.match(line)
        if match is None:
            continue
        self_us, package = int(match.group(1)), match.group(4).split(".")[0]
        by_package[package] = by_package.get(package, 0.0) + self_us / 1000
    return sorted(by_package.items(), key=lambda item: item[1], reverse=True)[:top]


def report(target: Target, runs: int, top: int) -> None:
    timed_import_ms(target)  # warm the file system cache
    times = [timed_import_ms(target) for _ in range(runs)]
    median = statistics.median(times)
    verdict = "under" if median < GOAL_MS else "OVER"
    print(f"import app: median {median:.0f} ms, min {min(times):.0f} ms, max {max(times):.0f} ms over {runs} runs")
    print(f"goal {GOAL_MS:.0f} ms: {verdict}")
    print("where the time goes (ms in each package's own modules, one -X importtime run):")
    for package, ms in slowest_packages(target, top):
        print(f"  {package:30} {ms:8.1f}")


def report_package(package: Path | None, runs: int, top: int) -> None:
    with tempfile.TemporaryDirectory() as workdir:
        if package is None:
            package = Path(workdir) / "out" / "deployment.zip"
            stats = build_package(ROOT, package.parent)
            print(f"built {package.name} as the deployment does: {stats.zipped_bytes / 1e6:.1f} MB zipped")
        print(f"from {package} (site-packages off, runtime libraries only, no bytecode writing):")
        report(unpack_package(package, Path(workdir)), runs, top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--package", type=Path, help="a deployment.zip to time instead of building one")
    parser.add_argument("--only", choices=("venv", "package"), help="time one place instead of both")
    args = arguments(parser, {"runs": 1, "top": 3})
    if args.only != "package":
        print("from the repository (project venv):")
        report(Target(), args.runs, args.top)
    if args.only != "venv":
        if args.only is None:
            print()
        report_package(args.package, args.runs, args.top)


if __name__ == "__main__":
    main()
