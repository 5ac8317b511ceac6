"""Restart time of the local stack (`make run`) with its data kept in LOCAL_DATA_DIR, next to the first start
of the same stack on no data, in the same run.

    python -m bench.restart [--accounts 10000]

Starts devstack.run_local on free ports with a fresh data directory (the baseline: the first start, empty),
imports N generated accounts through the drop folder (the import pipeline), stops it with SIGINT as Ctrl-C
does, starts it again and times until it prints that it is up (moto's snapshot loaded, tables, index and
stream position checked, the SIP edge and the bridges started); then checks the accounts are there and
searchable. Goal: the restart under 20 s with 10,000 accounts.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import boto3
import requests

from bench import arguments
from bench.imports import generated
from devstack.sip_edge import free_port as free_udp_port

ROOT = Path(__file__).resolve().parent.parent
GOAL_SECONDS = 20.0
PASSWORD = "bench-admin-pass"
FIGURE = r"^restart with \d+ accounts: +[\d.]+ s"
BASELINE = r"^first start, no data: +[\d.]+ s"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Stack:
    """One run of devstack.run_local, its output collected; `seconds` is how long it took to come up."""

    def __init__(self, data_dir: Path) -> None:
        ports = {"MOTO_PORT": _free_port(), "API_PORT": _free_port(), "LICENCE_PORT": _free_port(),
                 "SIP_PORT": free_udp_port(), "SIP_TLS_PORT": _free_port()}  # fmt: skip
        env = {**os.environ, **{k: str(v) for k, v in ports.items()}, "LOCAL_DATA_DIR": str(data_dir),
               "ADMIN_PASSWORD": PASSWORD}  # fmt: skip
        self.url = f"http://127.0.0.1:{ports['API_PORT']}/api/v1"
        self.moto = f"http://127.0.0.1:{ports['MOTO_PORT']}"
        self.lines: list[str] = []
        started = time.perf_counter()
        command = [sys.executable, "-m", "devstack.run_local"]
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        threading.Thread(target=self._read, daemon=True).start()
        while not any("  Data: " in line for line in self.lines):
            if self.process.poll() is not None or time.perf_counter() - started > 300:
                self.stop()
                raise SystemExit("the local stack did not start:\n" + "".join(self.lines))
            time.sleep(0.05)
        self.seconds = time.perf_counter() - started

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def session(self) -> requests.Session:
        session = requests.Session()
        login = session.post(f"{self.url}/auth/login", json={"username": "admin", "password": PASSWORD}, timeout=30)
        session.headers["Authorization"] = f"Bearer {login.json()['token']}"
        return session

    def stop(self) -> float:
        started = time.perf_counter()
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            self.process.wait(timeout=120)
        return time.perf_counter() - started


def fill(stack: Stack, accounts: int) -> tuple[str, float]:
    """A group with `accounts` accounts, imported from the drop folder; the group's id and the seconds taken."""
    session = stack.session()
    profile = session.post(f"{stack.url}/provisioning-profiles", timeout=30, json={
        "name": "p", "sip_domain": "voice.example.com", "sip_host": "sip.example.com"}).json()  # fmt: skip
    group = session.post(f"{stack.url}/groups", timeout=30, json={
        "name": "Staff", "it_email": "it@example.com", "provisioning_profile_id": profile["id"]}).json()  # fmt: skip
    s3 = boto3.client("s3", endpoint_url=stack.moto, region_name="eu-west-1")
    started = time.perf_counter()
    s3.put_object(Bucket="local-imports", Key="imports/Staff/staff.csv", Body=b"".join(generated(accounts)))
    while True:
        jobs = session.get(f"{stack.url}/imports", timeout=30).json()["items"]
        if jobs and jobs[0]["status"] in ("completed", "failed"):
            assert jobs[0]["created"] == accounts, jobs[0]
            return group["id"], time.perf_counter() - started
        time.sleep(0.5)


def searchable(stack: Stack, group_id: str, accounts: int) -> bool:
    session = stack.session()
    last = f"Person {accounts - 1}"
    answer = session.get(f"{stack.url}/accounts", params={"group_id": group_id, "q": f'owner:"{last}"'}, timeout=30)
    return [a["full_name"] for a in answer.json()["items"]] == [last]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=10_000)
    args = arguments(parser, {"accounts": 20})
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    with tempfile.TemporaryDirectory(prefix="bench-restart-") as workdir:
        data_dir = Path(workdir) / "data"
        first = Stack(data_dir)
        try:
            group_id, filling = fill(first, args.accounts)
            deadline = time.monotonic() + 120
            while not searchable(first, group_id, args.accounts) and time.monotonic() < deadline:
                time.sleep(0.5)
        finally:
            stopping = first.stop()
        size = sum(f.stat().st_size for f in data_dir.rglob("*") if f.is_file())
        again = Stack(data_dir)
        try:
            found = searchable(again, group_id, args.accounts)
        finally:
            again.stop()
    snapshot = re.search(r"state in .* \((\w+)\)", "".join(again.lines))
    saved = re.search(r"moto state saved: ([\d.]+ MiB in [\d.]+ s)", "".join(first.lines))
    print(f"{args.accounts} accounts imported in {filling:.1f} s; stopped (SIGINT) in {stopping:.1f} s; "
          f"data directory {size / 2**20:.1f} MiB; moto state {snapshot.group(1) if snapshot else '?'}, the last "
          f"snapshot {saved.group(1) if saved else '?'}")  # fmt: skip
    print(f"restart with {args.accounts} accounts: {again.seconds:6.1f} s (until it prints that it is up)")
    print(f"first start, no data:  {first.seconds:6.1f} s")
    verdict = "met" if again.seconds < GOAL_SECONDS else "NOT met"
    print(f"goal: restart under {GOAL_SECONDS:.0f} s: {verdict}; the last account found by search after it: {found}")


if __name__ == "__main__":
    main()
