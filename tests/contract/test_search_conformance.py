"""One conformance suite for the search semantics (manual 1.1.6), run against the in-memory index and tantivy.

The OpenSearch adapter is checked by its request bodies (tests/contract/test_search_opensearch.py): no
OpenSearch server can be had on this machine.
"""

from __future__ import annotations

import pytest

from chalicelib.adapters.search_memory import MemorySearchIndex
from chalicelib.adapters.search_tantivy import TantivySearchIndex
from chalicelib.domain.search import InvalidQuery, parse_query
from chalicelib.services.search_port import IndexChange, SearchDocument, SearchIndex

PEOPLE = [
    # id, owner, username, number, secondary, email, description
    ("a1", "Marco Rossi", "1001", "+393471000001", None, "marco.rossi@example.com", "Sales manager"),
    ("a2", "Marco Bianchi", "1002", "+393471000002", None, "mb@example.com", "Sales"),
    ("a3", "Giulio Marconi", "1003", "+393471000003", "+393479999999", "giulio@example.org", "Board (CEO)"),
    ("a4", "José Álvarez", "2001", "111", None, "", "Tester: uses [brackets] and a.b$c"),
    ("a5", "Anna Maria Verdi", "x-ray.7", "+441234567890", None, "anna+tag@example.co.uk", "Support desk London"),
]


def doc(i: str, owner: str, username: str, number: str, secondary: str | None, email: str, description: str,
        group: str = "g1") -> SearchDocument:  # fmt: skip
    return SearchDocument(
        id=i, group_id=group, version=1, username=username, full_name=owner, phone_number=number,
        secondary_phone_number=secondary, email=email, description=description, account_type="PGSM",
        enabled=True, status="created", status_changed_at="2026-11-25T10:00:00.000Z",
    )  # fmt: skip


@pytest.fixture(params=["memory", "tantivy"])
def index(request: pytest.FixtureRequest) -> SearchIndex:
    engine: SearchIndex = MemorySearchIndex() if request.param == "memory" else TantivySearchIndex()
    changes = [IndexChange(p[0], 1, doc(*p)) for p in PEOPLE]
    changes.append(IndexChange("b1", 1, doc("b1", "Marco Rossi", "9001", "+393470000009", None, "", "", group="g2")))
    engine.apply(changes)
    return engine


def found(index: SearchIndex, text: str, group: str = "g1") -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        page = index.search(group, parse_query(text), 2, cursor)
        ids += [d.id for d in page.items]
        cursor = page.next_cursor
        if cursor is None:
            return sorted(ids)


