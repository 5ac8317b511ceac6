"""Account creation rate through the service layer vs. raw PutItem, on the same moto server, same run.

    python -m bench.create_accounts [--accounts N]

Each account is one TransactWriteItems call (account, username and number guards, group counter, profile
check, timeline entry) plus the reads the service needs (group, profile). The raw baseline puts items of the
same size with plain PutItem. Prints both rates and their ratio (goal: ours >= 40% of raw).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
import uuid
from typing import Any

import boto3

from bench import arguments
from bench.setup import bench_world
from chalicelib.adapters.dynamo import _account_to_model
from chalicelib.adapters.dynamo_models import AccountModel
from chalicelib.services import accounts
from chalicelib.settings import Settings

GOAL = 0.40
FIGURE = r"^create_account \(ours\): +[\d.]+ accounts/s"
BASELINE = r"^raw PutItem: +[\d.]+ items/s"
ROUND = 100


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_moto(stock: bool) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    extra = ["--stock-transactions"] if stock else []
    process = subprocess.Popen([sys.executable, "-m", "devstack.moto_server", "--port", str(port), *extra])
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, url
        except OSError:
            time.sleep(0.1)
    raise SystemExit("moto did not start")


class Raw:
    """The baseline: PutItem of a full account item into a table configured like the accounts table
    (same key, stream enabled), through a plain boto3 client."""

    def __init__(self, url: str, item: dict[str, Any]) -> None:
        self.client = boto3.client("dynamodb", endpoint_url=url, region_name="eu-west-1")
        self.table = f"raw-{uuid.uuid4().hex[:8]}"
        self.client.create_table(
            TableName=self.table,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        self.item = item
        self.done = 0

    def run(self, count: int) -> float:
        started = time.perf_counter()
        for _ in range(count):
            self.done += 1
            self.client.put_item(TableName=self.table, Item={**self.item, "id": {"S": f"acc-{self.done}"}})
        return time.perf_counter() - started


class Ours:
    """Accounts created through the service layer (validation, digests, guards, counter, timeline)."""

    def __init__(self, url: str) -> None:
        settings = Settings(storage="dynamodb", dynamodb_endpoint=url, table_prefix=f"bench{uuid.uuid4().hex[:6]}")
        self.ctx, self.admin, self.group = bench_world(settings)
        self.done = 0

    def create(self) -> accounts.AccountResult:
        self.done += 1
        data = {
            "password": "sip-secret-1",
            "group_id": self.group.id,
            "phone_number": f"+39347{self.done:07d}",
            "full_name": "Marco Rossi",
        }
        return accounts.create_account(self.ctx, self.admin, data)

    def run(self, count: int) -> float:
        started = time.perf_counter()
        for _ in range(count):
            self.create()
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument(
        "--stock-moto", action="store_true", help="moto's own transactions (whole-table copies; slows with size)"
    )
    args = arguments(parser, {"accounts": ROUND})
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    moto, url = _start_moto(args.stock_moto)
    try:
        ours_runner = Ours(url)
        sample = _account_to_model(AccountModel, ours_runner.create().account).serialize()
        raw_runner = Raw(url, sample)
        raw_seconds = ours_seconds = 0.0
        rounds = max(1, args.accounts // ROUND)
        for _ in range(rounds):  # interleaved, so that drift of the machine hits both alike
            raw_seconds += raw_runner.run(ROUND)
            ours_seconds += ours_runner.run(ROUND)
    finally:
        moto.terminate()
    total = rounds * ROUND
    raw, ours = total / raw_seconds, total / ours_seconds
    ratio = ours / raw
    journal = "stock whole-table copies" if args.stock_moto else "rollback journal"
    print(f"moto server:           {url} (separate process, requests serialised, transactions: {journal})")
    print(f"raw PutItem:           {raw:8.1f} items/s    ({total} account items into a stream-enabled table)")
    print(f"create_account (ours): {ours:8.1f} accounts/s ({total} accounts, {ROUND} a round, interleaved)")
    print(f"ratio:                 {ratio:8.1%}  (goal >= {GOAL:.0%}: {'met' if ratio >= GOAL else 'NOT met'})")


if __name__ == "__main__":
    main()
