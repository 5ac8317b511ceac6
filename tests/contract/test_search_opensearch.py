"""The OpenSearch adapter against a fake OpenSearch HTTP server on loopback: the exact requests it sends
(recorded expectations), how it reads answers, and how it reports an engine that is down."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from chalicelib.adapters.search_opensearch import MAPPING, OpenSearchIndex
from chalicelib.domain.search import FIELDS, parse_query
from chalicelib.services.search_port import IndexChange, SearchDocument, SearchUnavailable
from tests.contract.fake_opensearch import FakeOpenSearch


@pytest.fixture
def fake() -> Iterator[FakeOpenSearch]:
    server = FakeOpenSearch()
    yield server
    server.stop()


DOC = SearchDocument(
    id="a1", group_id="g1", version=4, username="1001", full_name="Marco Rossi", phone_number="+393471000001",
    secondary_phone_number=None, email="m@example.com", description="Sales", account_type="PGSM", enabled=True,
    status="created", status_changed_at="2026-11-25T10:00:00.000Z",
)  # fmt: skip


def test_creates_a_concrete_index_behind_the_alias_once(fake: FakeOpenSearch) -> None:
    index = OpenSearchIndex(fake.url, "accounts")
    index.apply([IndexChange("a1", 4, DOC)])
    index.apply([IndexChange("a1", 5, DOC)])
    ((_, path, body),) = [r for r in fake.requests if r[0] == "PUT"]
    assert re.fullmatch(r"/accounts-\d{8}-\d{6}-\d{6}", path)
    assert body == {**MAPPING, "aliases": {"accounts": {}}}
    analyzer = MAPPING["settings"]["analysis"]["analyzer"]["analysed"]
    assert analyzer == {"type": "custom", "tokenizer": "whitespace"}  # our tokens, ready-made (analysis.py)
    properties = MAPPING["mappings"]["properties"]
    assert properties["group_id"] == {"type": "keyword"}
    assert {f: properties[f]["analyzer"] for f in FIELDS} == dict.fromkeys(FIELDS, "analysed")
    assert {f: properties[f + "_whole"]["analyzer"] for f in FIELDS} == dict.fromkeys(FIELDS, "analysed")


def test_indexes_with_external_versions_and_tombstones(fake: FakeOpenSearch) -> None:
    fake.aliases["accounts"] = ["accounts-1"]
    fake.indices["accounts-1"] = {}
    OpenSearchIndex(fake.url, "accounts").apply([IndexChange("a1", 4, DOC), IndexChange("a2", 7, None)])
    (bulk,) = [r for r in fake.requests if r[1].startswith("/_bulk")]
    assert bulk[2] == [
        {"index": {"_index": "accounts", "_id": "a1", "version": 4, "version_type": "external"}},
        {
            "id": "a1", "group_id": "g1", "live": True, "sort_key": "1001\u0000a1",
            "s_full_name": "marco rossi\u00001001\u0000a1", "s_phone_number": "+393471000001\u00001001\u0000a1",
            "s_secondary_phone_number": "\u00001001\u0000a1", "s_status": "created\u00001001\u0000a1",
            "s_status_changed_at": "2026-11-25T10:00:00.000Z\u00001001\u0000a1",
            "s_account_type": "PGSM\u00001001\u0000a1",
            "f_status": "created", "f_type": "PGSM", "f_enabled": "1", "f_sms": "0",
            "payload": {**DOC.__dict__},
            "owner": "marco rossi", "username": "1001", "callerid": "393471000001",
            "email": "m example com", "description": "sales",
            "owner_whole": "", "username_whole": "", "callerid_whole": "", "email_whole": "m@example.com",
            "description_whole": "",
            "owner_lengths": "5", "username_lengths": "4", "callerid_lengths": "12", "email_lengths": "1 3 7",
            "description_lengths": "5",
            "owner_prefixes": "m ma mar marc marco r ro ros ross rossi", "username_prefixes": "1 10 100 1001",
            "callerid_prefixes": "3 39 393 3934 39347 393471 3934710 39347100 393471000 3934710000",
            "email_prefixes": "c co com e ex exa exam examp exampl example m",
            "description_prefixes": "s sa sal sale sales",
            "owner_domains": "", "username_domains": "", "callerid_domains": "", "email_domains": "@example.com",
            "description_domains": "",
        },
        {"index": {"_index": "accounts", "_id": "a2", "version": 7, "version_type": "external_gte"}},
        {"id": "a2", "live": False},
    ]  # fmt: skip


def test_translates_the_manuals_queries_into_query_dsl(fake: FakeOpenSearch) -> None:
    fake.indices["accounts"] = {}
    index = OpenSearchIndex(fake.url, "accounts")
    index.search("g1", parse_query('Marco* -owner:"Marco Rossi" callerid:\\+39347 *@example.com ?? M?rco'), 25, None)
    (_, path, body) = fake.requests[-1]
    assert path == "/accounts/_search"
    any_field = ["owner", "username", "callerid", "email", "description"]
    assert body == {
        "query": {"bool": {
            "filter": [{"term": {"group_id": "g1"}}, {"term": {"live": True}}],
            "must": [{"bool": {
                "must": [
                    {"bool": {"should": [{"term": {f + "_prefixes": "marco"}} for f in any_field],
                              "minimum_should_match": 1}},
                    {"term": {"callerid": "39347"}},
                    {"bool": {"should": [{"term": {f + "_domains": "@example.com"}} for f in any_field],
                              "minimum_should_match": 1}},
                    {"bool": {"should": [{"term": {f + "_lengths": "2"}} for f in any_field],
                              "minimum_should_match": 1}},
                    {"bool": {"should": [{"wildcard": {f: {"value": "m?rco"}}} for f in any_field],
                              "minimum_should_match": 1}},
                ],
                "must_not": [{"match_phrase": {"owner": "marco rossi"}}],
            }}],
        }},
        "sort": [{"sort_key": "asc"}],
        "size": 26,
        "track_total_hits": True,
    }  # fmt: skip


def test_pages_with_search_after(fake: FakeOpenSearch) -> None:
    index = OpenSearchIndex(fake.url, "accounts")
    index.apply([IndexChange(f"a{i}", 1, SearchDocument(**{**DOC.__dict__, "id": f"a{i}", "username": f"100{i}"}))
                 for i in range(3)])  # fmt: skip
    page = index.search("g1", None, 2, None)
    assert [d.id for d in page.items] == ["a0", "a1"] and page.next_cursor
    last = index.search("g1", None, 2, page.next_cursor)
    assert fake.requests[-1][2]["search_after"] == ["1001\u0000a1"]
    assert [d.id for d in last.items] == ["a2"] and last.next_cursor is None


def test_a_rebuild_fills_a_new_index_and_swaps_the_alias_atomically(fake: FakeOpenSearch) -> None:
    index = OpenSearchIndex(fake.url, "accounts")
    index.apply([IndexChange("a1", 4, DOC)])
    (old,) = fake.aliases["accounts"]
    seen_during_build: list[list[str]] = []

    def batches() -> list[list[IndexChange]]:
        # what a reader sees while the new index fills: the old one, complete
        seen_during_build.append([d.id for d in index.search("g1", parse_query("rossi"), 10, None).items])
        return [[IndexChange("a2", 1, SearchDocument(**{**DOC.__dict__, "id": "a2", "full_name": "Ada Neri"}))]]

    index.rebuild(batches)
    assert seen_during_build[0] == ["a1"]
    (new,) = fake.aliases["accounts"]
    assert new != old and old not in fake.indices  # swapped, and the old index deleted
    swap = [r for r in fake.requests if r[1] == "/_aliases"]
    assert swap == [("POST", "/_aliases", {"actions": [
        {"remove": {"index": old, "alias": "accounts"}}, {"add": {"index": new, "alias": "accounts"}},
    ]})]  # fmt: skip
    assert [d.id for d in index.search("g1", parse_query("neri"), 10, None).items] == ["a2"]
    assert index.search("g1", parse_query("rossi"), 10, None).items == []


def test_a_rebuild_migrates_an_index_that_had_the_alias_name(fake: FakeOpenSearch) -> None:
    fake.indices["accounts"] = {}  # deployed before aliases: a concrete index called "accounts"
    index = OpenSearchIndex(fake.url, "accounts")
    index.rebuild(lambda: [[IndexChange("a1", 4, DOC)]])
    (new,) = fake.aliases["accounts"]
    ((_, _, body),) = [r for r in fake.requests if r[1] == "/_aliases"]
    assert body["actions"] == [{"remove_index": {"index": "accounts"}}, {"add": {"index": new, "alias": "accounts"}}]
    assert [d.id for d in index.search("g1", parse_query("marco"), 10, None).items] == ["a1"]


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