CASES = [
    # the manual's examples
    ("Marco", ["a1", "a2"]),
    ("Marco Rossi", ["a1"]),
    ("Marco*", ["a1", "a2", "a3"]),
    ("Marco??", ["a3"]),
    # case-insensitive exact words, all words must match
    ("marco", ["a1", "a2"]),
    ("MARCO ROSSI", ["a1"]),
    ("Marco Verdi", []),
    ("Marc", []),
    # field-qualified terms
    ("owner:Marco", ["a1", "a2"]),
    ("username:1003", ["a3"]),
    ("email:mb@example.com", ["a2"]),
    ("description:sales", ["a1", "a2"]),
    ("owner:sales", []),
    ("OWNER:marco", ["a1", "a2"]),
    # phrases
    ('"Marco Rossi"', ["a1"]),
    ('"Rossi Marco"', []),
    ('owner:"Anna Maria"', ["a5"]),
    ('"sales manager"', ["a1"]),
    # boolean operators
    ("Rossi OR Bianchi", ["a1", "a2"]),
    ("Marco AND NOT Rossi", ["a2"]),
    ("Marco -Rossi", ["a2"]),
    ("NOT Marco", ["a3", "a4", "a5"]),  # "Marconi" is another word
    ("-Marco", ["a3", "a4", "a5"]),
    ("(Rossi OR Marconi) AND sales", ["a1"]),
    ("owner:(Marco Bianchi)", ["a2"]),
    ("+Marco +Bianchi", ["a2"]),
    # wildcards in any position
    ("*rco", ["a1", "a2"]),
    ("*arc*", ["a1", "a2", "a3"]),
    ("M?rco", ["a1", "a2"]),
    ("?arco", ["a1", "a2"]),
    ("m*i", ["a3"]),
    ("email:*@example.com", ["a1", "a2"]),
    ("email:*example*", ["a1", "a2", "a3", "a5"]),
    ("username:x-ray*", ["a5"]),
    ("*", ["a1", "a2", "a3", "a4", "a5"]),
    # numbers, with and without the + that Lucene reads as an operator
    ("+393471000001", ["a1"]),
    ("393471000001", ["a1"]),
    ('"+393471000001"', ["a1"]),
    ("callerid:\\+393471000002", ["a2"]),
    ("callerid:+39347100000?", ["a1", "a2", "a3"]),
    ("+393479999999", ["a3"]),  # secondary number
    ("callerid:111", ["a4"]),
    ("callerid:+44*", ["a5"]),
    # e-mail addresses with + and dots
    ("anna+tag@example.co.uk", ["a5"]),
    ("email:anna\\+tag@example.co.uk", ["a5"]),
    # accents: matched as written, case-insensitively
    ("josé", ["a4"]),
    ("ÁLVAREZ", ["a4"]),
    ("jose", []),
    ("Jos?", ["a4"]),
    # regex metacharacters are literal
    ("a.b$c", ["a4"]),
    ("a.b*", ["a4"]),
    ("a?b$c", ["a4"]),
    ("\\[brackets\\]", ["a4"]),
    ("(ceo)", []),
    ('"(CEO)"', ["a3"]),
    # whitespace is a separator, nothing more
    ("  Marco    Rossi  ", ["a1"]),
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
    assert [d.username for d in page.items] == ["1001", "1002", "1003", "2001", "x-ray.7"]
    assert found(index, "Marco", group="g2") == ["b1"]


def test_results_carry_the_account_list_columns(index: SearchIndex) -> None:
    (hit,) = index.search("g1", parse_query("Bianchi"), 10, None).items
    assert (hit.username, hit.full_name, hit.phone_number, hit.status) == (
        "1002",
        "Marco Bianchi",
        "+393471000002",
        "created",
    )


def test_deeply_nested_parentheses_are_fine_up_to_a_limit(index: SearchIndex) -> None:
    assert found(index, "(" * 10 + "Bianchi" + ")" * 10) == ["a2"]
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
        ("(Marco", "cannot be read"),
        ("Marco AND", "cannot be read"),
        ('"unterminated', "cannot be read"),
        ("marco~1", "fuzzy"),
        ("marco^2", "boosting"),
        ("username:[1000 TO 2000]", "ranges"),
        ("/mar.*/", "regular expressions"),
        ('""', "empty phrase"),
    ],
)
def test_malformed_or_forbidden_queries_say_why(text: str, message: str) -> None:
    with pytest.raises(InvalidQuery, match=message) as exc:
        parse_query(text)
    assert exc.value.field == "q"


def test_redelivered_and_reordered_changes_never_restore_old_state(index: SearchIndex) -> None:
    old = doc("a2", "Marco Bianchi", "1002", "+393471000002", None, "mb@example.com", "Sales")
    new = doc("a2", "Marco Neri", "1002", "+393471000002", None, "mb@example.com", "Sales")
    index.apply([IndexChange("a2", 3, new), IndexChange("a2", 2, old)])  # out of order
    assert found(index, "Neri") == ["a2"] and found(index, "Bianchi") == []
    index.apply([IndexChange("a2", 3, new)])  # redelivered
    assert found(index, "Neri") == ["a2"]


def test_a_deletion_is_final_even_when_older_records_arrive_late(index: SearchIndex) -> None:
    index.apply([IndexChange("a1", 1, None)])  # REMOVE carries the deleted item's version
    assert found(index, "Rossi") == []
    late = doc("a1", "Marco Rossi", "1001", "+393471000001", None, "", "")
    index.apply([IndexChange("a1", 1, late)])  # the INSERT redelivered after the REMOVE
    assert found(index, "Rossi") == []
    index.apply([IndexChange("a1", 1, None)])  # the REMOVE redelivered
    assert found(index, "Rossi") == []


def test_a_malformed_cursor_is_refused(index: SearchIndex) -> None:
    with pytest.raises(ValueError):
        index.search("g1", None, 2, "not-a-cursor")
