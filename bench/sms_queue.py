"""Activation SMS through the queue: N messages queued by the activation service, sent by the app's SQS
handler through the Twilio adapter to a fake Twilio on loopback, paced to the configured rate.

    python -m bench.sms_queue [--messages 10000] [--rate 100] [--accounts 100]

moto's server (DynamoDB and SQS) runs in its own process; the local queue bridge delivers the queue to the
handler as Lambda would (batches of up to 10, one handler at a time, i.e. a function concurrency of 1).
Prints the queueing rate, the sending rate next to the configured limit, and the provider's view of the rate.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bench import arguments
from bench.create_accounts import _start_moto
from bench.setup import bench_world
from chalicelib.domain.provisioning import Purpose
from chalicelib.services import accounts, activation
from chalicelib.settings import Settings
from devstack.events import QueueBridge, create_queue

FIGURE = r"^sent: +\d+ through SQS .*\([\d,.]+ messages/s\)"
BASELINE = r"configured limit [\d.]+/s"


class FakeProvider:
    def __init__(self) -> None:
        self.times: list[float] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fake.times.append(time.perf_counter())
                body = json.dumps({"sid": "SM" + uuid.uuid4().hex}).encode()
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=100.0, help="SMS_RATE_PER_SECOND")
    parser.add_argument("--accounts", type=int, default=100)
    args = arguments(parser, {"messages": 20, "rate": 100.0, "accounts": 5})
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    provider = FakeProvider()
    moto, url = _start_moto(stock=False)
    try:
        queue_url = create_queue(url, "eu-west-1", f"bench-sms-{uuid.uuid4().hex[:6]}", visibility_seconds=30)
        settings = Settings(
            storage="dynamodb", dynamodb_endpoint=url, table_prefix=f"sms{uuid.uuid4().hex[:6]}", search="memory",
            sms_provider="twilio", sms_queue_url=queue_url, sqs_endpoint=url, sms_rate_per_second=args.rate,
            twilio_api_base=provider.url, twilio_account_sid="ACbench", twilio_auth_token="bench",
            twilio_from="+15005550006",
        )  # fmt: skip
        ctx, admin, group = bench_world(settings)
        ids = [
            accounts.create_account(ctx, admin, {"mode": "wizard", "group_id": group.id,
                                                 "phone_number": f"+39347{i:07d}"}).account.id
            for i in range(args.accounts)
        ]  # fmt: skip

        import app  # the handler object Lambda would call

        # The consumer runs while messages are queued, as Lambda's SQS trigger does (moto's SQS also slows
        # down with the queue's depth: it recounts the queue on every call).
        bridge = QueueBridge(url, "eu-west-1", queue_url, app.send_sms, batch=10)
        started = time.perf_counter()
        bridge.start()
        for i in range(args.messages):
            activation.send_link(ctx, admin, ids[i % len(ids)], Purpose.ACTIVATE)
        queued_seconds = time.perf_counter() - started
        while bridge.delivered < args.messages and time.perf_counter() - started < 3600:
            time.sleep(0.05)
        sending_seconds = time.perf_counter() - started
        bridge.stop()
    finally:
        moto.terminate()
    sent = len(provider.times)
    span = provider.times[-1] - provider.times[0] if sent > 1 else 0.0
    print(
        f"queued:  {args.messages} activation SMS in {queued_seconds:.1f} s ({args.messages / queued_seconds:,.0f}/s)"
    )
    print(f"sent:    {sent} through SQS -> handler -> Twilio adapter, all done {sending_seconds:.1f} s after the "
          f"first was queued ({sent / sending_seconds:,.1f} messages/s)")  # fmt: skip
    print(f"provider saw {(sent - 1) / span if span else 0:,.1f} messages/s; configured limit {args.rate:g}/s")
    print(f"handler failures: {bridge.failures}")


if __name__ == "__main__":
    main()
