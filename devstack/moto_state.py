"""moto's state on disk, for the local stack: a snapshot of its DynamoDB, S3 and SQS backends.

moto keeps everything in Python objects and offers no persistence of its own (its recorder replays every
request ever made, reads and receives included, so a restart would grow with the history and consume queued
messages again). This module pickles the backends themselves, as LocalStack does with moto's: tables with their
items, indexes and stream records (sequence numbers included), buckets with their objects, queues with the
messages not yet deleted (in flight ones come back after their visibility timeout).

- `Gate`: requests pass it side by side; a snapshot closes it, waits for the requests inside, forks, reopens.
  SQS long polls and stream reads do not pass it (they would hold a snapshot up for seconds).
- `Snapshots.save` forks (as Redis's BGSAVE): the child pickles its copy-on-write image of the backends and writes
  `moto-state.pickle` next to a temporary file and renames it (atomic), while the parent serves again at once
  (requests are held only for the fork, milliseconds; pickling in the server held every request for as long as
  the pickle took, 0.3-1 s with the registrations benchmark's data, and the lag benchmark fell minutes behind). A
  kill -9 during a write leaves the previous snapshot (the child dies with its parent). The saver thread writes
  one at most every `interval` seconds when a request changed something, and the server writes a last one when
  it stops (SIGTERM, SIGINT). The interval stretches to 4 times the last snapshot's duration (the child's pickling
  takes a core): after a kill -9 at most max(interval, 4 x a snapshot's time) plus the write in progress is lost
  (`bench.restart` prints the snapshot time; about 0.5 s with 10,000 accounts here).
- Locks and conditions inside the backends are not pickled: fresh ones are made on load.
The pickle is moto's internal objects: a snapshot is only read back by the same moto version (checked).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import pickle
import signal
import threading
import time
import traceback
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import moto
from moto.backends import get_backend
from moto.s3.models import s3_backends

log = logging.getLogger(__name__)
SERVICES = ("dynamodb", "s3", "sqs")
FILE_NAME = "moto-state.pickle"
TEMPORARY_SUFFIX = ".tmp"  # moto-state.pickle.<pid>.tmp: a snapshot being written (left by a kill -9)
_PR_SET_PDEATHSIG = 1  # prctl(2)
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


def _fork() -> int:
    """os.fork() in this threaded process: safe here because the gate holds every request that touches the
    backends outside, and the child only pickles and writes (no lock another thread may hold is taken)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # "This process is multi-threaded, use of fork() ..."
        return os.fork()


def _die_with(parent: int) -> None:
    """The child ends when its parent does (a kill -9 of the server leaves the previous snapshot, and an orphan can
    never rename an old state over a restarted server's newer one)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the request above
        os._exit(1)


def _write_and_exit(path: Path, parent: int, saved: dict[str, Any]) -> NoReturn:
    """In the forked child: `saved` to `path` (a temporary file, fsync, rename), then _exit (no atexit, no
    flushing of the parent's buffers, no thread joins). Ctrl-C's SIGINT to the group does not cut it short (the
    parent waits for it before its last snapshot), SIGTERM ends it (the parent's handler would not)."""
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _die_with(parent)
        temporary = path.with_name(f"{path.name}.{os.getpid()}{TEMPORARY_SUFFIX}")
        with temporary.open("wb") as file:
            _Pickler(file, protocol=pickle.HIGHEST_PROTOCOL).dump(saved)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
        code = 0
    except BaseException:
        traceback.print_exc()  # the parent logs that the snapshot failed and tries again
    finally:
        os._exit(code)


class Snapshots:
    def __init__(self, directory: Path, interval: float = 1.0) -> None:
        self.path = directory / FILE_NAME
        self.interval = interval
        self.gate = Gate()
        self.dirty = False
        self.saved = 0
        self.last_seconds = 0.0  # how long the last snapshot took (fork to rename)
        self.gate_seconds = 0.0  # how long the last one held requests back (the gate closed, the fork)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="moto-snapshots", daemon=True)
        directory.mkdir(parents=True, exist_ok=True)
        for left in directory.glob(f"{FILE_NAME}.*{TEMPORARY_SUFFIX}"):  # writes a kill -9 cut short
            left.unlink(missing_ok=True)

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
        """One snapshot: the gate closes only while the requests inside finish and the process forks; the child
        pickles its copy-on-write image of the backends and writes it while the parent serves again (as Redis's
        BGSAVE). Raises RuntimeError when the child failed (the previous snapshot stays)."""
        started = time.perf_counter()
        with self.gate.closed():
            self.dirty = False
            # (the backends' dicts are read here: a lock another thread holds at the fork stays held in the child)
            saved = {"moto": moto.__version__, "state": _state(), "s3_bucket_accounts": _bucket_accounts()}
            parent = os.getpid()
            child = _fork()
            if child == 0:
                _write_and_exit(self.path, parent, saved)
            self.gate_seconds = time.perf_counter() - started
        _, status = os.waitpid(child, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            self.dirty = True
            raise RuntimeError(f"the snapshot process ended with {os.waitstatus_to_exitcode(status)}")
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
            except (RuntimeError, OSError):  # the fork or the child failed (its traceback is on stderr)
                self.dirty = True
                log.warning("moto snapshot failed; retrying", exc_info=True)
                continue
