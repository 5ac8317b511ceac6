"""Runs every benchmark (the rule is in bench/__init__.py).

python -m bench            full size, one after the other, output as it comes (make bench)
python -m bench --smoke    tiny sizes, each checked for its figure and baseline lines (make bench-smoke)
python -m bench --smoke licence search    only these
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from bench import HERE, benchmarks, run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("names", nargs="*", help="benchmark names (default: all)")
    args = parser.parse_args()
    chosen = [b for b in benchmarks() if not args.names or b.name in args.names]
    if not args.smoke:
        for benchmark in chosen:
            print(f"=== python -m {benchmark.module}", flush=True)
            subprocess.run([sys.executable, "-m", benchmark.module], cwd=HERE.parent, check=True)
        return
    failed = 0
    for benchmark in chosen:
        outcome = run(benchmark, smoke=True)
        verdict = "; ".join(outcome.problems) or "ok"
        print(f"{benchmark.module:<24} {outcome.seconds:6.1f} s  {verdict}", flush=True)
        if outcome.problems:
            failed += 1
            print("    " + outcome.output.replace("\n", "\n    "), flush=True)
    if failed:
        raise SystemExit(f"{failed} of {len(chosen)} benchmarks failed their smoke run")


if __name__ == "__main__":
    main()
