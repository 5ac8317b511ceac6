"""How far the registrations list (`online_in_group`, what the console and the API list) falls behind a burst of
unregistrations: N registered phones unregister at R per second, their events put on SQS as the edge sends them
(SendMessageBatch), consumed by the local stack's SIP events bridge with the app's own handler, beside what the
local stack runs with it: moto with its state snapshots, and the search index fed from the accounts stream.

    python -m bench.registrations_lag [--phones 1000] [--rate 10]

Two consumers in one run: the local stack's bridge as it is (SIP_EVENTS_CONSUMERS pollers, a visibility timeout of
SIP_EVENTS_VISIBILITY_SECONDS) and the bridge it replaced (one poller, a 2 s visibility timeout: a batch still
being recorded becomes visible again and is recorded twice). The figure is the time from the
last unregistration sent to the list showing none of the phones (goal: 5 s).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from bench import arguments
from bench.setup import bench_world
from chalicelib.domain.model import Account
from chalicelib.services import accounts, registrations
from chalicelib.services.context import Context
from chalicelib.settings import Settings
from devstack.events import QueueBridge, StreamBridge, create_queue, wait_until
from devstack.run_local import SIP_EVENTS_CONSUMERS, SIP_EVENTS_VISIBILITY_SECONDS, SNAPSHOT_SECONDS
from devstack.sip_edge import free_port

FIGURE = r"^registrations list caught up [\d.]+ s after the last of \d+ unregistrations"
BASELINE = r"^before \(one poller, visibility 2 s\): caught up [\d.]+ s"


def _event(account: Account, kind: str) -> dict[str, Any]:
    return {
        "id": uuid.uuid4().hex, "kind": kind, "at": datetime.now(UTC).isoformat(), "username": account.username,
        "account_id": account.id, "contact": f"sip:{account.username}@198.51.100.7:5060", "source": "198.51.100.7:5060",
        "transport": "udp", "user_agent": "bench", "expires": 3600 if kind == "registered" else 0, "reason": "",
        "edge": "bench-edge",
    }  # fmt: skip


def _listed(ctx: Context, admin: Any, group_id: str) -> bool:
    """Whether the list's first page (what the console shows) has anybody: one query, as a person looking at it
    costs. (Counting every page each time, 10 queries per look on moto, each reading the whole table, was what
    held the consumers back once the sending stopped.)"""
    return bool(registrations.online_in_group(ctx, admin, group_id, 100, None).items)


def _online(ctx: Context, admin: Any, group_id: str) -> int:
    count, cursor = 0, None
    while True:
        page = registrations.online_in_group(ctx, admin, group_id, 100, cursor)
        count += len(page.items)
        cursor = page.next_cursor
        if not cursor:
            return count


def run(ctx: Context, admin: Any, group_id: str, phones: list[Account], rate: float, url: str, consumers: int,
        visibility: int) -> tuple[float, int]:  # fmt: skip
    """Registers the phones (straight through the service), then sends their unregistrations at `rate` while the
    bridge consumes; returns (seconds from the last send until none is listed, messages delivered)."""
    registrations.record_events(ctx, [_event(phone, "registered") for phone in phones])
    assert _online(ctx, admin, group_id) == len(phones)
    queue_url = create_queue(url, "eu-west-1", f"bench-sip-{uuid.uuid4().hex[:6]}", visibility_seconds=visibility)
    sqs = boto3.client("sqs", region_name="eu-west-1", endpoint_url=url)

    import app  # the handler object Lambda would call

    bridge = QueueBridge(url, "eu-west-1", queue_url, app.record_sip_events, batch=10, concurrency=consumers).start()
    started = time.monotonic()
    for n, phone in enumerate(phones):  # the edge's sender: what came in during the last tick, in one batch
        pause = started + n / rate - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        body = json.dumps(_event(phone, "unregistered"))
        sqs.send_message_batch(QueueUrl=queue_url, Entries=[{"Id": "0", "MessageBody": body}])
    last_sent = time.monotonic()
    while _listed(ctx, admin, group_id) and time.monotonic() - last_sent < 600:
        time.sleep(0.2)
    behind = time.monotonic() - last_sent
    time.sleep(min(visibility, 3) + 1)  # redeliveries still on their way are counted too
    bridge.stop()
    return behind, bridge.delivered


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--phones", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=10.0, help="unregistrations per second")
    args = arguments(parser, {"phones": 20, "rate": 20.0})
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    # as the local stack runs them: moto with its state snapshots, the search index (tantivy on disk) fed by the
    # accounts table's stream in the same process as the SIP events consumer
    workdir = Path(tempfile.mkdtemp(prefix="registrations-lag-"))
    port = free_port(socket.SOCK_STREAM)
    moto = subprocess.Popen([sys.executable, "-m", "devstack.moto_server", "--port", str(port), "--state-dir",
                             str(workdir / "moto"), "--snapshot-seconds", str(SNAPSHOT_SECONDS)])  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    stream = None
    try:
        wait_until(lambda: _listening(port), 30)
        settings = Settings(storage="dynamodb", dynamodb_endpoint=url, table_prefix=f"lag{uuid.uuid4().hex[:6]}",
                            search="tantivy", search_index_path=str(workdir / "search"), sqs_endpoint=url)  # fmt: skip
        ctx, admin, group = bench_world(settings)

        import app

        stream = StreamBridge(url, "eu-west-1", settings.table_name("accounts"), app.index_accounts).start()
        fields = [{"group_id": group.id, "username": f"lag{100000 + i}", "password": "bench-secret-1",
                   "phone_number": f"+39348{i:07d}"} for i in range(args.phones)]  # fmt: skip
        phones = [accounts.create_account(ctx, admin, data).account for data in fields]
        print(f"registrations lag: {args.phones} phones unregistering at {args.rate:g}/s, {os.cpu_count()} cores")
        old, old_delivered = run(ctx, admin, group.id, phones, args.rate, url, 1, 2)
        new, new_delivered = run(ctx, admin, group.id, phones, args.rate, url, SIP_EVENTS_CONSUMERS,
                                 SIP_EVENTS_VISIBILITY_SECONDS)  # fmt: skip
        print(f"registrations list caught up {new:.1f} s after the last of {args.phones} unregistrations "
              f"({SIP_EVENTS_CONSUMERS} pollers, visibility {SIP_EVENTS_VISIBILITY_SECONDS} s; messages handled "
              f"{new_delivered}; goal 5 s)")  # fmt: skip
        print(f"before (one poller, visibility 2 s): caught up {old:.1f} s after the last; messages handled "
              f"{old_delivered} (more than {args.phones}: batches handed out again while being recorded)")  # fmt: skip
    finally:
        if stream is not None:
            stream.stop()
        moto.terminate()
        moto.wait(30)


if __name__ == "__main__":
    main()
