"""Licence validations under load: warm cache, and the vendor down (cache in its grace period), next to a
bare read of the same cache (DynamoDB GetItem on the same moto server), all in the same run.

    python -m bench.licence [--clients 8] [--seconds 5] [--accounts 20]

The app runs in Chalice's local server in this process; each client is a thread with its own keep-alive HTTP
session calling GET /m/licence with its account's licence token. DynamoDB (the cache) is moto's server in its
own process; the vendor is the licence simulator (stopped for the second run).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import requests
from chalice.config import Config
from chalice.local import LocalDevServer

from bench import arguments
from bench.create_accounts import _start_moto
from bench.setup import bench_world
from chalicelib import bootstrap
from chalicelib.domain.provisioning import ProvisioningToken, Purpose, new_token
from chalicelib.services import accounts, licensing
from chalicelib.settings import Settings
from devstack.licence_upstream import LicenceSimulator, new_keypair

GOAL = 0.50
FIGURE = r"^warm cache +[\d.]+/s"
BASELINE = r"^bare cache read +[\d.]+/s"


def load(clients: int, seconds: float, call: Callable[[int, requests.Session], None]) -> tuple[float, float, float]:
    latencies: list[list[float]] = [[] for _ in range(clients)]
    stop = time.perf_counter() + seconds

    def client(i: int) -> None:
        session = requests.Session()
        while time.perf_counter() < stop:
            started = time.perf_counter()
            call(i, session)
            latencies[i].append((time.perf_counter() - started) * 1000)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    begun = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - begun
    flat = sorted(x for per in latencies for x in per)
    return len(flat) / elapsed, statistics.median(flat), flat[int(len(flat) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--accounts", type=int, default=20)
    args = arguments(parser, {"clients": 2, "seconds": 1.0, "accounts": 3})
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    private, public = new_keypair()
    simulator = LicenceSimulator(private, "bench-server").start()
    moto, url = _start_moto(stock=False)
    try:
        settings = Settings(
            storage="dynamodb", dynamodb_endpoint=url, table_prefix=f"lic{uuid.uuid4().hex[:6]}", search="memory",
            licence_upstream_url=simulator.url, licence_upstream_token="bench-server",
            licence_upstream_public_key=public, licence_upstream_timeout=1.0,
        )  # fmt: skip
        ctx, admin, group = bench_world(settings)
        tokens, ids = [], []
        for i in range(args.accounts):
            account = accounts.create_account(ctx, admin, {"password": "sip-secret-1", "group_id": group.id,
                                                           "phone_number": f"+39347{i:07d}"}).account  # fmt: skip
            token, hashed = new_token()
            now = ctx.clock()
            ctx.tokens.issue(ProvisioningToken(hashed, account.id, Purpose.DEVICE, now, now + timedelta(days=1)))
            licensing.current_licence(ctx, account)  # warm the cache
            tokens.append(token)
            ids.append(account.id)

        import app

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = LocalDevServer(app.app, Config.create(chalice_stage="local"), "127.0.0.1", port)
        threading.Thread(target=server.server.serve_forever, daemon=True).start()
        endpoint = f"http://127.0.0.1:{port}/m/licence"

        def validate(i: int, session: requests.Session) -> None:
            answer = session.get(endpoint, headers={"Authorization": f"Bearer {tokens[i % len(tokens)]}"}, timeout=5)
            assert answer.status_code == 200, answer.text

        def bare_read(i: int, session: requests.Session) -> None:
            assert ctx.licences.get(ids[i % len(ids)]) is not None

        warm = load(args.clients, args.seconds, validate)
        calls_before = simulator.calls
        simulator.stop()  # the vendor goes down; every cached licence is now past its freshness:
        bootstrap.use(replace(ctx, settings=replace(settings, licence_cache_seconds=0)))
        down = load(args.clients, args.seconds, validate)
        bare = load(args.clients, args.seconds, bare_read)
        server.shutdown()
    finally:
        moto.terminate()
    print(f"{args.clients} concurrent clients, {args.accounts} accounts, {args.seconds:g} s a run")
    for label, (rate, median, p95) in (("warm cache", warm), ("vendor down (grace)", down), ("bare cache read", bare)):
        print(f"{label:<21} {rate:8.1f}/s   median {median:6.2f} ms   p95 {p95:6.2f} ms")
    ratio = warm[0] / bare[0]
    print(f"warm / bare read: {ratio:.0%} (goal >= {GOAL:.0%}: {'met' if ratio >= GOAL else 'NOT met'})")
    print(f"vendor calls during the warm run: {simulator.calls - calls_before}")


if __name__ == "__main__":
    main()
