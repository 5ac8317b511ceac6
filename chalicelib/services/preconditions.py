"""Optimistic concurrency over HTTP: the client's `If-Match` reaches a service as the versions it accepts."""

from __future__ import annotations

from chalicelib.domain.errors import PreconditionFailed

Expected = frozenset[int] | None  # None: no precondition (last writer wins, unless REQUIRE_IF_MATCH says no)


def check_version(current_version: int, expected: Expected) -> None:
    """The write goes ahead only on a version the client read. The write itself is conditioned on the version
    read here, so a change that races it between this check and the write is still refused (409
    concurrent_modification)."""
    if expected is not None and current_version not in expected:
        raise PreconditionFailed(
            f"The item has changed since you read it (it is at version {current_version} now); read it again, "
            "then apply your change."
        )
