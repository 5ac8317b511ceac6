"""How the DynamoDB adapter turns transaction failures into domain errors (no PynamoDB error escapes)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pynamodb.exceptions import CancellationReason, TransactWriteError

from chalicelib.adapters import dynamo
from chalicelib.api.http import problem_for
from chalicelib.domain.errors import ConcurrentModification, Conflict, StorageBusy


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
    tx = dynamo._Tx(connection=None)  # type: ignore[arg-type]
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
