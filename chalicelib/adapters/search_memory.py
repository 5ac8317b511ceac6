"""The in-memory search index: the reference implementation of the query semantics, in plain Python."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from chalicelib.adapters.cursor import decode_cursor, encode_cursor
from chalicelib.domain.analysis import FieldTokens
from chalicelib.domain.model import Page
from chalicelib.domain.search import FIELDS, And, Not, Or, Phrase, Query, Term, Wildcard, glob_to_regex
from chalicelib.services.search_port import (
    BY_USERNAME,
    IndexChange,
    Listing,
    SearchDocument,
    filter_terms,
    sort_field,
    sort_values,
)


@dataclass(frozen=True)
class Stored:
    version: int
    document: SearchDocument | None  # None: a tombstone


def accepts(current: Stored | None, change: IndexChange) -> bool:
    """The versioning rule every adapter follows: newer wins; a deletion at the same version as the live
    document wins (the stream's REMOVE carries the deleted item's version)."""
    if current is None or change.version > current.version:
        return True
    return change.version == current.version and change.document is None and current.document is not None


def sort_key(document: SearchDocument) -> str:
    return f"{document.username.lower()}\x00{document.id}"


def listed_key(document: SearchDocument, sort: str) -> str:
    """The value a document is ordered by in the listing's sort (the engines' sort field)."""
    return sort_key(document) if sort == "username" else sort_values(document)[sort_field(sort)]


class MemorySearchIndex:
    def __init__(self) -> None:
        self._docs: dict[str, Stored] = {}
        self._tokens: dict[str, dict[str, FieldTokens]] = {}  # the analysis of each live document
        self._lock = threading.Lock()

    def apply(self, changes: Sequence[IndexChange]) -> None:
        with self._lock:
            _apply(self._docs, self._tokens, changes)

    def rebuild(self, batches: Callable[[], Iterable[Sequence[IndexChange]]]) -> None:
        docs: dict[str, Stored] = {}
        analysed: dict[str, dict[str, FieldTokens]] = {}
        for batch in batches():
            _apply(docs, analysed, batch)
        with self._lock:
            self._docs, self._tokens = docs, analysed

    def search(
        self, group_id: str, query: Query | None, limit: int, cursor: str | None, listing: Listing = BY_USERNAME
    ) -> Page[SearchDocument]:
        offset = offset_of(cursor)
        with self._lock:
            live = [
                (s.document, self._tokens[s.document.id])
                for s in self._docs.values()
                if s.document and s.document.group_id == group_id
            ]
        wanted = listing.terms().items()
        found = [
            d
            for d, t in live
            if (query is None or matches(t, query)) and all(filter_terms(d)[k] == v for k, v in wanted)
        ]
        hits = sorted(found, key=lambda d: listed_key(d, listing.sort), reverse=listing.descending)
        chunk = hits[offset : offset + limit]
        more = len(hits) > offset + limit
        return Page(chunk, encode_cursor(offset + limit) if more else None, len(hits))

    def clear(self) -> None:
        with self._lock:
            self._docs.clear()
            self._tokens.clear()


Analysed = dict[str, dict[str, FieldTokens]]  # account id → field → tokens


def _apply(docs: dict[str, Stored], analysed: Analysed, changes: Iterable[IndexChange]) -> None:
    for change in changes:
        if accepts(docs.get(change.account_id), change):
            docs[change.account_id] = Stored(change.version, change.document)
            if change.document is None:
                analysed.pop(change.account_id, None)
            else:
                analysed[change.account_id] = change.document.analysed()


def offset_of(cursor: str | None) -> int:
    if not cursor:
        return 0
    value = decode_cursor(cursor)
    if not isinstance(value, int) or value < 0:
        raise ValueError("malformed cursor")
    return value


def matches(analysed: dict[str, FieldTokens], query: Query) -> bool:
    """The reference semantics of our query form over a document's analysed fields."""
    if isinstance(query, And):
        return all(matches(analysed, item) for item in query.items)
    if isinstance(query, Or):
        return any(matches(analysed, item) for item in query.items)
    if isinstance(query, Not):
        return not matches(analysed, query.item)
    fields = FIELDS if query.field is None else (query.field,)
    return any(_leaf(analysed[f], query) for f in fields)


def _leaf(found: FieldTokens, query: Term | Wildcard | Phrase) -> bool:
    if isinstance(query, Term):
        return query.text in found.words
    if isinstance(query, Wildcard):
        pattern = _pattern(query.glob)
        return any(pattern.fullmatch(token) for token in (found.whole if query.whole else found.words))
    size = len(query.words)
    return any(found.words[i : i + size] == query.words for i in range(len(found.words) - size + 1))


@lru_cache(maxsize=256)
def _pattern(glob: str) -> re.Pattern[str]:
    return re.compile(glob_to_regex(glob), re.DOTALL)
