"""The manual's account search (1.1.6): Lucene query syntax, parsed once into our own query form.

Fields: owner, username, callerid, email, description. A bare word searches all five. Words match whole
tokens (text split on white space, lower-cased) exactly, unless they contain `*` (any run of characters) or
`?` (exactly one). Words side by side must all match (AND), unlike Lucene's default OR. Phrases match tokens in
sequence. `AND`, `OR`, `NOT`, `-`, `+` and parentheses work as in Lucene.

`+` is Lucene's "required" operator, so `+393471234567` reads as the word `393471234567`: numbers are indexed
both with and without their `+`, so that query finds the account anyway; `"+39…"` (quoted) and `\\+39…`
(escaped) match the exact token too.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

from luqum import tree
from luqum.exceptions import ParseError
from luqum.parser import parser as _luqum_parser

from chalicelib.domain.errors import DomainError

FIELDS = ("owner", "username", "callerid", "email", "description")
MAX_QUERY_LENGTH = 500
MAX_DEPTH = 16
_parse_lock = threading.Lock()  # ply parsers keep state while parsing


class InvalidQuery(DomainError):
    code = "invalid_query"
    title = "Invalid query"

    def __init__(self, message: str) -> None:
        super().__init__(message, field="q")


@dataclass(frozen=True)
class Term:
    field: str | None  # None: any of FIELDS
    text: str  # one lower-cased token


@dataclass(frozen=True)
class Wildcard:
    field: str | None
    glob: str  # lower-cased; `*` and `?` are wildcards, `\\*`, `\\?` and `\\\\` literal


@dataclass(frozen=True)
class Phrase:
    field: str | None
    words: tuple[str, ...]


@dataclass(frozen=True)
class And:
    items: tuple[Query, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Query, ...]


@dataclass(frozen=True)
class Not:
    item: Query


Query = Term | Wildcard | Phrase | And | Or | Not


def tokens(text: str) -> list[str]:
    """The analyzer of every searchable field: split on white space, lower-case."""
    return text.lower().split()


def glob_to_regex(glob: str, escape: Any = re.escape) -> str:
    """Translate a glob into a full-match regex, escaping literal characters with `escape`."""
    out: list[str] = []
    escaped = False
    for char in glob:
        if escaped:
            out.append(escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        else:
            out.append(escape(char))
    return "".join(out)


def parse_query(text: str) -> Query | None:
    """Parse the search box. None for an empty query (everything matches). Raises InvalidQuery."""
    if len(text) > MAX_QUERY_LENGTH:
        raise InvalidQuery(f"The query is longer than {MAX_QUERY_LENGTH} characters.")
    if not text.strip():
        return None
    try:
        with _parse_lock:
            node = _luqum_parser.parse(text)
    except ParseError as exc:
        raise InvalidQuery(f"The query cannot be read: {exc}".rstrip("!") + ".") from exc
    except RecursionError as exc:
        raise InvalidQuery("The query is nested too deeply.") from exc
    return _Converter().convert(node, None, 0)


_UNSUPPORTED = {
    tree.Fuzzy: "fuzzy search (~)",
    tree.Proximity: "proximity search (~)",
    tree.Boost: "boosting (^)",
    tree.Range: "ranges ([a TO b])",
    tree.Regex: "regular expressions (/…/)",
}


class _Converter:
    def convert(self, node: tree.Item, field: str | None, depth: int) -> Query:
        if depth > MAX_DEPTH:
            raise InvalidQuery(f"The query is nested deeper than {MAX_DEPTH} levels.")
        for kind, what in _UNSUPPORTED.items():
            if isinstance(node, kind):
                raise InvalidQuery(f"The search does not support {what}.")
        if isinstance(node, tree.SearchField):
            return self._field(node, field, depth)
        return self._operation(node, field, depth)

    def _operation(self, node: tree.Item, field: str | None, depth: int) -> Query:
        if isinstance(node, tree.Group | tree.FieldGroup | tree.Plus):
            return self.convert(node.children[0], field, depth + 1)
        if isinstance(node, tree.Not | tree.Prohibit):
            return Not(self.convert(node.children[0], field, depth + 1))
        if isinstance(node, tree.OrOperation):
            return Or(tuple(self.convert(child, field, depth + 1) for child in node.children))
        if isinstance(node, tree.AndOperation | tree.UnknownOperation):
            return And(tuple(self.convert(child, field, depth + 1) for child in node.children))
        if isinstance(node, tree.Phrase):
            return _phrase(node.value[1:-1], field)
        if isinstance(node, tree.Word):
            return _word(node.value, field)
        raise InvalidQuery(f"The search does not support '{node}'.")

    def _field(self, node: tree.SearchField, outer: str | None, depth: int) -> Query:
        name = node.name.lower()
        if outer is not None:
            raise InvalidQuery(f"Field '{node.name}' inside field '{outer}' is not allowed.")
        if name not in FIELDS:
            raise InvalidQuery(f"Unknown field '{node.name}': search in {', '.join(FIELDS)}.")
        return self.convert(node.expr, name, depth + 1)


_WILDCARD = re.compile(r"(?<!\\)(?:\\\\)*[*?]")


def _word(value: str, field: str | None) -> Query:
    lowered = value.lower()
    if _WILDCARD.search(lowered):
        return Wildcard(field, lowered)
    return Term(field, _unescape(lowered))


def _phrase(value: str, field: str | None) -> Query:
    words = tuple(tokens(_unescape(value)))
    if not words:
        raise InvalidQuery('An empty phrase ("") matches nothing; remove it.')
    return Term(field, words[0]) if len(words) == 1 else Phrase(field, words)


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)
