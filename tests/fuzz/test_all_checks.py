"""Issue #14: a short schemathesis run with ALL its checks (positive and negative data, undeclared methods,
ignored auth, use after free, resource availability, headers...) against the running local stack, zero
failures. Time-bounded by the phases and examples per operation below; the settings are in all-checks.toml
and the hooks (fresh login per case, never the fuzzer's own operator) in all_checks_hooks.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import requests

from tests.test_local_stack import start_stack, stop

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
FUZZER = {"username": "fuzzer", "password": "fuzzer-password-1"}
# a fixed seed, so that CI is reproducible; FUZZ_SEED / FUZZ_EXAMPLES / FUZZ_PHASES explore further by hand
EXAMPLES_PER_OPERATION = int(os.environ.get("FUZZ_EXAMPLES", "2"))
PHASES = os.environ.get("FUZZ_PHASES", "examples,fuzzing,stateful")
SEED = os.environ.get("FUZZ_SEED", "14")


def _fuzzer(url: str) -> str:
    """A second administrator for the fuzzer (the run may change the bootstrap admin like any other operator)."""
    session = requests.Session()
    token = session.post(f"{url}/auth/login", json={"username": "admin", "password": "fuzz-admin-1"}, timeout=10)
    session.headers["Authorization"] = f"Bearer {token.json()['token']}"
    created = session.post(f"{url}/operators", json={**FUZZER, "role": "admin"}, timeout=10)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def test_schemathesis_with_every_check_finds_nothing() -> None:
    process, url, _ = start_stack({"ADMIN_PASSWORD": "fuzz-admin-1"})
    try:
        env = {
            **os.environ,
            "FUZZ_BASE": url,
            "FUZZ_USER": FUZZER["username"],
            "FUZZ_PASSWORD": FUZZER["password"],
            "FUZZ_OPERATOR_ID": _fuzzer(url),
            "SCHEMATHESIS_HOOKS": "tests.fuzz.all_checks_hooks",
            "PYTHONPATH": str(ROOT),
        }
        command = [
            str(Path(sys.executable).with_name("st")), "--config-file", str(HERE / "all-checks.toml"), "--no-color",
            "run", f"{url}/openapi.json", "--checks", "all", "--phases", PHASES,
            "--max-examples", str(EXAMPLES_PER_OPERATION), "--seed", SEED,
        ]  # fmt: skip
        run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
        report = run.stdout + run.stderr
        assert run.returncode == 0, report[-20000:]
        assert " passed" in report and "Tested: " in report, report[-3000:]
    finally:
        stop(process)
