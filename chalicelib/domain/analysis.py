"""The analysis of every searchable field, the same for every engine (memory, tantivy, OpenSearch).

A word is a run of letters and digits; everything else (every kind of white space, punctuation, symbols)
separates words. Comparison ignores case and accents: text is case-folded, decomposed (NFKD), stripped of its
combining marks, and the few Latin letters that do not decompose are spelt out (`ø` → `o`, `ß` → `ss`, …).

Besides its words, a field keeps its *whole pieces*: each white-space separated piece that holds punctuation
inside (an e-mail address, `x-ray.7`, `D'Angelo`), folded like words and trimmed of punctuation at either end.
A wildcard that holds punctuation (`marco.rossi@*`, `*@example.net`) matches whole pieces; every other query
matches words. The engines are given these tokens ready-made, joined by single spaces, and only split at those
spaces, so no engine can analyse differently (docs/decisions.md: "one analysis, computed in our code").
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


LONG_WORD = 32  # word lengths from here on share one length token
PREFIX_CHARACTERS = 10  # words' beginnings indexed up to this length, for prefix wildcards (`Marco*`, `+39347*`)


def length_token(length: int) -> str:
    return str(length) if length < LONG_WORD else f"{LONG_WORD}+"


def lengths_matching(glob: str) -> list[str] | None:
    """For a glob of wildcards only (`*`, `???`, `??*`): the length tokens of the words it matches, so that an
    engine can answer it from a few length terms instead of reading every word of a field. None otherwise."""
    if not glob or set(glob) - {"*", "?"}:
        return None
    least = glob.count("?")
    if "*" not in glob:
        return [length_token(least)]
    return [length_token(n) for n in range(max(least, 1), LONG_WORD + 1)]


def prefix_matching(glob: str) -> str | None:
    """For a glob that is letters and digits followed by one `*` (`marco*`), at most PREFIX_CHARACTERS long:
    the beginning of a word it stands for, which an engine looks up as one term. None otherwise."""
    stem = glob[:-1]
    if glob.endswith("*") and 0 < len(stem) <= PREFIX_CHARACTERS and WORD.fullmatch(stem):
        return stem
    return None


def domain_matching(glob: str) -> str | None:
    """For `*@` followed by literal characters without `@` (`*@example.net`): the domain token it stands for."""
    rest = glob[2:]
    if glob.startswith("*@") and rest and not set(rest) & set("*?\\@"):
        return "@" + rest
    return None


@dataclass(frozen=True)
class FieldTokens:
    words: tuple[str, ...]
    whole: tuple[str, ...]

    def lengths(self) -> tuple[str, ...]:
        return tuple(sorted({length_token(len(word)) for word in self.words}))

    def domains(self) -> tuple[str, ...]:
        """`@` and what follows the last `@` of each whole piece (`@example.net`), for `*@example.net`."""
        return tuple(sorted({"@" + piece.rsplit("@", 1)[1] for piece in self.whole if "@" in piece}))

    def prefixes(self) -> tuple[str, ...]:
        found = {word[:n] for word in self.words for n in range(1, min(len(word), PREFIX_CHARACTERS) + 1)}
        return tuple(sorted(found))


def analyze(text: str) -> FieldTokens:
    return FieldTokens(tuple(words(text)), tuple(whole_pieces(text)))
