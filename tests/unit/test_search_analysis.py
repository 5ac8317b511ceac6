"""The analysis every engine is given (domain/analysis.py), held against a Lucene-style analyzer: tantivy's
regex tokenizer for runs of letters and digits, with its lowercase and ASCII-folding filters (a port of Lucene's
ASCIIFoldingFilter). Same tokens for names, e-mails, numbers and descriptions: what OpenSearch's
"letters-and-digits tokenizer + lowercase + asciifolding" would give, computed once, in our code."""

from __future__ import annotations

import pytest
import tantivy

from chalicelib.domain.analysis import analyze, fold, whole_pieces, words

LUCENE_STYLE = (
    tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.regex(r"[\p{L}\p{N}]+"))
    .filter(tantivy.Filter.lowercase())
    .filter(tantivy.Filter.ascii_fold())
    .build()
)

SAMPLES = [
    # names
    "Marco Rossi", "Giulio Marconi", "Rossi-Bianchi, Anne-Marie", "Niccolò D'Angelo", "José García",
    "François Müller-Lüdenscheidt", "Zoë Ødegård", "Łukasz Żółć", "Ærøskøbing Œuvre", "Ana María Núñez",
    "Jean\u2011Luc Picard", "O\u2019Neill", "Dvořák Šťastný", "Çağlar",
    # e-mails
    "marco.rossi@example.com", "anna+tag@example.co.uk", "JOSE.GARCIA@Example.NET", "x_y-z@sub.example.org",
    # numbers and usernames
    "+393471000001 393479999999", "+44 1234 567890", "x-ray.7", "1001",
    # descriptions
    "Sales manager, Milano", "Board (CEO)", "Via\u00a0Roma 12", "Straße 5;\u2003Øresund", "a.b$c [brackets]",
    "Tab\tseparated\nlines\u3000ideographic", "Café crème brûlée",
]  # fmt: skip


@pytest.mark.parametrize("text", SAMPLES)
def test_our_words_are_the_tokens_of_a_letters_digits_tokenizer_with_lowercase_and_ascii_folding(text: str) -> None:
    assert words(text) == LUCENE_STYLE.analyze(text)


def test_the_one_known_difference_a_dotted_capital_i_folds_to_a_plain_i() -> None:
    # lower-casing İ gives i + U+0307 (combining dot), which Lucene-style folding keeps and nobody types
    assert LUCENE_STYLE.analyze("İlker") == ["i\u0307lker"]
    assert words("İlker") == ["ilker"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Niccolò", "niccolo"),
        ("GARCÍA", "garcia"),
        ("Straße", "strasse"),
        ("ØRESUND", "oresund"),
        ("Łódź", "lodz"),
        ("Æsir", "aesir"),
        ("ﬁne", "fine"),
    ],
)
def test_folding_ignores_case_and_accents(text: str, expected: str) -> None:
    assert fold(text) == expected


def test_whole_pieces_keep_addresses_and_punctuated_names_whole_trimmed_at_the_edges() -> None:
    assert whole_pieces("Contact <Marco.Rossi@Example.com>, (CEO) x-ray.7 D'Angelo +39347") == [
        "marco.rossi@example.com",
        "x-ray.7",
        "d'angelo",
    ]
    assert analyze("José  García").whole == ()  # plain words are no whole pieces
