"""Operator commands for a deployed (or local) system, run with the app's environment.

python -m chalicelib.cli rebuild-search    re-index every account from the accounts table
python -m chalicelib.cli ensure-admin      create the first operator `admin` (prints its generated password once)
python -m chalicelib.cli check-audit       verify the audit trail's hash chain (exit status 1 when it is broken)
"""

from __future__ import annotations

import argparse

from chalicelib import bootstrap
from chalicelib.services import audit, search
from chalicelib.services.operators import BOOTSTRAP_ADMIN, ensure_admin


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.cli", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("rebuild-search", help="re-index every account from the accounts table")
    commands.add_parser("ensure-admin", help=f"create the first operator {BOOTSTRAP_ADMIN!r} if there is none")
    commands.add_parser("check-audit", help="verify the audit trail's hash chain")
    args = parser.parse_args(argv)
    if args.command == "rebuild-search":
        count = search.rebuild(bootstrap.context())
        print(f"indexed {count} accounts")
    elif args.command == "check-audit":
        result = audit.check(bootstrap.context())
        for problem in result.problems:
            print(problem)
        print(f"{result.entries} entries: {'the chain is intact' if result.intact else 'the chain is BROKEN'}")
        return 0 if result.intact else 1
    elif args.command == "ensure-admin":
        _, generated = ensure_admin(bootstrap.context(), None)
        if generated:
            print(f"created {BOOTSTRAP_ADMIN!r} with the password {generated} (shown once: change it at first login)")
        else:
            print(f"{BOOTSTRAP_ADMIN!r} exists already: nothing changed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
