"""The production search engine: OpenSearch through opensearch-py.

Same document model and versioning rule as the other adapters: documents carry the account's version as an
external version, so OpenSearch itself refuses an older write (409, ignored); deletions index a tombstone
(`live: false`) with `external_gte`, so a late update cannot resurrect a deleted account even after
OpenSearch would have forgotten a real delete.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import NotFoundError, TransportError

from chalicelib.adapters.cursor import decode_cursor, encode_cursor
from chalicelib.adapters.search_memory import sort_key
from chalicelib.domain.model import Page
from chalicelib.domain.search import FIELDS, And, Not, Or, Phrase, Query, Term, Wildcard
from chalicelib.services.search_port import IndexChange, SearchDocument, SearchUnavailable

ANALYZER = "ws_lower"
MAPPING: dict[str, Any] = {
    "settings": {
        "analysis": {"analyzer": {ANALYZER: {"type": "custom", "tokenizer": "whitespace", "filter": ["lowercase"]}}}
    },
    "mappings": {
        "dynamic": "strict",
        "properties": {
            "id": {"type": "keyword"},
            "group_id": {"type": "keyword"},
            "live": {"type": "boolean"},
            "sort_key": {"type": "keyword"},
            "payload": {"type": "object", "enabled": False},
            **{field: {"type": "text", "analyzer": ANALYZER} for field in FIELDS},
        },
    },
}
UNAVAILABLE = "The search engine cannot be reached right now; the account list without a query still works."


def _client(url: str, sigv4_region: str | None) -> OpenSearch:
    """An Amazon OpenSearch Service domain with fine-grained access control admits the app's IAM role only:
    requests are then signed with SigV4 (the Lambda role's credentials, service `es`)."""
    auth = None
    if sigv4_region:
        import boto3
        from opensearchpy import Urllib3AWSV4SignerAuth

        auth = Urllib3AWSV4SignerAuth(boto3.Session().get_credentials(), sigv4_region, "es")
    return OpenSearch(hosts=[url], http_auth=auth, timeout=3, max_retries=1, retry_on_timeout=False)


class OpenSearchIndex:
    def __init__(self, url: str, index: str, client: OpenSearch | None = None, sigv4_region: str | None = None) -> None:
        self.index = index
        self.client = client or _client(url, sigv4_region)
        self._ready = False

    def _ensure_index(self) -> None:
        if self._ready:
            return
        if not self.client.indices.exists(index=self.index):
            self.client.indices.create(index=self.index, body=MAPPING)
        self._ready = True

    # --- writes ---------------------------------------------------------------------------------------------

    def apply(self, changes: Sequence[IndexChange]) -> None:
        if not changes:
            return
        lines: list[dict[str, Any]] = []
        for change in changes:
            version_type = "external_gte" if change.document is None else "external"
            lines.append(
                {"index": {"_index": self.index, "_id": change.account_id, "version": change.version,
                           "version_type": version_type}}
            )  # fmt: skip
            lines.append(body_of(change))
        try:
            self._ensure_index()
            result = self.client.bulk(body="\n".join(json.dumps(line) for line in lines) + "\n")
        except (OpenSearchConnectionError, TransportError) as exc:
            raise SearchUnavailable(UNAVAILABLE) from exc
        for item in result.get("items", []):
            status = item.get("index", {}).get("status", 200)
            if status >= 300 and status != 409:  # 409: an older version than the index holds, ignored by design
                raise SearchUnavailable(f"The search engine refused a document (status {status}).")

    def clear(self) -> None:
        with contextlib.suppress(NotFoundError):
            self.client.indices.delete(index=self.index)
        self._ready = False

    # --- reads ----------------------------------------------------------------------------------------------

    def search(self, group_id: str, query: Query | None, limit: int, cursor: str | None) -> Page[SearchDocument]:
        body = search_body(group_id, query, limit, cursor)
        try:
            self._ensure_index()
            result = self.client.search(index=self.index, body=body)
        except (OpenSearchConnectionError, TransportError) as exc:
            raise SearchUnavailable(UNAVAILABLE) from exc
        hits = result["hits"]["hits"]
        documents = [SearchDocument(**hit["_source"]["payload"]) for hit in hits[:limit]]
        more = len(hits) > limit
        return Page(documents, encode_cursor(hits[limit - 1]["sort"]) if more and documents else None)


def body_of(change: IndexChange) -> dict[str, Any]:
    document = change.document
    if document is None:
        return {"id": change.account_id, "live": False}
    body: dict[str, Any] = {
        "id": document.id,
        "group_id": document.group_id,
        "live": True,
        "sort_key": sort_key(document),
        "payload": asdict(document),
    }
    for field in FIELDS:
        body[field] = document.field_text(field)
    return body


def search_body(group_id: str, query: Query | None, limit: int, cursor: str | None) -> dict[str, Any]:
    bool_query: dict[str, Any] = {"filter": [{"term": {"group_id": group_id}}, {"term": {"live": True}}]}
    if query is not None:
        bool_query["must"] = [translate(query)]
    body: dict[str, Any] = {
        "query": {"bool": bool_query},
        "sort": [{"sort_key": "asc"}],
        "size": limit + 1,
        "track_total_hits": False,
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
        return {"wildcard": {field: {"value": query.glob}}}
    return {"match_phrase": {field: " ".join(query.words)}}
