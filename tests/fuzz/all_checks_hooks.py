"""schemathesis hooks of the all-checks run (SCHEMATHESIS_HOOKS=tests.fuzz.all_checks_hooks): a fresh login for
every case (so that a generated logout ends nothing but its own token), and the fuzzer never changes or
deletes its own operator: its password, role or enabled flag would end the run (an attacker's fuzzer would not
be that kind to itself; other operators, created by the run's stateful phase, are fair game)."""

from __future__ import annotations

import os
from typing import Any

import requests
import schemathesis

BASE = os.environ["FUZZ_BASE"]
LOGIN = {"username": os.environ["FUZZ_USER"], "password": os.environ["FUZZ_PASSWORD"]}
OWN_ID = os.environ["FUZZ_OPERATOR_ID"]


@schemathesis.auth(refresh_interval=None)
class FreshLogin:
    def get(self, case: Any, ctx: Any) -> str:
        answer = requests.post(f"{BASE}/auth/login", json=LOGIN, timeout=30)
        answer.raise_for_status()
        return str(answer.json()["token"])

    def set(self, case: Any, data: str, ctx: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@schemathesis.hook
def before_call(ctx: Any, case: Any, kwargs: Any) -> None:
    params = case.path_parameters or {}
    if case.method.upper() in {"PATCH", "DELETE"} and params.get("operator_id") == OWN_ID:
        case.path_parameters = {**params, "operator_id": "not-the-fuzzers-own"}
