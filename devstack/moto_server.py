"""moto's server (DynamoDB, S3, SQS, ...) on loopback, with one request served at a time.

moto applies a TransactWriteItems call step by step in Python; two threads could interleave the checks of
two transactions. Real DynamoDB is atomic, so the local stack serialises requests to keep that guarantee
(connections stay concurrent and keep-alive; only request handling takes turns).
"""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from devstack import moto_speedups, moto_transactions
from devstack.moto_state import Snapshots

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class Freezer:
    """Holds DynamoDB requests of chosen operations before they run (fault tests: a stall mid-write)."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._operations: frozenset[str] = frozenset()
        self.held = 0  # requests held since the last freeze (a test waits for the retries it expects)

    def wait(self, target: str) -> None:
        operation = target.rpartition(".")[2]
        with self._changed:
            if operation in self._operations:
                self.held += 1
                self._changed.notify_all()
            self._changed.wait_for(lambda: operation not in self._operations)

    def wait_held(self, count: int, timeout: float) -> bool:
        """Whether `count` requests have been held (within `timeout` seconds)."""
        with self._changed:
            return self._changed.wait_for(lambda: self.held >= count, timeout)

    @contextmanager
    def frozen(self, operations: Iterable[str]) -> Iterator[None]:
        with self._changed:
            self._operations = frozenset(operations)
            self.held = 0
        try:
            yield
        finally:
            with self._changed:
                self._operations = frozenset()
                self._changed.notify_all()


READS = {  # requests that change nothing a snapshot keeps (every other request does, or may)
    "DynamoDB_20120810." + name
    for name in ("GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems", "DescribeTable", "ListTables",
                 "DescribeTimeToLive", "DescribeContinuousBackups", "ListTagsOfResource")
} | {"AmazonSQS." + name for name in ("GetQueueUrl", "GetQueueAttributes", "ListQueues", "ReceiveMessage")}  # fmt: skip


def serialized_app(journal: bool = True, snapshots: Snapshots | None = None, freezer: Freezer | None = None) -> WSGIApp:
    """moto's WSGI app, one DynamoDB request at a time; `journal` swaps moto's whole-table transaction copies for a
    rollback journal of the touched items (see moto_transactions.py); a Query by a table's key reads its partition
    only and an SQS send does not count the queue (moto_speedups.py); `snapshots` keeps its state on disk (see
    moto_state.py); `freezer` can hold requests back."""
    if journal:
        moto_transactions.install()
    moto_speedups.install()
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def served(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        if not target.startswith("DynamoDB"):
            return list(app(environ, start_response))  # SQS long polls etc. need no turn-taking
        if freezer is not None:
            freezer.wait(target)
        with lock:
            return list(app(environ, start_response))

    if snapshots is None:
        return served

    def kept(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        if target.startswith("DynamoDBStreams") or target == "AmazonSQS.ReceiveMessage":
            return served(environ, start_response)  # (long polls would hold snapshots up; see moto_state.py)
        with snapshots.gate.passing():
            body = served(environ, start_response)
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD") and target not in READS:
            snapshots.dirty = True
        return body

    return kept


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Per-request lines would drown test and benchmark output."""


class MotoServer:
    """moto in a background thread of this process (tests, benchmarks)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.freezer = Freezer()
        self._server: BaseWSGIServer = make_server(
            host, port, serialized_app(freezer=self.freezer), threaded=True, request_handler=_QuietHandler
        )
        self.url = f"http://{host}:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> MotoServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--stock-transactions", action="store_true", help="keep moto's whole-table copies")
    parser.add_argument("--state-dir", type=Path, help="keep the state in this directory (moto_state.py)")
    parser.add_argument("--snapshot-seconds", type=float, default=1.0, help="at most this much is lost on kill -9")
    parser.add_argument("--ignore-sigint", action="store_true", help="a parent stops it (SIGTERM) after its consumers")
    args = parser.parse_args()
    snapshots = Snapshots(args.state_dir, args.snapshot_seconds) if args.state_dir else None
    restored = snapshots is not None and snapshots.load()
    app = serialized_app(journal=not args.stock_transactions, snapshots=snapshots)
    server = make_server(args.host, args.port, app, threaded=True, request_handler=_QuietHandler)
    if snapshots is not None:
        snapshots.start()

        def stop(*_: object) -> None:
            threading.Thread(target=server.shutdown, daemon=True).start()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, signal.SIG_IGN if args.ignore_sigint else stop)
    state = f", state in {args.state_dir} ({'restored' if restored else 'new'})" if snapshots else ""
    print(f"moto server on http://{args.host}:{server.server_port}{state}", flush=True)
    server.serve_forever()
    if snapshots is not None:
        snapshots.stop()  # the last snapshot, after the last request
        size = snapshots.path.stat().st_size / 2**20
        print(f"moto state saved: {size:.1f} MiB in {snapshots.last_seconds:.2f} s", flush=True)


if __name__ == "__main__":
    main()
