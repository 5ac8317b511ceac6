"""One conformance suite for the search semantics (manual 1.1.6), run against the in-memory index, tantivy and
the OpenSearch adapter's requests (answered by a fake OpenSearch on loopback that evaluates the query DSL over
the documents the adapter indexed, tokenized as the mapping says: no OpenSearch server can be had here).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

import pytest

from chalicelib.adapters.search_memory import MemorySearchIndex
from chalicelib.adapters.search_opensearch import OpenSearchIndex
from chalicelib.adapters.search_tantivy import TantivySearchIndex
from chalicelib.domain.search import EXAMPLE, InvalidQuery, Wildcard, parse_query
from chalicelib.services.search_port import IndexChange, Listing, SearchDocument, SearchIndex, SearchUnavailable
from tests.contract.fake_opensearch import FakeOpenSearch

PEOPLE = [
    # id, owner, username, number, secondary, email, description
    ("a1", "Marco Rossi", "1001", "+393471000001", None, "marco.rossi@example.com", "Sales manager"),
    ("a2", "Marco Bianchi", "1002", "+393471000002", None, "mb@example.com", "Sales"),
    ("a3", "Giulio Marconi", "1003", "+393471000003", "+393479999999", "giulio@example.org", "Board (CEO)"),
    ("a4", "José Álvarez", "2001", "111", None, "", "Tester: uses [brackets] and a.b$c"),
    ("a5", "Anna Maria Verdi", "x-ray.7", "+441234567890", None, "anna+tag@example.co.uk", "Support desk London"),
    ("a6", "Rossi-Bianchi, Anne-Marie", "3001", "+393471000006", None, "am@example.net", "Sales manager, Milano"),
    ("a7", "Niccolò D'Angelo", "3002", "+393471000007", None, "nd@example.net", "Via\u00a0Roma 12\u2003(CEO)"),
    ("a8", "José García", "3003", "+34600000008", None, "JOSE.GARCIA@Example.NET", "Straße, Øresund; Łódź"),
]


def doc(i: str, owner: str, username: str, number: str, secondary: str | None, email: str, description: str,
        group: str = "g1") -> SearchDocument:  # fmt: skip
    return SearchDocument(
        id=i, group_id=group, version=1, username=username, full_name=owner, phone_number=number,
        secondary_phone_number=secondary, email=email, description=description, account_type="PGSM",
        enabled=True, status="created", status_changed_at="2026-11-25T10:00:00.000Z",
    )  # fmt: skip


@pytest.fixture(params=["memory", "tantivy", "opensearch"])
def index(request: pytest.FixtureRequest) -> Iterator[SearchIndex]:
    fake = FakeOpenSearch() if request.param == "opensearch" else None
    engine: SearchIndex
    if fake is not None:
        engine = OpenSearchIndex(fake.url, "accounts")
    else:
        engine = MemorySearchIndex() if request.param == "memory" else TantivySearchIndex()
    changes = [IndexChange(p[0], 1, doc(*p)) for p in PEOPLE]
    changes.append(IndexChange("b1", 1, doc("b1", "Marco Rossi", "9001", "+393470000009", None, "", "", group="g2")))
    engine.apply(changes)
    yield engine
    if fake is not None:
        fake.stop()


@pytest.fixture
def fake() -> Iterator[FakeOpenSearch]:
    server = FakeOpenSearch()
    yield server
    server.stop()


def found(index: SearchIndex, text: str, group: str = "g1") -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        page = index.search(group, parse_query(text), 2, cursor)
        ids += [d.id for d in page.items]
        cursor = page.next_cursor
        if cursor is None:
            return sorted(ids)


ALL = ["a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8"]
CASES = [
    # the manual's examples, exactly
    ("Marco", ["a1", "a2"]),
    ("Marco Rossi", ["a1"]),
    ("Marco*", ["a1", "a2", "a3"]),
    ("Marco??", ["a3"]),
    # case-insensitive exact words, all words must match
    ("marco", ["a1", "a2"]),
    ("MARCO ROSSI", ["a1"]),
    ("Marco Verdi", []),
    ("Marc", []),
    # field-qualified terms, field names in any case
    ("owner:Marco", ["a1", "a2"]),
    ("username:1003", ["a3"]),
    ("email:mb@example.com", ["a2"]),
    ("description:sales", ["a1", "a2", "a6"]),
    ("owner:sales", []),
    ("OWNER:marco", ["a1", "a2"]),
    ("Owner:(Marco OR Anne)", ["a1", "a2", "a6"]),
    # phrases
    ('"Marco Rossi"', ["a1"]),
    ('"Rossi Marco"', []),
    ('owner:"Anna Maria"', ["a5"]),
    ('"sales manager"', ["a1", "a6"]),
    ('"manager milano"', ["a6"]),  # across the comma
    # boolean operators, words and symbols
    ("Rossi OR Bianchi", ["a1", "a2", "a6"]),
    ("Rossi || Bianchi", ["a1", "a2", "a6"]),
    ("Marco AND Rossi", ["a1"]),
    ("Marco && Rossi", ["a1"]),
    ("Marco AND NOT Rossi", ["a2"]),
    ("Marco && !Rossi", ["a2"]),
    ("Marco !Rossi", ["a2"]),
    ("Marco -Rossi", ["a2"]),
    ("NOT Marco", ["a3", "a4", "a5", "a6", "a7", "a8"]),  # "Marconi" is another word
    ("!Marco", ["a3", "a4", "a5", "a6", "a7", "a8"]),
    ("-Marco", ["a3", "a4", "a5", "a6", "a7", "a8"]),
    ("(Rossi OR Marconi) AND sales", ["a1", "a6"]),
    ("owner:(Marco Bianchi)", ["a2"]),
    ("+Marco +Bianchi", ["a2"]),
    ("+Marco -Bianchi", ["a1"]),
    # AND binds tighter than OR, implicit AND too
    ("Bianchi OR Marco AND Rossi", ["a1", "a2", "a6"]),
    ("Marco Rossi OR Marconi", ["a1", "a3"]),
    # a purely negative sub-query means "all accounts except"
    ("Marconi OR NOT sales", ["a3", "a4", "a5", "a7", "a8"]),
    ("(-marco) AND callerid:39*", ["a3", "a6", "a7"]),
    # escapes, an escaped space too
    ("Marco\\ Rossi", ["a1"]),
    ("owner:Marco\\ Rossi", ["a1"]),
    ("owner:Rossi\\ Marco", []),
    ("\\(ceo\\)", ["a3", "a7"]),
    ("\\!Marco", ["a1", "a2"]),
    ("x\\-ray", ["a5"]),
    ("Marco & Rossi", ["a1"]),  # a lone "&" has no letters: nothing to look for, as Lucene's analyzer drops it
    # words glued to punctuation
    ("Rossi", ["a1", "a6"]),
    ("Bianchi", ["a2", "a6"]),
    ("Anne", ["a6"]),
    ("Anne-Marie", ["a6"]),
    ("Angelo", ["a7"]),
    ("D'Angelo", ["a7"]),
    ("CEO", ["a3", "a7"]),
    ("(ceo)", ["a3", "a7"]),
    ('"(CEO)"', ["a3", "a7"]),
    ("Milano", ["a6"]),
    # accents and case are folded, in words and in wildcards
    ("niccolo", ["a7"]),
    ("NICCOLÒ", ["a7"]),
    ("jose", ["a4", "a8"]),
    ("josé", ["a4", "a8"]),
    ("garcia", ["a8"]),
    ("ÁLVAREZ", ["a4"]),
    ("alvarez", ["a4"]),
    ("strasse", ["a8"]),
    ("oresund", ["a8"]),
    ("lodz", ["a8"]),
    ("niccol?", ["a7"]),
    ("Jos?", ["a4", "a8"]),
    ("garc?a", ["a8"]),
    ("GARCÍ*", ["a8"]),
    # every kind of white space separates, the no-break space too
    ("Roma", ["a7"]),
    ('"via roma"', ["a7"]),
    ("12", ["a7"]),
    ("  Marco    Rossi  ", ["a1"]),
    ("Marco\u00a0Rossi", ["a1"]),
    # wildcards in any position
    ("*rco", ["a1", "a2"]),
    ("*arc*", ["a1", "a2", "a3", "a8"]),
    ("M?rco", ["a1", "a2"]),
    ("?arco", ["a1", "a2"]),
    ("m*i", ["a3"]),
    ("*", ALL),
    ("owner:?????", ["a1", "a2", "a5", "a6"]),  # a word of exactly five letters
    ("owner:??????*", ["a2", "a3", "a4", "a6", "a7", "a8"]),  # a word of six letters or more
    ("description:* -description:?*", []),  # no description without a word, as no word is empty
    ("NOT description:*", []),
    ("*?*?*?*?*?*?*?*?", ALL),  # words of 8 characters or more: every account has a number or "brackets"
    ("description:?????*", ["a1", "a2", "a3", "a4", "a5", "a6", "a8"]),  # a7's "Via Roma 12 (CEO)" has none
    ("*?*?*?*?", ["a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8"]),
    ("username:x-ray*", ["a5"]),
    ("\\(ceo*", ["a3", "a7"]),
    # e-mail addresses: whole, with wildcards, and by their parts
    ("marco.rossi@example.com", ["a1"]),
    ("email:marco.rossi@example.com", ["a1"]),
    ("marco.rossi@*", ["a1"]),
    ("*@example.com", ["a1", "a2"]),
    ("*@example.net", ["a6", "a7", "a8"]),
    ("email:*@example.net", ["a6", "a7", "a8"]),
    ("jose.garcia@example.net", ["a8"]),
    ("JOSE.GARCIA@*", ["a8"]),
    ("email:*example*", ["a1", "a2", "a3", "a5", "a6", "a7", "a8"]),
    ("email:example", ["a1", "a2", "a3", "a5", "a6", "a7", "a8"]),
    ("email:rossi", ["a1"]),
    ("email:garcia", ["a8"]),
    ("anna+tag@example.co.uk", ["a5"]),
    ("email:anna\\+tag@example.co.uk", ["a5"]),
    ("anna+tag@*", ["a5"]),
    ("email:*.co.uk", ["a5"]),
    # numbers, with and without the + that Lucene reads as an operator
    ("+393471000001", ["a1"]),
    ("393471000001", ["a1"]),
    ('"+393471000001"', ["a1"]),
    ("callerid:\\+393471000002", ["a2"]),
    ("callerid:+39347100000?", ["a1", "a2", "a3", "a6", "a7"]),
    ("+393479999999", ["a3"]),  # secondary number
    ("callerid:111", ["a4"]),
    ("callerid:+44*", ["a5"]),
    ("callerid:44*", ["a5"]),
    ("\\+44*", ["a5"]),
    # punctuation is literal inside wildcards and words
    ("a.b$c", ["a4"]),
    ("a.b*", ["a4"]),
    ("a?b$c", ["a4"]),
    ("\\[brackets\\]", ["a4"]),
    ("brackets", ["a4"]),
    # other groups are never visible
    ("9001", []),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_query_semantics(index: SearchIndex, text: str, expected: list[str]) -> None:
    assert found(index, text) == expected


def test_an_empty_or_blank_query_lists_the_whole_group_by_username(index: SearchIndex) -> None:
    for text in ("", "   ", "\t"):
        assert parse_query(text) is None
    page = index.search("g1", None, 10, None)
    assert [d.username for d in page.items] == ["1001", "1002", "1003", "2001", "3001", "3002", "3003", "x-ray.7"]
    assert found(index, "Marco", group="g2") == ["b1"]


def test_results_carry_the_account_list_columns(index: SearchIndex) -> None:
    (hit,) = index.search("g1", parse_query("owner:Bianchi -Rossi"), 10, None).items
    assert (hit.username, hit.full_name, hit.phone_number, hit.status) == (
        "1002",
        "Marco Bianchi",
        "+393471000002",
        "created",
    )


def test_deeply_nested_parentheses_are_fine_up_to_a_limit(index: SearchIndex) -> None:
    assert found(index, "(" * 10 + "Bianchi" + ")" * 10) == ["a2", "a6"]
    with pytest.raises(InvalidQuery, match="nested"):
        parse_query("(" * 40 + "Bianchi" + ")" * 40)


def test_very_long_queries_are_refused_clearly() -> None:
    assert parse_query(" ".join(["marco"] * 80)) is not None  # 479 characters
    with pytest.raises(InvalidQuery, match="longer than 500"):
        parse_query("marco " * 100)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("password:x", "Unknown field 'password'"),
        ("group_id:g2", "Unknown field"),
        ("owner:(username:1001)", "inside field"),
        ("(Marco", "parenthesis at character 1 is never closed"),
        ("Marco)", "')' at character 6 closes no parenthesis"),
        ("()", "hold nothing"),
        ("Marco AND", "'AND' at character 7 needs a word after it"),
        ("Marco &&", "'&&' at character 7 needs a word after it"),
        ("OR Marco", "'OR' at character 1 needs a word before it"),
        ("Marco || || Rossi", "'||' at character 7 needs a word after it"),
        ("Marco !", "'!' at character 7 needs a word after it"),
        ("owner:", "'owner:' needs a word"),
        (":Marco", "needs a field name"),
        ('"unterminated', "quotation mark at character 1 is never closed"),
        ("Marco\\", "lone backslash"),
        ("marco]", "closes nothing"),
        ("marco~1", "fuzzy search"),
        ("marco~", "fuzzy search"),
        ('"marco rossi"~2', "proximity search"),
        ("marco^2", "boosts"),
        ("username:[1000 TO 2000]", "ranges"),
        ("username:{1000 TO 2000}", "ranges"),
        ("/mar.*/", "regular expressions"),
        ('""', "no letters or digits"),
        ("& .", "no letters or digits"),
        ("*a*b*c*d*e", "has 5 separate '*'; one word may have at most 4"),
        ("?" * 9, "has 9 '?'; one word may have at most 8"),
        ("*?" * 16, "has 16 '?'; one word may have at most 8"),
        ("a* b* c* d* e* f* g*", "7 words with wildcards; at most 6"),
        ("*arc* *oss*", "Only one word of a search may begin with a wildcard"),
        ("*arc* email:*@example.com", "Only one word of a search may begin with a wildcard"),
        ("owner:*a callerid:*1 email:*@x.org description:*b", "or up to 3 if each is limited to a field"),
    ],
)
def test_malformed_or_forbidden_queries_say_why(text: str, message: str) -> None:
    with pytest.raises(InvalidQuery, match=re.escape(message)) as exc:
        parse_query(text)
    assert exc.value.field == "q"
    assert exc.value.message.endswith(f"A search looks like this: {EXAMPLE}")


def test_wildcard_runs_are_normalised_to_the_same_matches_at_a_fraction_of_the_cost() -> None:
    assert parse_query("*?" * 8) == Wildcard(None, "?" * 8 + "*")
    assert parse_query("owner:*a callerid:*1 email:*@x.org") is not None  # three fielded scans: the limit
    assert parse_query("a**b*?*c") == Wildcard(None, "a*b?*c")
    assert parse_query("niccol\\*?") == Wildcard(None, "niccol\\*?", whole=True)
    assert parse_query("Niccolò*") == Wildcard(None, "niccolo*")
    assert parse_query("+44*") == Wildcard(None, "44*")
    assert parse_query("owner:D'Ang*") == Wildcard("owner", "d'ang*", whole=True)


def test_an_engine_error_on_a_query_is_an_invalid_query_not_a_cursor_error() -> None:
    engine = TantivySearchIndex()
    engine.apply([IndexChange(p[0], 1, doc(*p)) for p in PEOPLE])
    too_big = Wildcard(None, "a" + "?" * 2000)  # past our own limits, as if they were lifted: tantivy refuses it
    with pytest.raises(InvalidQuery, match="cannot run this search"):
        engine.search("g1", too_big, 10, None)


def test_the_opensearch_adapter_reports_a_refused_query_as_invalid(fake: FakeOpenSearch) -> None:
    fake.refuse_search = 400
    engine = OpenSearchIndex(fake.url, "accounts")
    with pytest.raises(InvalidQuery, match="cannot run this search"):
        engine.search("g1", parse_query("marco*"), 10, None)
    fake.refuse_search = 500
    with pytest.raises(SearchUnavailable):
        engine.search("g1", parse_query("marco*"), 10, None)


def test_a_rebuild_replaces_the_whole_index(index: SearchIndex) -> None:
    kept = [IndexChange(p[0], 2, doc(*p)) for p in PEOPLE if p[0] != "a1"]
    index.rebuild(lambda: [kept[:3], kept[3:]])
    assert found(index, "Rossi") == ["a6"]  # a1 is gone: it was not in the table
    assert found(index, "Marco") == ["a2"]
    assert found(index, "Marco", group="g2") == []


def test_redelivered_and_reordered_changes_never_restore_old_state(index: SearchIndex) -> None:
    old = doc("a2", "Marco Bianchi", "1002", "+393471000002", None, "mb@example.com", "Sales")
    new = doc("a2", "Marco Neri", "1002", "+393471000002", None, "mb@example.com", "Sales")
    index.apply([IndexChange("a2", 3, new), IndexChange("a2", 2, old)])  # out of order
    assert found(index, "Neri") == ["a2"] and found(index, "Bianchi") == ["a6"]
    index.apply([IndexChange("a2", 3, new)])  # redelivered
    assert found(index, "Neri") == ["a2"]


def test_a_deletion_is_final_even_when_older_records_arrive_late(index: SearchIndex) -> None:
    index.apply([IndexChange("a1", 1, None)])  # REMOVE carries the deleted item's version
    assert found(index, "Rossi") == ["a6"]
    late = doc("a1", "Marco Rossi", "1001", "+393471000001", None, "", "")
    index.apply([IndexChange("a1", 1, late)])  # the INSERT redelivered after the REMOVE
    assert found(index, "Rossi") == ["a6"]
    index.apply([IndexChange("a1", 1, None)])  # the REMOVE redelivered
    assert found(index, "Rossi") == ["a6"]


def test_a_malformed_cursor_is_refused(index: SearchIndex) -> None:
    with pytest.raises(ValueError):
        index.search("g1", None, 2, "not-a-cursor")


def _listed(index: SearchIndex, listing: Listing, text: str = "", size: int = 3) -> tuple[list[str], set[int | None]]:
    """Every page of a listing, in order, and the totals the pages reported."""
    ids: list[str] = []
    totals: set[int | None] = set()
    cursor = None
    while True:
        page = index.search("g1", parse_query(text), size, cursor, listing)
        ids += [d.id for d in page.items]
        totals.add(page.total)
        cursor = page.next_cursor
        if cursor is None:
            return ids, totals


def test_the_list_sorts_by_any_column_both_ways_with_a_total(index: SearchIndex) -> None:
    owners = sorted(PEOPLE, key=lambda p: (p[1].lower(), p[2].lower(), p[0]))
    ids, totals = _listed(index, Listing(sort="full_name"))
    assert ids == [p[0] for p in owners] and totals == {8}
    ids, totals = _listed(index, Listing(sort="full_name", descending=True))
    assert ids == [p[0] for p in reversed(owners)] and totals == {8}
    ids, _ = _listed(index, Listing(sort="phone_number"))
    assert ids == [p[0] for p in sorted(PEOPLE, key=lambda p: (p[3], p[2].lower(), p[0]))]


def test_the_list_filters_by_status_enabled_type_and_sms_problem_beside_a_search(index: SearchIndex) -> None:
    changed = [
        IndexChange("a2", 2, replace(doc(*PEOPLE[1]), version=2, enabled=False, status="activated")),
        IndexChange("a3", 2, replace(doc(*PEOPLE[2]), version=2, account_type="SNOM", sms_problem="undelivered")),
    ]
    index.apply(changed)
    assert _listed(index, Listing(enabled=False)) == (["a2"], {1})
    assert _listed(index, Listing(status="activated")) == (["a2"], {1})
    assert _listed(index, Listing(account_type="SNOM")) == (["a3"], {1})
    assert _listed(index, Listing(sms_problem=True)) == (["a3"], {1})
    assert _listed(index, Listing(sms_problem=False, enabled=True), "Marco") == (["a1"], {1})
    assert _listed(index, Listing(status="installed")) == ([], {0})
