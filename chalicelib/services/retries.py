"""Creations that are safe to retry.

A write whose answer was lost (a timeout after the database applied it, botocore's own retry, a client resending
with the same Idempotency-Key, whose ids are derived from the key) is refused the second time because its item is
there already. The creation then looks for the item it was creating: found, the request succeeded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from chalicelib.domain.errors import Conflict


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


T = TypeVar("T", bound=_HasId)


def add_once(add: Callable[[T], None], get: Callable[[str], T | None], item: T) -> T:
    """`add(item)`; when refused as a conflict, the stored item of the same id if there is one (our own write)."""
    try:
        add(item)
    except Conflict:
        landed = get(item.id)
        if landed is None:
            raise
        return landed
    return item
