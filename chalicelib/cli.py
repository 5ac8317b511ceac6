"""Operator commands for a deployed (or local) system, run with the app's environment.

python -m chalicelib.cli rebuild-search    re-index every account from the accounts table
python -m chalicelib.cli ensure-admin      create the first operator `admin` (prints its generated password once)
"""

from __future__ import annotations

import argparse

from chalicelib import bootstrap
from chalicelib.services import search
from chalicelib.services.operators import BOOTSTRAP_ADMIN, ensure_admin


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.cli", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("rebuild-search", help="re-index every account from the accounts table")
    commands.add_parser("ensure-admin", help=f"create the first operator {BOOTSTRAP_ADMIN!r} if there is none")
    args = parser.parse_args(argv)
    if args.command == "rebuild-search":
        count = search.rebuild(bootstrap.context())
        print(f"indexed {count} accounts")
    elif args.command == "ensure-admin":
        _, generated = ensure_admin(bootstrap.context(), None)
        if generated:
            print(f"created {BOOTSTRAP_ADMIN!r} with the password {generated} (shown once: change it at first login)")
        else:
            print(f"{BOOTSTRAP_ADMIN!r} exists already: nothing changed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
