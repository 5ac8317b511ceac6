"""The search index port and what flows through it (kept apart from the use cases to avoid an import cycle
with the context)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from chalicelib.domain.errors import Unavailable
from chalicelib.domain.model import Page
from chalicelib.domain.search import Query


@dataclass(frozen=True)
class SearchDocument:
    """What the index keeps of an account: the searchable fields and the account list's columns."""

    id: str
    group_id: str
    version: int
    username: str
    full_name: str
    phone_number: str
    secondary_phone_number: str | None
    email: str
    description: str
    account_type: str
    enabled: bool
    status: str
    status_changed_at: str
    sms_problem: str = ""

    def field_text(self, field: str) -> str:
        if field == "owner":
            return self.full_name
        if field == "callerid":
            numbers = [n for n in (self.phone_number, self.secondary_phone_number) if n]
            # with and without "+": Lucene syntax reads +39... as "required 39...", see domain/search.py
            return " ".join(numbers + [n[1:] for n in numbers if n.startswith("+")])
        return str(getattr(self, field))


@dataclass(frozen=True)
class IndexChange:
    """One account's new state (document) or its deletion (document None), at a version. Older versions than
    the index already holds are ignored, so redelivered or reordered stream records are harmless; a deletion
    leaves a tombstone so that a late update cannot bring the account back."""

    account_id: str
    version: int
    document: SearchDocument | None


class SearchUnavailable(Unavailable):
    code = "search_unavailable"
    title = "Search unavailable"
    default_retry_after = 30


class SearchIndex(Protocol):
    def apply(self, changes: Sequence[IndexChange]) -> None:
        """Apply changes in order; raises SearchUnavailable if the engine cannot be reached."""

    def search(self, group_id: str, query: Query | None, limit: int, cursor: str | None) -> Page[SearchDocument]:
        """Live documents of the group matching the query (all when None), by username. Raises ValueError on a
        malformed cursor and SearchUnavailable when the engine cannot be reached."""

    def clear(self) -> None: ...
