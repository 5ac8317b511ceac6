"""The analysis of every searchable field, the same for every engine (memory, tantivy, OpenSearch).

A word is a run of letters and digits; everything else (every kind of white space, punctuation, symbols)
separates words. Comparison ignores case and accents: text is case-folded, decomposed (NFKD), stripped of its
combining marks, and the few Latin letters that do not decompose are spelt out (`ø` → `o`, `ß` → `ss`, …).

Besides its words, a field keeps its *whole pieces*: each white-space separated piece that holds punctuation
inside (an e-mail address, `x-ray.7`, `D'Angelo`), folded like words and trimmed of punctuation at either end.
A wildcard that holds punctuation (`marco.rossi@*`, `*@example.net`) matches whole pieces; every other query
matches words. The engines are given these tokens ready-made, joined by single spaces, and only split at those
spaces, so no engine can analyse differently (docs/decisions.md, 42).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

WORD = re.compile(r"[^\W_]+")  # letters and digits: Unicode categories L and N
_EDGE_PUNCTUATION = re.compile(r"^[\W_]+|[\W_]+$")
# Latin letters without a Unicode decomposition, folded as Lucene's ASCIIFoldingFilter folds them
_UNDECOMPOSED = str.maketrans(
    {"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ħ": "h", "\u0131": "i",
     "ŀ": "l", "ŧ": "t", "ŋ": "n", "ĸ": "q", "ƒ": "f", "ɨ": "i", "ʉ": "u"}
)  # fmt: skip


def fold(text: str) -> str:
    """Case- and accent-folded text: `Niccolò` → `niccolo`, `Straße` → `strasse`, `ØRE` → `ore`."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).translate(_UNDECOMPOSED)


def words(text: str) -> list[str]:
    """The words of a text, folded: `Rossi-Bianchi, (CEO)` → `rossi bianchi ceo`."""
    return WORD.findall(fold(text))


def whole_pieces(text: str) -> list[str]:
    """The pieces between white space that hold punctuation inside, folded and trimmed at either end."""
    pieces = (_EDGE_PUNCTUATION.sub("", piece) for piece in fold(text).split())
    return [piece for piece in pieces if piece and not WORD.fullmatch(piece)]


def is_word_character(char: str) -> bool:
    return WORD.fullmatch(char) is not None


@dataclass(frozen=True)
class FieldTokens:
    words: tuple[str, ...]
    whole: tuple[str, ...]


def analyze(text: str) -> FieldTokens:
    return FieldTokens(tuple(words(text)), tuple(whole_pieces(text)))
