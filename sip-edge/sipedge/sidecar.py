"""The edge's AWS side: a small process beside Kamailio that reads accounts from DynamoDB and sends events to SQS.

Why a separate process: Kamailio's tls module takes over OpenSSL in its processes, and Python's ssl (which every
boto3 client sets up) crashes there (SSL_CTX_new in a forked worker). So no Kamailio process talks to AWS: the
workers ask this process over a Unix datagram socket (one JSON request, one JSON answer, a short timeout), and
the events timer process hands it batches of events. It answers from a cache (entries live at most
SIP_ACCOUNT_CACHE_SECONDS) and resolves misses on a small thread pool, so a slow DynamoDB holds no one else up.

Run by start.sh: `python3 -m sipedge.sidecar <socket path>`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from typing import Any

from sipedge.config import from_env
from sipedge.directory import Account, CachedDirectory, Directory, DirectoryUnavailable, DynamoDirectory
from sipedge.events import EventSender, sqs_client

MAX_DATAGRAM = 1 << 20  # event hand-overs carry up to ~100 events


def _log(text: str) -> None:
    print(f"sip-edge sidecar: {text}", file=sys.stderr, flush=True)


class Sidecar:
    def __init__(self, directory: Directory, sender: EventSender, path: str) -> None:
        self._directory = directory
        self._sender = sender
        self._path = path
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="lookup")
        self._lock = threading.Lock()  # guards the inbox (receiver → SQS thread) and the questions in flight
        self._inbox: list[str] = []
        self._in_flight: dict[tuple[str, str], list[tuple[Any, Any, Any]]] = {}
        self._wake = threading.Event()
        self._stopping = False  # a plain flag: set from a signal handler, which must take no lock
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if os.path.exists(path):
            os.unlink(path)
        previous = os.umask(0o177)  # the socket answers with HA1s: only this user may talk to it, from the start
        try:
            self.sock.bind(path)
        finally:
            os.umask(previous)

    def serve(self) -> None:
        threading.Thread(target=self._send_loop, name="sqs", daemon=True).start()
        self.sock.settimeout(0.5)  # wakes up to notice stop(); a signal handler only sets the flag
        while not self._stopping:
            try:
                data, peer = self.sock.recvfrom(MAX_DATAGRAM)
            except TimeoutError:
                continue
            self.handle(data, peer)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.sock.close()

    def stop(self) -> None:
        self._stopping = True

    def handle(self, data: bytes, peer: Any) -> None:
        try:
            request = json.loads(data)
        except ValueError:
            return
        op = request.get("op")
        if op == "events":
            with self._lock:
                self._inbox.extend(str(body) for body in request.get("bodies", []))
            self._wake.set()
        elif op in ("find", "number") and peer:
            self._ask(str(op), str(request.get("key", "")), (peer, request.get("n"), request.get("until")))
        elif op == "by_ids" and peer:
            keys = [str(key) for key in request.get("keys", [])]
            self._pool.submit(self._answer_batch, keys, peer, request.get("n"))

    def _ask(self, op: str, key: str, waiter: tuple[Any, Any, Any]) -> None:
        """Questions about the same key while one is in flight wait for its answer (a phone's retransmissions, the
        challenge and the digest REGISTER arriving together) instead of reading DynamoDB again."""
        with self._lock:
            waiters = self._in_flight.get((op, key))
            if waiters is not None:
                waiters.append(waiter)
                return
            self._in_flight[(op, key)] = [waiter]
        self._pool.submit(self._answer, op, key)

    def _answer(self, op: str, key: str) -> None:
        with self._lock:
            first_until = self._in_flight[(op, key)][0][2]
        answer: dict[str, Any] = {}
        if isinstance(first_until, int | float) and time.monotonic() > first_until and op == "find":
            answer["error"] = "asked too long ago"  # nobody waits any more: spare the backend under overload
        else:
            try:
                account = self._read(op, key)
                answer["account"] = asdict(account) if account else None
            except DirectoryUnavailable as exc:
                answer["error"] = str(exc)
        with self._lock:
            waiters = self._in_flight.pop((op, key), [])
        for peer, number, _ in waiters:
            with contextlib.suppress(OSError):  # the worker may have given up waiting already
                self.sock.sendto(json.dumps({**answer, "n": number}).encode(), peer)

    def _answer_batch(self, keys: list[str], peer: Any, number: Any) -> None:
        """The re-check's batch: BatchGetItem reads (sipedge/directory.py), one answer for all the ids."""
        answer: dict[str, Any] = {"n": number}
        try:
            found = self._directory.by_ids(keys)
            answer["accounts"] = {key: asdict(account) if account else None for key, account in found.items()}
        except DirectoryUnavailable as exc:
            answer["error"] = str(exc)
        with contextlib.suppress(OSError):
            self.sock.sendto(json.dumps(answer).encode(), peer)

    def _read(self, op: str, key: str) -> Account | None:
        if op == "find":
            return self._directory.find(key)
        return self._directory.find_number(key)

    def _send_loop(self) -> None:
        while not self._stopping:
            self._wake.wait(1.0)
            self._wake.clear()
            self.flush()

    def flush(self) -> None:
        """Moves the inbox to the sender (only this thread touches the sender) and sends what it can."""
        with self._lock:
            bodies, self._inbox = self._inbox, []
        self._sender.add(bodies)
        if self._sender.pending:
            self._sender.flush(max_batches=10_000)


def main(argv: list[str]) -> int:
    path = argv[1]
    config = from_env()
    third = config.cache_seconds / 3  # group/profile items, account answers here, answers in the workers
    directory = CachedDirectory(DynamoDirectory(config, reference_ttl=third), third)
    sender = EventSender(config.queue_url, sqs_client(config) if config.queue_url else None, _log)
    sidecar = Sidecar(directory, sender, path)

    def stop(signum: int, frame: Any) -> None:
        sidecar.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    _log(f"serving on {path}")
    sidecar.serve()
    sidecar.flush()  # the events still on hand (bounded by the SQS client's timeouts)
    return 0


if __name__ == "__main__":
    code = main(sys.argv)
    sys.stderr.flush()
    os._exit(code)  # no waiting for idle pool threads at interpreter exit
