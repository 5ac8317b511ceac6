"""Kamailio's side of the sidecar (see sidecar.py): account lookups and event hand-over over a Unix datagram
socket, with no ssl and no boto3 in any Kamailio process."""

from __future__ import annotations

import itertools
import json
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from sipedge.directory import Account, DirectoryUnavailable

MAX_DATAGRAM = 65536  # answers; events are handed over in datagrams of up to ~100 events
BY_IDS_PER_QUESTION = 50  # accounts in one answer (each well under 1 KiB of JSON)


def account_from(data: Mapping[str, Any]) -> Account:
    fields = dict(data)
    for name in ("permit", "deny", "transports"):
        fields[name] = tuple(fields.get(name) or ())
    return Account(**fields)


class _Endpoint:
    """A datagram socket of this process (an abstract address: nothing to clean up), talking to the sidecar."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._sock: socket.socket | None = None

    def sock(self) -> socket.socket:
        if self._sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.bind(f"\0sip-edge-{os.getpid()}-{uuid.uuid4().hex[:8]}")
            self._sock = sock
        return self._sock

    def send(self, payload: dict[str, Any]) -> None:
        self.sock().sendto(json.dumps(payload, separators=(",", ":")).encode(), self._path)


class SidecarDirectory:
    """Asks the sidecar; waits at most `timeout` seconds for the answer (then the REGISTER gets a 503)."""

    def __init__(self, path: str, timeout: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._endpoint = _Endpoint(path)
        self._timeout = timeout
        self._clock = clock
        self._numbers = itertools.count(1)

    def _exchange(self, question: dict[str, Any]) -> dict[str, Any]:
        number = next(self._numbers)
        self._endpoint.sock().settimeout(self._timeout)  # a full sidecar queue makes sendto wait, not forever
        try:
            # `until`: CLOCK_MONOTONIC is one clock for all processes of the machine; the sidecar skips questions
            # nobody waits for any more
            self._endpoint.send({**question, "n": number, "until": time.monotonic() + self._timeout})
        except OSError as exc:
            raise DirectoryUnavailable(f"sidecar: {exc.strerror or type(exc).__name__}") from exc
        deadline = self._clock() + self._timeout
        sock = self._endpoint.sock()
        while True:
            left = deadline - self._clock()
            if left <= 0:
                raise DirectoryUnavailable("sidecar: no answer in time")
            sock.settimeout(left)
            try:
                data = sock.recv(MAX_DATAGRAM)
            except TimeoutError:
                continue
            answer: dict[str, Any] = json.loads(data)
            if answer.get("n") != number:
                continue  # a late answer to an earlier question
            if "error" in answer:
                raise DirectoryUnavailable(str(answer["error"]))
            return answer

    def _ask(self, op: str, key: str) -> Account | None:
        found = self._exchange({"op": op, "key": key}).get("account")
        return account_from(found) if found else None

    def find(self, username: str) -> Account | None:
        return self._ask("find", username)

    def by_ids(self, account_ids: list[str]) -> dict[str, Account | None]:
        """In questions of BY_IDS_PER_QUESTION ids (an answer must fit one datagram)."""
        found: dict[str, Account | None] = {}
        for start in range(0, len(account_ids), BY_IDS_PER_QUESTION):
            chunk = account_ids[start : start + BY_IDS_PER_QUESTION]
            answer = self._exchange({"op": "by_ids", "keys": chunk}).get("accounts") or {}
            found.update({key: account_from(answer[key]) if answer.get(key) else None for key in chunk})
        return found

    def find_number(self, number: str) -> Account | None:
        return self._ask("number", number)


class SidecarQueue:
    """Looks like the part of an SQS client EventSender uses; hands each batch to the sidecar, which sends it."""

    def __init__(self, path: str) -> None:
        self._endpoint = _Endpoint(path)

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
        self._endpoint.sock().setblocking(False)  # never wait: a full socket buffer keeps the events for later
        self._endpoint.send({"op": "events", "bodies": [entry["MessageBody"] for entry in Entries]})
        return {"Failed": []}
