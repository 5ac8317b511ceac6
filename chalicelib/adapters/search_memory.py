"""The in-memory search index: the reference implementation of the query semantics, in plain Python."""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from chalicelib.adapters.cursor import decode_cursor, encode_cursor
from chalicelib.domain.model import Page
from chalicelib.domain.search import FIELDS, And, Not, Or, Phrase, Query, Term, Wildcard, glob_to_regex, tokens
from chalicelib.services.search_port import IndexChange, SearchDocument


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


class MemorySearchIndex:
    def __init__(self) -> None:
        self._docs: dict[str, Stored] = {}
        self._lock = threading.Lock()

    def apply(self, changes: Sequence[IndexChange]) -> None:
        with self._lock:
            for change in changes:
                if accepts(self._docs.get(change.account_id), change):
                    self._docs[change.account_id] = Stored(change.version, change.document)

    def search(self, group_id: str, query: Query | None, limit: int, cursor: str | None) -> Page[SearchDocument]:
        offset = offset_of(cursor)
        with self._lock:
            live = [s.document for s in self._docs.values() if s.document and s.document.group_id == group_id]
        hits = sorted((d for d in live if query is None or matches(d, query)), key=sort_key)
        chunk = hits[offset : offset + limit]
        more = len(hits) > offset + limit
        return Page(chunk, encode_cursor(offset + limit) if more else None)

    def clear(self) -> None:
        with self._lock:
            self._docs.clear()


def offset_of(cursor: str | None) -> int:
    if not cursor:
        return 0
    value = decode_cursor(cursor)
    if not isinstance(value, int) or value < 0:
        raise ValueError("malformed cursor")
    return value


def matches(document: SearchDocument, query: Query) -> bool:
    if isinstance(query, And):
        return all(matches(document, item) for item in query.items)
    if isinstance(query, Or):
        return any(matches(document, item) for item in query.items)
    if isinstance(query, Not):
        return not matches(document, query.item)
    fields = FIELDS if query.field is None else (query.field,)
    return any(_leaf(tokens(document.field_text(f)), query) for f in fields)


def _leaf(words: list[str], query: Term | Wildcard | Phrase) -> bool:
    if isinstance(query, Term):
        return query.text in words
    if isinstance(query, Wildcard):
        pattern = re.compile(glob_to_regex(query.glob), re.DOTALL)
        return any(pattern.fullmatch(word) for word in words)
    size = len(query.words)
    return any(tuple(words[i : i + size]) == query.words for i in range(len(words) - size + 1))
