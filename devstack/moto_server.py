"""moto's server (DynamoDB, S3, SQS, ...) on loopback, with one request served at a time.

moto applies a TransactWriteItems call step by step in Python; two threads could interleave the checks of
two transactions. Real DynamoDB is atomic, so the local stack serialises requests to keep that guarantee
(connections stay concurrent and keep-alive; only request handling takes turns).
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from devstack import moto_transactions

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def serialized_app(journal: bool = True) -> WSGIApp:
    """moto's WSGI app, one DynamoDB request at a time; `journal` swaps moto's whole-table transaction copies for a
    rollback journal of the touched items (see moto_transactions.py)."""
    if journal:
        moto_transactions.install()
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def locked(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith("DynamoDB"):
            body: Iterable[bytes] = app(environ, start_response)  # SQS long polls etc. need no turn-taking
            return body
        with lock:
            return list(app(environ, start_response))

    return locked


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Per-request lines would drown test and benchmark output."""


class MotoServer:
    """moto in a background thread of this process (tests, benchmarks)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server: BaseWSGIServer = make_server(
            host, port, serialized_app(), threaded=True, request_handler=_QuietHandler
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
    args = parser.parse_args()
    app = serialized_app(journal=not args.stock_transactions)
    server = make_server(args.host, args.port, app, threaded=True, request_handler=_QuietHandler)
    print(f"moto server on http://{args.host}:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
