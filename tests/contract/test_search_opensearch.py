"""The OpenSearch adapter against a fake OpenSearch HTTP server on loopback: the exact requests it sends
(recorded expectations), how it reads answers, and how it reports an engine that is down."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from chalicelib.adapters.search_opensearch import MAPPING, OpenSearchIndex
from chalicelib.domain.search import parse_query
from chalicelib.services.search_port import IndexChange, SearchDocument, SearchUnavailable


class FakeOpenSearch:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, Any]] = []
        self.authorizations: list[str] = []
        self.search_hits: list[dict[str, Any]] = []
        self.index_exists = False
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            def _record(self) -> Any:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                if self.path.startswith("/_bulk"):
                    body: Any = [json.loads(line) for line in raw.splitlines() if line]
                else:
                    body = json.loads(raw) if raw else None
                fake.requests.append((self.command, self.path, body))
                fake.authorizations.append(self.headers.get("Authorization") or "")
                return body

            def do_HEAD(self) -> None:
                self._record()
                self._answer(200 if fake.index_exists else 404, {})

            def do_PUT(self) -> None:
                self._record()
                fake.index_exists = True
                self._answer(200, {"acknowledged": True})

            def do_POST(self) -> None:
                body = self._record()
                if self.path.startswith("/_bulk"):
                    items = [{"index": {"status": 201}} for _ in body[1::2]]
                    self._answer(200, {"errors": False, "items": items})
                else:
                    self._answer(200, {"hits": {"hits": fake.search_hits}})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def fake() -> Iterator[FakeOpenSearch]:
    server = FakeOpenSearch()
    yield server
    server.server.shutdown()


DOC = SearchDocument(
    id="a1", group_id="g1", version=4, username="1001", full_name="Marco Rossi", phone_number="+393471000001",
    secondary_phone_number=None, email="m@example.com", description="Sales", account_type="PGSM", enabled=True,
    status="created", status_changed_at="2026-11-25T10:00:00.000Z",
)  # fmt: skip


def test_creates_the_index_with_the_whitespace_lowercase_mapping_once(fake: FakeOpenSearch) -> None:
    index = OpenSearchIndex(fake.url, "accounts")
    index.apply([IndexChange("a1", 4, DOC)])
    index.apply([IndexChange("a1", 5, DOC)])
    creates = [r for r in fake.requests if r[0] == "PUT"]
    assert creates == [("PUT", "/accounts", MAPPING)]
    analyzer = MAPPING["settings"]["analysis"]["analyzer"]["ws_lower"]
    assert analyzer == {"type": "custom", "tokenizer": "whitespace", "filter": ["lowercase"]}
    assert MAPPING["mappings"]["properties"]["group_id"] == {"type": "keyword"}


def test_indexes_with_external_versions_and_tombstones(fake: FakeOpenSearch) -> None:
    fake.index_exists = True
    OpenSearchIndex(fake.url, "accounts").apply([IndexChange("a1", 4, DOC), IndexChange("a2", 7, None)])
    (bulk,) = [r for r in fake.requests if r[1].startswith("/_bulk")]
    assert bulk[2] == [
        {"index": {"_index": "accounts", "_id": "a1", "version": 4, "version_type": "external"}},
        {
            "id": "a1", "group_id": "g1", "live": True, "sort_key": "1001\u0000a1",
            "payload": {**DOC.__dict__},
            "owner": "Marco Rossi", "username": "1001", "callerid": "+393471000001 393471000001",
            "email": "m@example.com", "description": "Sales",
        },
        {"index": {"_index": "accounts", "_id": "a2", "version": 7, "version_type": "external_gte"}},
        {"id": "a2", "live": False},
    ]  # fmt: skip


def test_translates_the_manuals_queries_into_query_dsl(fake: FakeOpenSearch) -> None:
    fake.index_exists = True
    index = OpenSearchIndex(fake.url, "accounts")
    index.search("g1", parse_query('Marco* -owner:"Marco Rossi" callerid:\\+39347'), 25, None)
    (_, path, body) = fake.requests[-1]
    assert path == "/accounts/_search"
    any_field = ["owner", "username", "callerid", "email", "description"]
    assert body == {
        "query": {"bool": {
            "filter": [{"term": {"group_id": "g1"}}, {"term": {"live": True}}],
            "must": [{"bool": {
                "must": [
                    {"bool": {"should": [{"wildcard": {f: {"value": "marco*"}}} for f in any_field],
                              "minimum_should_match": 1}},
                    {"term": {"callerid": "+39347"}},
                ],
                "must_not": [{"match_phrase": {"owner": "marco rossi"}}],
            }}],
        }},
        "sort": [{"sort_key": "asc"}],
        "size": 26,
        "track_total_hits": False,
    }  # fmt: skip


def test_pages_with_search_after(fake: FakeOpenSearch) -> None:
    fake.index_exists = True
    fake.search_hits = [
        {"_source": {"payload": {**DOC.__dict__, "id": f"a{i}", "username": f"100{i}"}}, "sort": [f"100{i}\u0000a{i}"]}
        for i in range(3)
    ]
    index = OpenSearchIndex(fake.url, "accounts")
    page = index.search("g1", None, 2, None)
    assert [d.id for d in page.items] == ["a0", "a1"] and page.next_cursor
    index.search("g1", None, 2, page.next_cursor)
    assert fake.requests[-1][2]["search_after"] == ["1001\u0000a1"]


def test_an_engine_that_is_down_is_reported_not_raised_raw() -> None:
    index = OpenSearchIndex("http://127.0.0.1:9", "accounts")  # nothing listens on the discard port
    with pytest.raises(SearchUnavailable, match="cannot be reached"):
        index.search("g1", None, 10, None)
    with pytest.raises(SearchUnavailable):
        index.apply([IndexChange("a1", 1, DOC)])


def test_requests_are_signed_with_sigv4_when_configured(fake: FakeOpenSearch, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    OpenSearchIndex(fake.url, "accounts", sigv4_region="eu-south-1").apply([IndexChange("a1", 1, DOC)])
    assert fake.authorizations and all(a.startswith("AWS4-HMAC-SHA256 ") for a in fake.authorizations)
    assert (
        "Credential=AKIDEXAMPLE/" in fake.authorizations[0] and "/eu-south-1/es/aws4_request" in fake.authorizations[0]
    )
    OpenSearchIndex(fake.url, "accounts").apply([IndexChange("a2", 1, DOC)])
    assert fake.authorizations[-1] == ""  # unsigned unless asked (a local or self-managed engine)
