"""The search index port and what flows through it (kept apart from the use cases to avoid an import cycle
with the context)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from chalicelib.domain.analysis import FieldTokens, analyze, domain_matching, lengths_matching, prefix_matching
from chalicelib.domain.errors import Unavailable
from chalicelib.domain.model import Page
from chalicelib.domain.search import FIELDS, Query, Wildcard


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
            # the analysis drops the "+", so +39…, 39… and "+39…" all find the number (domain/search.py)
            return " ".join(n for n in (self.phone_number, self.secondary_phone_number) if n)
        return str(getattr(self, field))

    def analysed(self) -> dict[str, FieldTokens]:
        return {field: analyze(self.field_text(field)) for field in FIELDS}


def whole_field(field: str) -> str:
    """The engines' field that holds a searchable field's whole pieces (domain/analysis.py)."""
    return f"{field}_whole"


def lengths_field(field: str) -> str:
    """The engines' field that holds the lengths of a searchable field's words (for `*`, `????`, `??*`)."""
    return f"{field}_lengths"


def prefixes_field(field: str) -> str:
    """The engines' field that holds the beginnings of a searchable field's words (for `Marco*`)."""
    return f"{field}_prefixes"


@dataclass(frozen=True)
class WildcardLookup:
    """How an engine answers a wildcard on a field: any of `terms` in `field`, or (terms None) the glob matched
    against every term of `field`, which costs a read of the field's term dictionary."""

    field: str
    terms: tuple[str, ...] | None
    glob: str


def wildcard_lookup(field: str, query: Wildcard) -> WildcardLookup:
    lengths = lengths_matching(query.glob)
    if lengths is not None:  # wildcards only (`*`, `????`): a few word-length terms
        return WildcardLookup(lengths_field(field), tuple(lengths), query.glob)
    domain = domain_matching(query.glob) if query.whole else None
    if domain is not None:  # `*@example.net`: one term of the e-mail domains
        return WildcardLookup(domains_field(field), (domain,), query.glob)
    prefix = None if query.whole else prefix_matching(query.glob)
    if prefix is not None:  # `marco*`: one term of the words' beginnings
        return WildcardLookup(prefixes_field(field), (prefix,), query.glob)
    return WildcardLookup(whole_field(field) if query.whole else field, None, query.glob)


def domains_field(field: str) -> str:
    """The engines' field that holds the e-mail domains of a searchable field's whole pieces (`@example.net`)."""
    return f"{field}_domains"


def engine_fields(document: SearchDocument) -> dict[str, str]:
    """What tantivy and OpenSearch index for a document: each field's words, its whole pieces, its word lengths,
    its words' beginnings and its e-mail domains, as tokens joined by single spaces (the engines only split at
    white space, so they hold exactly our tokens)."""
    out: dict[str, str] = {}
    for field, found in document.analysed().items():
        out[field] = " ".join(found.words)
        out[whole_field(field)] = " ".join(found.whole)
        out[lengths_field(field)] = " ".join(found.lengths())
        out[prefixes_field(field)] = " ".join(found.prefixes())
        out[domains_field(field)] = " ".join(found.domains())
    return out


# the account list's sortable columns: the document's value that orders them
SORTS: dict[str, Callable[[SearchDocument], str]] = {
    "username": lambda d: d.username.lower(),
    "full_name": lambda d: d.full_name.lower(),
    "phone_number": lambda d: d.phone_number,
    "secondary_phone_number": lambda d: d.secondary_phone_number or "",
    "status": lambda d: d.status,
    "status_changed_at": lambda d: d.status_changed_at,
    "account_type": lambda d: d.account_type,
}


@dataclass(frozen=True)
class Listing:
    """How the account list is ordered and narrowed (beside a search): a sortable column, its direction, and
    filters on status, enabled, account type and SMS problem (None / empty: any)."""

    sort: str = "username"
    descending: bool = False
    status: str = ""
    enabled: bool | None = None
    account_type: str = ""
    sms_problem: bool | None = None

    def terms(self) -> dict[str, str]:
        """The filters as terms of the engines' filter fields (see `filter_terms`)."""
        wanted = {"f_status": self.status, "f_type": self.account_type}
        if self.enabled is not None:
            wanted["f_enabled"] = "1" if self.enabled else "0"
        if self.sms_problem is not None:
            wanted["f_sms"] = "1" if self.sms_problem else "0"
        return {k: v for k, v in wanted.items() if v}


FILTER_FIELDS = ("f_status", "f_type", "f_enabled", "f_sms")


BY_USERNAME = Listing()


def filter_terms(document: SearchDocument) -> dict[str, str]:
    return {
        "f_status": document.status,
        "f_type": document.account_type,
        "f_enabled": "1" if document.enabled else "0",
        "f_sms": "1" if document.sms_problem else "0",
    }


def sort_field(sort: str) -> str:
    return "sort_key" if sort == "username" else f"s_{sort}"


def sort_values(document: SearchDocument) -> dict[str, str]:
    """Each sortable column's value for the engines' sort fields: the column, then the username and id, so
    that every order is total (pages never repeat or skip an account); username is the `sort_key`."""
    tail = f"\x00{document.username.lower()}\x00{document.id}"
    return {sort_field(name): str(value(document)) + tail for name, value in SORTS.items() if name != "username"}


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

    def search(
        self, group_id: str, query: Query | None, limit: int, cursor: str | None, listing: Listing = BY_USERNAME
    ) -> Page[SearchDocument]:
        """Live documents of the group matching the query (all when None) and the listing's filters, in its
        order (by username by default), with their total. Raises ValueError on a malformed cursor and
        SearchUnavailable when the engine cannot be reached."""

    def rebuild(self, batches: Callable[[], Iterable[Sequence[IndexChange]]]) -> None:
        """Replace the index with the documents of `batches()` (the whole table, batch by batch), serving the
        old index until the new one is complete. `batches` may be called more than once (a catch-up pass)."""

    def clear(self) -> None: ...
