"""Each domain error answers with the status its class declares; dependency outages are 503 + Retry-After."""

from __future__ import annotations

import json

import pytest

from chalicelib.api.http import problem_for
from chalicelib.domain.errors import (
    Conflict,
    DomainError,
    LicenceUnavailable,
    NotFound,
    ProviderError,
    QueueUnavailable,
    RateLimited,
    StorageBusy,
    StorageUnavailable,
    UpstreamUnavailable,
    ValidationFailed,
)
from chalicelib.domain.search import InvalidQuery
from chalicelib.services.search_port import SearchUnavailable

OUTAGES: list[DomainError] = [
    QueueUnavailable("The SMS queue cannot be reached."),
    UpstreamUnavailable("the licence server cannot be reached"),
    ProviderError("Twilio could not be reached", retryable=True),
    StorageBusy("busy", retry_after=2),
    StorageUnavailable("gone"),
    SearchUnavailable("down"),
    LicenceUnavailable("no licence", 60),
]


@pytest.mark.parametrize("error", OUTAGES, ids=lambda e: type(e).__name__)
def test_a_dependency_outage_is_a_503_with_retry_after(error: DomainError) -> None:
    response = problem_for(error)
    body = json.loads(response.body)
    assert (response.status_code, body["status"], body["code"]) == (503, 503, error.code)
    assert int(response.headers["Retry-After"]) >= 1
    assert response.headers["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (ValidationFailed([]), 422),
        (NotFound("x"), 404),
        (Conflict("x"), 409),
        (RateLimited("x", retry_after=30), 429),
        (InvalidQuery("x"), 400),
        (DomainError("x"), 400),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else str(v),
)
def test_client_errors_keep_their_statuses(error: DomainError, status: int) -> None:
    assert problem_for(error).status_code == status == error.status
