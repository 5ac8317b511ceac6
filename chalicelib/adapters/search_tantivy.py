"""The embedded search engine: tantivy, with our query form translated into tantivy query objects.

tantivy's own query parser knows no wildcards, so we never give it text: every query is built from
term, regex, phrase and boolean queries. Each searchable field is indexed as the tokens of our analysis
(domain/analysis.py) joined by spaces, split by tantivy's white-space tokenizer and nothing else, so tantivy
holds exactly the tokens the in-memory reference compares; `<field>_whole` holds the field's whole pieces.
Wildcards become anchored regular expressions over the terms of the field. An engine error on a query (e.g.
a regex tantivy finds too large) is an InvalidQuery, never a cursor error.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict

import tantivy

from chalicelib.adapters.cursor import encode_cursor
from chalicelib.adapters.search_memory import Stored, accepts, offset_of, sort_key
from chalicelib.domain.model import Page
from chalicelib.domain.search import FIELDS, And, InvalidQuery, Not, Or, Phrase, Query, Term, Wildcard, glob_to_regex
from chalicelib.services.search_port import (
    BY_USERNAME,
    FILTER_FIELDS,
    SORTS,
    IndexChange,
    Listing,
    SearchDocument,
    domains_field,
    engine_fields,
    filter_terms,
    lengths_field,
    prefixes_field,
    sort_field,
    sort_values,
    whole_field,
    wildcard_lookup,
)

TOKENIZER = "analysed"  # our tokens, split at the spaces that join them
SCHEMA_VERSION = "2"  # kept beside a persistent index; bump it when `_schema` changes (2: sort and filter fields)
SCHEMA_FILE = "schema-version"
TOO_COMPLEX = "The search engine cannot run this search; use fewer wildcards."
logger = logging.getLogger(__name__)
_REGEX_META = set("\\.+*?()|[]{}^$#&-~")


def _regex_escape(char: str) -> str:
    return "\\" + char if char in _REGEX_META else char


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    builder.add_text_field("group_id", tokenizer_name="raw")
    builder.add_text_field("live", tokenizer_name="raw")
    builder.add_text_field("sort_key", fast=True, tokenizer_name="raw")
    for name in SORTS:
        if name != "username":
            builder.add_text_field(sort_field(name), fast=True, tokenizer_name="raw")
    for name in FILTER_FIELDS:
        builder.add_text_field(name, tokenizer_name="raw")
    builder.add_integer_field("version", stored=True)
    builder.add_bytes_field("payload", stored=True, indexed=False)
    for field in FIELDS:
        builder.add_text_field(field, tokenizer_name=TOKENIZER, index_option="position")
        builder.add_text_field(whole_field(field), tokenizer_name=TOKENIZER, index_option="basic")
        builder.add_text_field(lengths_field(field), tokenizer_name=TOKENIZER, index_option="basic")
        builder.add_text_field(prefixes_field(field), tokenizer_name=TOKENIZER, index_option="basic")
        builder.add_text_field(domains_field(field), tokenizer_name=TOKENIZER, index_option="basic")
    return builder.build()


def _open(schema: tantivy.Schema, path: str | None) -> tantivy.Index:
    try:
        return tantivy.Index(schema, path=path, reuse=True)
    except ValueError:
        if path is None:
            raise
        # an index of an older schema (the analysis changed): it only holds derived data, start afresh
        logger.warning("search index at %s has an older schema: recreated empty, run rebuild-search", path)
        shutil.rmtree(path)
        return tantivy.Index(schema, path=path, reuse=True)


def schema_matches(path: str) -> bool:
    """Whether the persistent index at `path` was built with this schema (else it starts afresh when opened)."""
    try:
        with open(os.path.join(path, SCHEMA_FILE), encoding="utf-8") as file:
            return file.read().strip() == SCHEMA_VERSION
    except OSError:
        return False


class TantivySearchIndex:
    def __init__(self, path: str | None = None, heap_bytes: int = 64_000_000) -> None:
        self.schema = _schema()
        if path is not None:
            if os.path.isdir(path) and os.listdir(path) and not schema_matches(path):
                logger.warning("search index at %s has an older schema: recreated empty, run rebuild-search", path)
                shutil.rmtree(path)
            os.makedirs(path, exist_ok=True)
            with open(os.path.join(path, SCHEMA_FILE), "w", encoding="utf-8") as file:
                file.write(SCHEMA_VERSION)
        self.index = _open(self.schema, path)
        self.index.register_tokenizer(TOKENIZER, tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build())
        self._writer = self.index.writer(heap_size=heap_bytes, num_threads=1)
        self._lock = threading.Lock()

    # --- writes ---------------------------------------------------------------------------------------------

    def apply(self, changes: Sequence[IndexChange]) -> None:
        with self._lock:
            self.index.reload()
            searcher = self.index.searcher()
            pending: dict[str, Stored] = {}
            for change in changes:
                current = pending.get(change.account_id) or self._stored(searcher, change.account_id)
                if not accepts(current, change):
                    continue
                self._writer.delete_documents_by_term("id", change.account_id)
                self._writer.add_document(self._document(change))
                pending[change.account_id] = Stored(change.version, change.document)
            if pending:
                self._writer.commit()
                self.index.reload()

    def rebuild(self, batches: Callable[[], Iterable[Sequence[IndexChange]]]) -> None:
        """Replace the whole index in one commit: searches see the old index until the new one is complete."""
        with self._lock:
            self._writer.delete_all_documents()
            latest: dict[str, IndexChange] = {}
            for batch in batches():
                for change in batch:
                    held = latest.get(change.account_id)
                    if accepts(None if held is None else Stored(held.version, held.document), change):
                        latest[change.account_id] = change
            for change in latest.values():
                self._writer.add_document(self._document(change))
            self._writer.commit()
            self.index.reload()

    def _stored(self, searcher: tantivy.Searcher, account_id: str) -> Stored | None:
        query = tantivy.Query.term_query(self.schema, "id", account_id)
        hits = searcher.search(query, limit=1).hits
        if not hits:
            return None
        doc = searcher.doc(hits[0][1])
        payload = doc.get_first("payload")
        document = SearchDocument(**json.loads(payload)) if payload else None
        return Stored(int(doc.get_first("version") or 0), document)

    def _document(self, change: IndexChange) -> tantivy.Document:
        doc = tantivy.Document()
        doc.add_text("id", change.account_id)
        doc.add_integer("version", change.version)
        document = change.document
        if document is None:
            doc.add_text("live", "0")
            return doc
        doc.add_text("live", "1")
        doc.add_text("group_id", document.group_id)
        doc.add_text("sort_key", sort_key(document))
        for name, value in (sort_values(document) | filter_terms(document)).items():
            doc.add_text(name, value)
        doc.add_bytes("payload", json.dumps(asdict(document)).encode())
        for field, text in engine_fields(document).items():
            doc.add_text(field, text)
        return doc

    def clear(self) -> None:
        with self._lock:
            self._writer.delete_all_documents()
            self._writer.commit()
            self.index.reload()

    # --- reads ----------------------------------------------------------------------------------------------

    def search(
        self, group_id: str, query: Query | None, limit: int, cursor: str | None, listing: Listing = BY_USERNAME
    ) -> Page[SearchDocument]:
        offset = offset_of(cursor)
        scope = [
            (tantivy.Occur.Must, tantivy.Query.term_query(self.schema, "group_id", group_id)),
            (tantivy.Occur.Must, tantivy.Query.term_query(self.schema, "live", "1")),
            *((tantivy.Occur.Must, tantivy.Query.term_query(self.schema, k, v)) for k, v in listing.terms().items()),
        ]
        searcher = self.index.searcher()
        try:  # tantivy raises ValueError for what it cannot run (e.g. a regex over its size limit)
            if query is not None:
                scope.append((tantivy.Occur.Must, self.translate(query)))
            result = searcher.search(
                tantivy.Query.boolean_query(scope),
                limit=limit + 1,
                offset=offset,
                order_by_field=sort_field(listing.sort),
                order=tantivy.Order.Desc if listing.descending else tantivy.Order.Asc,
                count=True,
            )
        except ValueError as exc:
            raise InvalidQuery(TOO_COMPLEX) from exc
        documents = [
            SearchDocument(**json.loads(searcher.doc(address).get_first("payload") or b"{}"))
            for _, address in result.hits
        ]
        more = len(documents) > limit
        total: int | None = getattr(result, "count", None)  # tantivy counts with count=True (not in its stub)
        return Page(documents[:limit], encode_cursor(offset + limit) if more else None, total)

    def translate(self, query: Query) -> tantivy.Query:
        if isinstance(query, And | Or):
            return self._boolean(query)
        if isinstance(query, Not):
            return tantivy.Query.boolean_query(
                [(tantivy.Occur.Must, tantivy.Query.all_query()), (tantivy.Occur.MustNot, self.translate(query.item))]
            )
        fields = FIELDS if query.field is None else (query.field,)
        leaves = [self._leaf(field, query) for field in fields]
        if len(leaves) == 1:
            return leaves[0]
        return tantivy.Query.boolean_query([(tantivy.Occur.Should, leaf) for leaf in leaves])

    def _boolean(self, query: And | Or) -> tantivy.Query:
        if isinstance(query, Or):
            return tantivy.Query.boolean_query([(tantivy.Occur.Should, self.translate(i)) for i in query.items])
        clauses = [
            (tantivy.Occur.MustNot, self.translate(i.item))
            if isinstance(i, Not)
            else (tantivy.Occur.Must, self.translate(i))
            for i in query.items
        ]
        if all(occur == tantivy.Occur.MustNot for occur, _ in clauses):
            clauses.append((tantivy.Occur.Must, tantivy.Query.all_query()))
        return tantivy.Query.boolean_query(clauses)

    def _leaf(self, field: str, query: Term | Wildcard | Phrase) -> tantivy.Query:
        if isinstance(query, Term):
            return tantivy.Query.term_query(self.schema, field, query.text)
        if isinstance(query, Wildcard):
            lookup = wildcard_lookup(field, query)
            if lookup.terms is None:
                return tantivy.Query.regex_query(self.schema, lookup.field, glob_to_regex(lookup.glob, _regex_escape))
            terms = [tantivy.Query.term_query(self.schema, lookup.field, term) for term in lookup.terms]
            return (
                terms[0] if len(terms) == 1 else tantivy.Query.boolean_query([(tantivy.Occur.Should, t) for t in terms])
            )
        return tantivy.Query.phrase_query(self.schema, field, list(query.words))
