"""Operator commands for a deployed (or local) system, run with the app's environment.

python -m chalicelib.cli rebuild-search    re-index every account from the accounts table
"""

from __future__ import annotations

import argparse

from chalicelib import bootstrap
from chalicelib.services import search


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.cli", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("rebuild-search", help="re-index every account from the accounts table")
    args = parser.parse_args(argv)
    if args.command == "rebuild-search":
        count = search.rebuild(bootstrap.context())
        print(f"indexed {count} accounts")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
