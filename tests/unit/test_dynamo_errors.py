"""How the storage adapters turn vendor failures into domain errors (no PynamoDB or botocore error escapes)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from pynamodb.exceptions import CancellationReason, TransactWriteError

from chalicelib import bootstrap
from chalicelib.adapters import dynamo
from chalicelib.adapters.s3_files import S3Files
from chalicelib.api.http import problem_for
from chalicelib.domain.errors import ConcurrentModification, Conflict, StorageBusy, StorageUnavailable
from chalicelib.domain.model import Group, utcnow
from chalicelib.settings import Settings


class Cancelled(TransactWriteError):
    def __init__(self, codes: list[str | None]) -> None:
        super().__init__("Transaction cancelled")
        self._codes = codes

    @property
    def cancellation_reasons(self) -> list[CancellationReason | None]:
        return [CancellationReason(code) if code else None for code in self._codes]

    @property
    def cause_response_code(self) -> str:
        return "TransactionCanceledException"


class FailingTransaction:
    codes: list[str | None] = []

    def __init__(self, **_: Any) -> None:
        pass

    def __enter__(self) -> FailingTransaction:
        return self

    def __exit__(self, *exc: object) -> None:
        raise Cancelled(self.codes)

    def save(self, *args: Any, **kwargs: Any) -> None:
        pass


@pytest.fixture
def failing(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[FailingTransaction]]:
    monkeypatch.setattr(dynamo, "TransactWrite", FailingTransaction)
    yield FailingTransaction


def tx_with(on_fail: Conflict) -> dynamo._Tx:
    tx = dynamo._Tx(SimpleNamespace(connection=None))  # type: ignore[arg-type]
    tx.put(object(), None, on_fail)  # type: ignore[arg-type]
    return tx


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        (["ConditionalCheckFailed"], Conflict),
        (["TransactionConflict"], ConcurrentModification),
        (["ThrottlingError"], StorageBusy),
    ],
)
def test_cancellation_reasons_become_domain_errors(
    failing: type[FailingTransaction], codes: list[str | None], expected: type[Exception]
) -> None:
    failing.codes = codes
    with pytest.raises(expected):
        tx_with(Conflict("taken", field="username", code="duplicate")).commit()


def test_a_busy_database_is_a_503_with_retry_after() -> None:
    response = problem_for(StorageBusy("The database is busy; try again in a moment.", retry_after=2))
    assert response.status_code == 503 and response.headers["Retry-After"] == "2"


def test_a_busy_transaction_and_an_unknown_failure_are_both_unavailability(failing: type[FailingTransaction]) -> None:
    failing.codes = [None]
    with pytest.raises(StorageUnavailable) as caught:
        tx_with(Conflict("taken", field="username", code="duplicate")).commit()
    assert caught.value.status == 503 and caught.value.retry_after


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_database_is_a_503_for_reads_and_plain_writes() -> None:
    settings = Settings(storage="dynamodb", dynamodb_endpoint=f"http://127.0.0.1:{_closed_port()}",
                        table_prefix="gone", imports_bucket="b", import_queue_url="http://127.0.0.1:1/q")  # fmt: skip
    ctx = bootstrap.build(settings)
    now = utcnow()
    with pytest.raises(StorageUnavailable):
        ctx.groups.get("g")
    with pytest.raises(StorageUnavailable):
        ctx.licences.release_lease("a")  # a non-transactional write
    with pytest.raises(StorageUnavailable):
        ctx.groups.add(Group("g", "G", "it@example.com", "p", True, 0, now, now))
    response = problem_for(StorageUnavailable("The database cannot be reached; try again in a moment."))
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"


def test_an_unreachable_file_store_is_a_503() -> None:
    files = S3Files("bucket", "eu-west-1", f"http://127.0.0.1:{_closed_port()}")
    with pytest.raises(StorageUnavailable):
        files.info("k")
    with pytest.raises(StorageUnavailable):
        b"".join(files.read("k"))
    with pytest.raises(StorageUnavailable):
        files.write("k", [b"x"])
