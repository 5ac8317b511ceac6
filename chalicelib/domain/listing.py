"""Lists the console shows from a bounded set (registered accounts, imports, outbox, operators): one column to
sort by and its direction, filters with their allowed values, and a page of a chosen size with the total.

The account list orders and narrows in the search index (services/search.py `Listing`); these lists are read
whole from their store (each is bounded: one group's registrations, the last weeks' imports and messages, the
operators) and ordered here, so every one of them answers the same query parameters: `sort`, `dir`, its
filters, and an offset cursor (the console keeps the way back in the URL).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from chalicelib.domain.errors import FieldError, InvalidCursor, ValidationFailed
from chalicelib.domain.model import Page

T = TypeVar("T")
ANY = ()  # a filter whose value is free (compared as given), not a choice


@dataclass(frozen=True)
class Filter(Generic[T]):
    allowed: tuple[str, ...]  # the values it takes (ANY: free text)
    test: Callable[[T, str], bool]


@dataclass(frozen=True)
class Table(Generic[T]):
    """How one list sorts (column name -> sort key) and filters (name -> Filter)."""

    sorts: Mapping[str, Callable[[T], Any]]
    filters: Mapping[str, Filter[T]]
    default_sort: str
    default_dir: str = "asc"

    def names(self) -> tuple[str, ...]:
        """The query parameters the list takes (beside `size`, `cursor` and the console's `trail`)."""
        return ("sort", "dir", *self.filters)

    def page(self, items: Iterable[T], params: Mapping[str, str], size: int, cursor: str | None) -> Page[T]:
        """The page of `size` items at `cursor` (an offset handed out as next_cursor) of the filtered, sorted
        items, with their total. Every refused parameter at once (ValidationFailed); a foreign cursor:
        InvalidCursor."""
        errors: list[FieldError] = []

        def choice(name: str, allowed: Iterable[str]) -> str:
            value = params.get(name, "")
            if value and value not in allowed:
                message = f"'{name}' must be one of: {', '.join(allowed)}."
                errors.append(FieldError(name, "invalid_choice", message))
                return ""
            return value

        sort = choice("sort", self.sorts) or self.default_sort
        descending = (choice("dir", ("asc", "desc")) or self.default_dir) == "desc"
        wanted = {}
        for name, rule in self.filters.items():
            value = choice(name, rule.allowed) if rule.allowed else params.get(name, "")
            if value:
                wanted[name] = value
        if errors:
            raise ValidationFailed(errors)
        if cursor is not None and not cursor.isdigit():
            raise InvalidCursor()
        offset = int(cursor or 0)
        kept = [item for item in items if all(self.filters[n].test(item, v) for n, v in wanted.items())]
        kept.sort(key=self.sorts[sort], reverse=descending)
        more = len(kept) > offset + size
        return Page(kept[offset : offset + size], str(offset + size) if more else None, total=len(kept))


def yes_no(value: bool, wanted: str) -> bool:
    """A yes/no filter's test."""
    return value == (wanted == "yes")


YES_NO = ("yes", "no")
# The newest items a list read whole from its store orders and filters (Imports, Outbox: decision 81)
RECENT_WINDOW = 500
