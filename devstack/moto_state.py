"""moto's state on disk, for the local stack: a snapshot of its DynamoDB, S3 and SQS backends.

moto keeps everything in Python objects and offers no persistence of its own (its recorder replays every
request ever made, reads and receives included, so a restart would grow with the history and consume queued
messages again). This module pickles the backends themselves, as LocalStack does with moto's: tables with their
items, indexes and stream records (sequence numbers included), buckets with their objects, queues with the
messages not yet deleted (in flight ones come back after their visibility timeout).

- `Gate`: requests pass it side by side; a snapshot closes it, waits for the requests inside, pickles, reopens.
  SQS long polls do not pass it (they would hold a snapshot up for seconds); a receive that runs during
  pickling can make it fail, and the next tick tries again.
- `Snapshots.save` writes `moto-state.pickle` next to a temporary file and renames it (atomic): a kill -9
  during a write leaves the previous snapshot. The saver thread writes one at most every `interval` seconds
  when a request changed something, and the server writes a last one when it stops (SIGTERM, SIGINT). The
  interval stretches to 4 times the last snapshot's duration, so that snapshots take at most a fifth of moto's
  time as the state grows: after a kill -9 at most max(interval, 4 x a snapshot's time) plus the write in
  progress is lost (`bench.restart` prints the snapshot time; about 0.5 s with 10,000 accounts here).
- Locks and conditions inside the backends are not pickled: fresh ones are made on load.
The pickle is moto's internal objects: a snapshot is only read back by the same moto version (checked).
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import moto
from moto.backends import get_backend
from moto.s3.models import s3_backends

log = logging.getLogger(__name__)
SERVICES = ("dynamodb", "s3", "sqs")
FILE_NAME = "moto-state.pickle"
_LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, threading.Condition):
            return threading.Condition, ()
        if isinstance(obj, _LOCK_TYPES[1]):
            return threading.RLock, ()
        if isinstance(obj, _LOCK_TYPES[0]):
            return threading.Lock, ()
        return NotImplemented


class Gate:
    """Many requests at a time, or one snapshot."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._inside = 0
        self._closed = False

    @contextlib.contextmanager
    def passing(self) -> Iterator[None]:
        with self._condition:
            while self._closed:
                self._condition.wait()
            self._inside += 1
        try:
            yield
        finally:
            with self._condition:
                self._inside -= 1
                self._condition.notify_all()

    @contextlib.contextmanager
    def closed(self) -> Iterator[None]:
        with self._condition:
            while self._closed:
                self._condition.wait()
            self._closed = True
            while self._inside:
                self._condition.wait()
        try:
            yield
        finally:
            with self._condition:
                self._closed = False
                self._condition.notify_all()


def _state() -> dict[str, dict[str, dict[str, Any]]]:
    return {name: {account: dict(regions) for account, regions in get_backend(name).items()} for name in SERVICES}  # type: ignore[call-overload]


def _bucket_accounts() -> dict[str, tuple[str, str]]:
    """moto's S3 keeps a global index of bucket names beside the backends (who owns which name)."""
    return dict(s3_backends.bucket_accounts)


class Snapshots:
    def __init__(self, directory: Path, interval: float = 1.0) -> None:
        self.path = directory / FILE_NAME
        self.interval = interval
        self.gate = Gate()
        self.dirty = False
        self.saved = 0
        self.last_seconds = 0.0  # how long the last snapshot took
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="moto-snapshots", daemon=True)
        directory.mkdir(parents=True, exist_ok=True)

    def load(self) -> bool:
        """Put the saved backends in place of moto's (empty) ones; False when there is no snapshot."""
        if not self.path.exists():
            return False
        with self.path.open("rb") as file:
            saved = pickle.load(file)  # noqa: S301  # our own file, written by save() below
        if saved.get("moto") != moto.__version__:
            raise SystemExit(f"{self.path} was written by moto {saved.get('moto')}, this is {moto.__version__}: "
                             "`make reset` wipes the local data")  # fmt: skip
        for name, accounts in saved["state"].items():
            backends = get_backend(name)
            for account, regions in accounts.items():
                for region, backend in regions.items():
                    backends[account][region] = backend
        s3_backends.bucket_accounts.update(saved["s3_bucket_accounts"])  # (filled by FakeBucket.__init__)
        return True

    def save(self) -> None:
        temporary = self.path.with_suffix(".tmp")
        started = time.perf_counter()
        with self.gate.closed():
            self.dirty = False
            with temporary.open("wb") as file:
                _Pickler(file, protocol=pickle.HIGHEST_PROTOCOL).dump(
                    {"moto": moto.__version__, "state": _state(), "s3_bucket_accounts": _bucket_accounts()}
                )
                file.flush()
                os.fsync(file.fileno())
        os.replace(temporary, self.path)
        self.saved += 1
        self.last_seconds = time.perf_counter() - started

    def start(self) -> Snapshots:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the saver and write the last snapshot."""
        self._stop.set()
        self._thread.join(timeout=30)
        self.save()

    def _run(self) -> None:
        while not self._stop.wait(max(self.interval, 4 * self.last_seconds)):
            if not self.dirty:
                continue
            try:
                self.save()
            except (RuntimeError, pickle.PicklingError):  # a long poll changed a queue while it was pickled
                self.dirty = True
                log.warning("moto snapshot failed; retrying", exc_info=True)
                continue
