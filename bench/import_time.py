"""The app's import time, as a cold-start proxy: what a new Lambda instance pays before its first event.

    python -m bench.import_time [--runs 7] [--top 15]

Each run is a fresh interpreter that imports `app` (the module Lambda loads: routes, handlers, chalicelib) with
the production configuration in its environment (DynamoDB storage, OpenSearch search, Twilio SMS); nothing
connects at import. Prints the median, minimum and maximum of the timed imports (goal: median under 400 ms),
then one `python -X importtime` run's time per top-level package, to show what dominates.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL_MS = 400.0
# What the deployment sets (infra/stack.py), with placeholder values: the import must not use them.
PRODUCTION_ENV = {
    "STORAGE_BACKEND": "dynamodb",
    "SEARCH_BACKEND": "opensearch",
    "OPENSEARCH_URL": "https://search.invalid",
    "SMS_PROVIDER": "twilio",
    "TABLE_PREFIX": "bench",
    "AWS_DEFAULT_REGION": "eu-west-1",
}
TIMED_IMPORT = "import time; t = time.perf_counter(); import app; print(time.perf_counter() - t)"
IMPORTTIME_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|(\s+)(\S+)")


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(PRODUCTION_ENV)
    return env


def timed_import_ms() -> float:
    out = subprocess.run(
        [sys.executable, "-c", TIMED_IMPORT], cwd=ROOT, env=_environment(), capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip().splitlines()[-1]) * 1000


def slowest_packages(top: int) -> list[tuple[str, float]]:
    """Import time spent in each top-level package's own modules (self time summed: no double counting, the
    figures add up to the whole import), for everything `import app` loads directly or not."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import app"],
        cwd=ROOT,
        env=_environment(),
        capture_output=True,
        text=True,
        check=True,
    )
    by_package: dict[str, float] = {}
    for line in out.stderr.splitlines():
        match = IMPORTTIME_LINE.match(line)
        if match is None:
            continue
        self_us, package = int(match.group(1)), match.group(4).split(".")[0]
        by_package[package] = by_package.get(package, 0.0) + self_us / 1000
    return sorted(by_package.items(), key=lambda item: item[1], reverse=True)[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    timed_import_ms()  # warm the file system cache and the .pyc files, as a Lambda's package is
    runs = [timed_import_ms() for _ in range(args.runs)]
    median = statistics.median(runs)
    verdict = "under" if median < GOAL_MS else "OVER"
    print(f"import app: median {median:.0f} ms, min {min(runs):.0f} ms, max {max(runs):.0f} ms over {args.runs} runs")
    print(f"goal {GOAL_MS:.0f} ms: {verdict}")
    print("where the time goes (ms in each package's own modules, one -X importtime run):")
    for package, ms in slowest_packages(args.top):
        print(f"  {package:30} {ms:8.1f}")


if __name__ == "__main__":
    main()
