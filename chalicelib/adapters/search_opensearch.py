"""The production search engine: OpenSearch through opensearch-py.

Same document model and versioning rule as the other adapters: documents carry the account's version as an
external version, so OpenSearch itself refuses an older write (409, ignored); deletions index a tombstone
(`live: false`) with `external_gte`, so a late update cannot resurrect a deleted account even after
OpenSearch would have forgotten a real delete.

The configured index name is an alias: the app reads and writes through it, and `rebuild` builds a new
concrete index (`<alias>-<UTC time>`) beside the served one, swaps the alias in one atomic `_aliases` call,
catches up on what changed meanwhile, and deletes the old index, so a deploy never serves a half-built index.
The fields hold our analysis' tokens joined by spaces (domain/analysis.py), split by the white-space
tokenizer and nothing else: OpenSearch holds exactly the tokens the in-memory reference compares.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import NotFoundError, RequestError, TransportError

from chalicelib.adapters.cursor import decode_cursor, encode_cursor
from chalicelib.adapters.search_memory import sort_key
from chalicelib.domain.model import Page
from chalicelib.domain.search import FIELDS, And, InvalidQuery, Not, Or, Phrase, Query, Term, Wildcard
from chalicelib.services.search_port import (
    BY_USERNAME,
    FILTER_FIELDS,
    SORTS,
    IndexChange,
    Listing,
    SearchDocument,
    SearchUnavailable,
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

ANALYZER = "analysed"  # our tokens, split at the spaces that join them
MAPPING: dict[str, Any] = {
    "settings": {"analysis": {"analyzer": {ANALYZER: {"type": "custom", "tokenizer": "whitespace"}}}},
    "mappings": {
        "dynamic": "strict",
        "properties": {
            "id": {"type": "keyword"},
            "group_id": {"type": "keyword"},
            "live": {"type": "boolean"},
            "sort_key": {"type": "keyword"},
            **{sort_field(name): {"type": "keyword"} for name in SORTS if name != "username"},
            **{name: {"type": "keyword"} for name in FILTER_FIELDS},
            "payload": {"type": "object", "enabled": False},
            **{field: {"type": "text", "analyzer": ANALYZER} for field in FIELDS},
            **{whole_field(f): {"type": "text", "analyzer": ANALYZER, "index_options": "docs"} for f in FIELDS},
            **{lengths_field(f): {"type": "text", "analyzer": ANALYZER, "index_options": "docs"} for f in FIELDS},
            **{prefixes_field(f): {"type": "text", "analyzer": ANALYZER, "index_options": "docs"} for f in FIELDS},
            **{domains_field(f): {"type": "text", "analyzer": ANALYZER, "index_options": "docs"} for f in FIELDS},
        },
    },
}
UNAVAILABLE = "The search engine cannot be reached right now; the account list without a query still works."
TOO_COMPLEX = "The search engine cannot run this search; use fewer wildcards."


def _client(url: str, sigv4_region: str | None) -> OpenSearch:
    """An Amazon OpenSearch Service domain with fine-grained access control admits the app's IAM role only:
    requests are then signed with SigV4 (the Lambda role's credentials, service `es`)."""
    auth = None
    if sigv4_region:
        import boto3
        from opensearchpy import Urllib3AWSV4SignerAuth

        auth = Urllib3AWSV4SignerAuth(boto3.Session().get_credentials(), sigv4_region, "es")
    return OpenSearch(hosts=[url], http_auth=auth, timeout=3, max_retries=1, retry_on_timeout=False)


def concrete_name(alias: str) -> str:
    return f"{alias}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S-%f')}"


class OpenSearchIndex:
    def __init__(self, url: str, index: str, client: OpenSearch | None = None, sigv4_region: str | None = None) -> None:
        self.index = index  # the alias the app reads and writes through
        self.client = client or _client(url, sigv4_region)
        self._ready = False

    def _ensure_index(self) -> None:
        if self._ready:
            return
        if not self.client.indices.exists(index=self.index):
            self.client.indices.create(index=concrete_name(self.index), body={**MAPPING, "aliases": {self.index: {}}})
        self._ready = True

    # --- writes ---------------------------------------------------------------------------------------------

    def apply(self, changes: Sequence[IndexChange]) -> None:
        try:
            self._ensure_index()
            self._bulk(self.index, changes)
        except (OpenSearchConnectionError, TransportError) as exc:
            raise SearchUnavailable(UNAVAILABLE) from exc

    def _bulk(self, index: str, changes: Sequence[IndexChange]) -> None:
        if not changes:
            return
        lines: list[dict[str, Any]] = []
        for change in changes:
            version_type = "external_gte" if change.document is None else "external"
            lines.append(
                {"index": {"_index": index, "_id": change.account_id, "version": change.version,
                           "version_type": version_type}}
            )  # fmt: skip
            lines.append(body_of(change))
        result = self.client.bulk(body="\n".join(json.dumps(line) for line in lines) + "\n")
        for item in result.get("items", []):
            status = item.get("index", {}).get("status", 200)
            if status >= 300 and status != 409:  # 409: an older version than the index holds, ignored by design
                raise SearchUnavailable(f"The search engine refused a document (status {status}).")

    def rebuild(self, batches: Callable[[], Iterable[Sequence[IndexChange]]]) -> None:
        """Build a new index, swap the alias to it atomically, catch up through the alias, drop the old one."""
        new = concrete_name(self.index)
        try:
            self.client.indices.create(index=new, body=MAPPING)
            for batch in batches():
                self._bulk(new, batch)
            old = self._behind_alias()
            actions: list[dict[str, Any]] = [{"add": {"index": new, "alias": self.index}}]
            if old == [self.index]:  # a concrete index of the alias' name (before aliases): replaced in the swap
                actions.insert(0, {"remove_index": {"index": self.index}})
                old = []
            else:
                actions[:0] = [{"remove": {"index": name, "alias": self.index}} for name in old]
            self.client.indices.update_aliases(body={"actions": actions})
            self._ready = True
            for batch in batches():  # what changed while the new index was filled went to the old one
                self._bulk(self.index, batch)
            for name in old:
                self.client.indices.delete(index=name)
        except (OpenSearchConnectionError, TransportError) as exc:
            raise SearchUnavailable(UNAVAILABLE) from exc

    def _behind_alias(self) -> list[str]:
        """The concrete indices the alias points to; [alias] if it is itself a concrete index; [] if neither."""
        if self.client.indices.exists_alias(name=self.index):
            return sorted(self.client.indices.get_alias(name=self.index))
        return [self.index] if self.client.indices.exists(index=self.index) else []

    def clear(self) -> None:
        with contextlib.suppress(NotFoundError):
            for name in self._behind_alias():
                self.client.indices.delete(index=name)
        self._ready = False

    # --- reads ----------------------------------------------------------------------------------------------

    def search(
        self, group_id: str, query: Query | None, limit: int, cursor: str | None, listing: Listing = BY_USERNAME
    ) -> Page[SearchDocument]:
        body = search_body(group_id, query, limit, cursor, listing)
        try:
            self._ensure_index()
            result = self.client.search(index=self.index, body=body)
        except OpenSearchConnectionError as exc:
            raise SearchUnavailable(UNAVAILABLE) from exc
        except RequestError as exc:  # 400: the engine refuses the query (e.g. too complex to determinize)
            raise InvalidQuery(TOO_COMPLEX) from exc
        except TransportError as exc:
            raise SearchUnavailable(UNAVAILABLE) from exc
        hits = result["hits"]["hits"]
        documents = [SearchDocument(**hit["_source"]["payload"]) for hit in hits[:limit]]
        more = len(hits) > limit
        total = result["hits"].get("total", {}).get("value")
        return Page(documents, encode_cursor(hits[limit - 1]["sort"]) if more and documents else None, total)


def body_of(change: IndexChange) -> dict[str, Any]:
    document = change.document
    if document is None:
        return {"id": change.account_id, "live": False}
    body: dict[str, Any] = {
        "id": document.id,
        "group_id": document.group_id,
        "live": True,
        "sort_key": sort_key(document),
        **sort_values(document),
        **filter_terms(document),
        "payload": asdict(document),
    }
    body.update(engine_fields(document))
    return body


def search_body(
    group_id: str, query: Query | None, limit: int, cursor: str | None, listing: Listing = BY_USERNAME
) -> dict[str, Any]:
    filters = [{"term": {"group_id": group_id}}, {"term": {"live": True}}]
    filters += [{"term": {name: value}} for name, value in listing.terms().items()]
    bool_query: dict[str, Any] = {"filter": filters}
    if query is not None:
        bool_query["must"] = [translate(query)]
    body: dict[str, Any] = {
        "query": {"bool": bool_query},
        "sort": [{sort_field(listing.sort): "desc" if listing.descending else "asc"}],
        "size": limit + 1,
        "track_total_hits": True,
    }
    if cursor:
        after = decode_cursor(cursor)
        if not isinstance(after, list) or not all(isinstance(v, str) for v in after):
            raise ValueError("malformed cursor")
        body["search_after"] = after
    return body


def translate(query: Query) -> dict[str, Any]:
    if isinstance(query, And):
        must = [translate(i) for i in query.items if not isinstance(i, Not)]
        must_not = [translate(i.item) for i in query.items if isinstance(i, Not)]
        return {"bool": {k: v for k, v in (("must", must), ("must_not", must_not)) if v}}
    if isinstance(query, Or):
        return {"bool": {"should": [translate(i) for i in query.items], "minimum_should_match": 1}}
    if isinstance(query, Not):
        return {"bool": {"must_not": [translate(query.item)]}}
    fields = FIELDS if query.field is None else (query.field,)
    leaves = [_leaf(field, query) for field in fields]
    return leaves[0] if len(leaves) == 1 else {"bool": {"should": leaves, "minimum_should_match": 1}}


def _leaf(field: str, query: Term | Wildcard | Phrase) -> dict[str, Any]:
    if isinstance(query, Term):
        return {"term": {field: query.text}}
    if isinstance(query, Wildcard):
        lookup = wildcard_lookup(field, query)
        if lookup.terms is None:
            return {"wildcard": {lookup.field: {"value": lookup.glob}}}
        if len(lookup.terms) == 1:
            return {"term": {lookup.field: lookup.terms[0]}}
        return {"terms": {lookup.field: list(lookup.terms)}}
    return {"match_phrase": {field: " ".join(query.words)}}
