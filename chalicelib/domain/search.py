"""The manual's account search (1.1.6): Lucene's classic query syntax, parsed once into our own query form.

Syntax (as Lucene's classic QueryParser): words; `"phrases"`; `field:` before a word, a phrase or a group
(owner, username, callerid, email, description; a bare word searches all five); `AND`/`&&`, `OR`/`||`,
`NOT`/`!`, `+` (required), `-` (prohibited), parentheses; `*` (any run of characters) and `?` (exactly one) in
any position, leading too; `\\` escapes any character, an escaped space included (`Marco\\ Rossi` is one term,
which analyses into the phrase "marco rossi"). Deliberate differences from Lucene (README, Search):
- words side by side must all match (default operator AND), and AND binds tighter than OR;
- a purely negative query or sub-query (`-Marco`, `a OR NOT b`) means "all accounts except";
- field names are case-insensitive; a blank query lists every account; `callerid:+3934…` is accepted;
- every kind of white space separates (Lucene: space, tab, CR, LF and U+3000 only).
Fuzzy (`~`), proximity (`"…"~2`), boosts (`^`), ranges (`[a TO b]`, `{a TO b}`) and regular expressions
(`/…/`) are refused with a plain reason.

Words and phrases are analysed like the fields (domain/analysis.py): `D'Angelo` searches the phrase
"d angelo", `José` the word `jose`. Wildcards are folded and lower-cased like words; a wildcard whose literal
part holds punctuation (`marco.rossi@*`) matches the fields' whole pieces instead of their words.

Cost is bounded here, before any engine sees the query: wildcard runs are normalised (`*?*?` → `??*`), and a
word with more wildcards than MAX_STARS / MAX_QUESTION_MARKS, a query with more than MAX_WILDCARD_WORDS
wildcard words, or more than one word that begins with a wildcard (which reads a field's whole term dictionary;
MAX_SCANS counts fields) is refused, so that accepted queries stay near or under 100 ms at 100,000 accounts
(bench/search.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from chalicelib.domain.analysis import fold, is_word_character, lengths_matching, words
from chalicelib.domain.errors import DomainError

FIELDS = ("owner", "username", "callerid", "email", "description")
MAX_QUERY_LENGTH = 500
MAX_DEPTH = 16
MAX_STARS = 4  # `*` in one word
MAX_QUESTION_MARKS = 8  # `?` in one word
MAX_WILDCARD_WORDS = 6  # words with a wildcard in one query
MAX_SCANS = 3  # fields read whole for wildcards that begin with one: one such word (on all fields), or three fielded
EXAMPLE = 'owner:"Marco Rossi" OR (Bianchi AND -description:sales) OR Marco*'


class InvalidQuery(DomainError):
    code = "invalid_query"
    title = "Invalid query"

    def __init__(self, reason: str) -> None:
        super().__init__(f"{reason} A search looks like this: {EXAMPLE}", field="q")
        self.reason = reason


@dataclass(frozen=True)
class Term:
    field: str | None  # None: any of FIELDS
    text: str  # one word, analysed


@dataclass(frozen=True)
class Wildcard:
    field: str | None
    glob: str  # folded; `*` and `?` are wildcards, `\\*`, `\\?` and `\\\\` literal
    whole: bool = False  # True: matches the fields' whole pieces (the glob holds punctuation), else their words


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


def glob_to_regex(glob: str, escape: Callable[[str], str] = re.escape) -> str:
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
    """Parse the search box. None for a blank query (everything matches). Raises InvalidQuery."""
    if len(text) > MAX_QUERY_LENGTH:
        raise InvalidQuery(f"The search is longer than {MAX_QUERY_LENGTH} characters.")
    if not text.strip():
        return None
    parser = _Parser(_lex(text))
    query = parser.parse()
    if query is None:
        raise InvalidQuery("The search has no letters or digits to look for.")
    if parser.wildcard_words > MAX_WILDCARD_WORDS:
        raise InvalidQuery(
            f"The search has {parser.wildcard_words} words with wildcards; at most {MAX_WILDCARD_WORDS} are allowed."
        )
    if parser.scans > MAX_SCANS:
        raise InvalidQuery(
            "Only one word of a search may begin with a wildcard (each such word reads every word of the index), "
            f"or up to {MAX_SCANS} if each is limited to a field, e.g. email:*@example.com."
        )
    return query


# --- lexer ------------------------------------------------------------------------------------------------------

_TERM_STOP = set('()":^~[]{}!')  # besides white space; `+`, `-`, `/`, `&`, `|`, `*`, `?` may sit inside a term
_REFUSED = {
    "^": "boosts (^)",
    "[": "ranges ([a TO b])",
    "{": "ranges ({a TO b})",
    "/": "regular expressions (/…/)",
}


@dataclass(frozen=True)
class _Token:
    kind: str  # WORD PHRASE AND OR NOT PLUS MINUS LPAREN RPAREN COLON TILDE
    text: str
    position: int


_SINGLE = {"(": "LPAREN", ")": "RPAREN", ":": "COLON", "!": "NOT", "+": "PLUS", "-": "MINUS", "~": "TILDE"}
_OPERATORS = {"AND": "AND", "&&": "AND", "OR": "OR", "||": "OR", "NOT": "NOT"}


def _lex(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char.isspace():
            i += 1
        elif char in _SINGLE:
            tokens.append(_Token(_SINGLE[char], char, i))
            i += 1
        elif char in _REFUSED:
            raise InvalidQuery(f"The search does not support {_REFUSED[char]}.")
        elif char in "]}":
            raise InvalidQuery(f"'{char}' at character {i + 1} closes nothing; write \\{char} to search for it.")
        elif char == '"':
            i = _lex_phrase(text, i, tokens)
        else:
            i = _lex_term(text, i, tokens)
    return tokens


def _lex_phrase(text: str, start: int, tokens: list[_Token]) -> int:
    i = start + 1
    while i < len(text) and text[i] != '"':
        i += 2 if text[i] == "\\" else 1
    if i >= len(text):
        raise InvalidQuery(f'The quotation mark at character {start + 1} is never closed; add a closing ".')
    tokens.append(_Token("PHRASE", text[start + 1 : i], start))
    return i + 1


def _lex_term(text: str, start: int, tokens: list[_Token]) -> int:
    i = start
    while i < len(text) and not text[i].isspace() and text[i] not in _TERM_STOP:
        if text[i] == "\\":
            if i + 1 == len(text):
                raise InvalidQuery("The search ends with a lone backslash; write \\\\ to search for one.")
            i += 1
        i += 1
    value = text[start:i]
    tokens.append(_Token(_OPERATORS.get(value, "WORD"), value, start))
    return i


# --- parser (OR < AND < NOT/+/-) --------------------------------------------------------------------------------

_ENDS_CLAUSE = (None, "RPAREN", "OR", "AND")


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.at = 0
        self.wildcard_words = 0
        self.scans = 0  # fields to be read whole (wildcards without a literal start)

    def parse(self) -> Query | None:
        query = self._or(None, 0)
        token = self._peek()
        if token is not None:
            raise InvalidQuery(f"')' at character {token.position + 1} closes no parenthesis.")
        return query

    def _peek(self) -> _Token | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def _kind(self) -> str | None:
        token = self._peek()
        return token.kind if token else None

    def _next(self) -> _Token:
        if self.at >= len(self.tokens):
            raise InvalidQuery("The search ends where a word is expected.")
        token = self.tokens[self.at]
        self.at += 1
        return token

    def _operand_after(self, operator: _Token) -> None:
        if self._kind() in _ENDS_CLAUSE:
            raise InvalidQuery(f"'{operator.text}' at character {operator.position + 1} needs a word after it.")

    def _or(self, field: str | None, depth: int) -> Query | None:
        items = [self._and(field, depth)]
        while self._kind() == "OR":
            self._operand_after(self._next())
            items.append(self._and(field, depth))
        return _combine(Or, items)

    def _and(self, field: str | None, depth: int) -> Query | None:
        token = self._peek()
        if token is not None and token.kind in ("AND", "OR"):
            raise InvalidQuery(f"'{token.text}' at character {token.position + 1} needs a word before it.")
        items = [self._unary(field, depth)]
        while self._kind() not in (None, "RPAREN", "OR"):
            if self._kind() == "AND":
                self._operand_after(self._next())
            items.append(self._unary(field, depth))
        return _combine(And, items)

    def _unary(self, field: str | None, depth: int) -> Query | None:
        if depth > MAX_DEPTH:
            raise InvalidQuery(f"The search is nested deeper than {MAX_DEPTH} levels.")
        token = self._peek()
        if token is not None and token.kind in ("NOT", "PLUS", "MINUS"):
            self._next()
            self._operand_after(token)
            item = self._unary(field, depth + 1)
            return item if token.kind == "PLUS" or item is None else Not(item)
        return self._primary(field, depth)

    def _primary(self, field: str | None, depth: int) -> Query | None:
        token = self._next()
        if token.kind == "LPAREN":
            return self._group(token, field, depth)
        if token.kind == "WORD" and self._kind() == "COLON":
            return self._field(token, field, depth)
        if token.kind in ("WORD", "PHRASE"):
            self._no_modifier(token)
            return self._leaf(token, field)
        if token.kind == "COLON":
            raise InvalidQuery(f"':' at character {token.position + 1} needs a field name before it, e.g. owner:Marco.")
        if token.kind == "TILDE":
            raise InvalidQuery("The search does not support fuzzy search (~).")
        raise InvalidQuery(f"'{token.text}' at character {token.position + 1} closes no parenthesis.")

    def _group(self, opening: _Token, field: str | None, depth: int) -> Query | None:
        if self._kind() == "RPAREN":
            raise InvalidQuery(f"The parentheses at character {opening.position + 1} hold nothing.")
        query = self._or(field, depth + 1)
        if self._kind() != "RPAREN":
            raise InvalidQuery(f"The parenthesis at character {opening.position + 1} is never closed; add a ')'.")
        self._no_modifier(self._next())
        return query

    def _field(self, name: _Token, outer: str | None, depth: int) -> Query | None:
        self._next()  # the colon
        field = _unescape(name.text).lower()
        if outer is not None:
            raise InvalidQuery(f"Field '{name.text}' inside field '{outer}' is not allowed.")
        if field not in FIELDS:
            raise InvalidQuery(f"Unknown field '{name.text}': search in {', '.join(FIELDS)}.")
        if self._kind() not in ("WORD", "PHRASE", "LPAREN", "PLUS", "MINUS", "NOT"):
            raise InvalidQuery(f"'{name.text}:' needs a word, a phrase or parentheses after it, e.g. {field}:Marco.")
        return self._unary(field, depth + 1)

    def _no_modifier(self, token: _Token) -> None:
        if self._kind() == "TILDE":
            what = "proximity search" if token.kind == "PHRASE" else "fuzzy search"
            raise InvalidQuery(f"The search does not support {what} (~).")

    def _leaf(self, token: _Token, field: str | None) -> Query | None:
        if token.kind == "PHRASE":
            return _analysed(field, words(_unescape(token.text)))
        if _has_wildcard(token.text):
            self.wildcard_words += 1
            query = _wildcard(field, token.text)
            if query.glob[:1] in ("*", "?") and lengths_matching(query.glob) is None:  # `*`, `???`: cheap
                self.scans += 1 if field else MAX_SCANS  # (the five fields of a bare word are read together)
            return query
        return _analysed(field, words(_unescape(token.text)))


def _combine(kind: type[And] | type[Or], items: list[Query | None]) -> Query | None:
    kept = tuple(item for item in items if item is not None)
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else kind(kept)


def _analysed(field: str | None, found: list[str]) -> Query | None:
    if not found:
        return None  # only punctuation: nothing to look for, like Lucene's analyzer dropping the clause
    return Term(field, found[0]) if len(found) == 1 else Phrase(field, tuple(found))


def _unescape(text: str) -> str:
    out: list[str] = []
    escaped = False
    for char in text:
        if escaped or char != "\\":
            out.append(char)
            escaped = False
        else:
            escaped = True
    return "".join(out)


def _has_wildcard(text: str) -> bool:
    return any(kind == "wild" for kind, _ in _glob_items(text))


def _glob_items(text: str) -> list[tuple[str, str]]:
    """A raw term as ("wild", "*"/"?") and ("literal", char) items."""
    items: list[tuple[str, str]] = []
    escaped = False
    for char in text:
        if escaped:
            items.append(("literal", char))
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            items.append(("wild", char) if char in "*?" else ("literal", char))
    return items


def _wildcard(field: str | None, text: str) -> Wildcard:
    items = _fold_literals(_glob_items(text))
    while items and items[0][0] == "literal" and not is_word_character(items[0][1]):
        items.pop(0)  # `+44*` → `44*`, `(ceo*` → `ceo*`: punctuation at the edges, trimmed like whole pieces
    while items and items[-1][0] == "literal" and not is_word_character(items[-1][1]):
        items.pop()
    glob = _normalised_glob(items, text)
    whole = any(kind == "literal" and not is_word_character(char) for kind, char in items)
    return Wildcard(field, glob, whole)


def _fold_literals(items: list[tuple[str, str]]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    run: list[str] = []
    for kind, char in [*items, ("end", "")]:
        if kind == "literal":
            run.append(char)
            continue
        out += [("literal", c) for c in fold("".join(run))]
        run = []
        if kind == "wild":
            out.append((kind, char))
    return out


def _normalised_glob(items: list[tuple[str, str]], text: str) -> str:
    """The glob with each run of wildcards in a canonical order (`*?*` → `?*`): the same matches, a far smaller
    automaton. Refuses words whose wildcards would still cost too much."""
    out: list[str] = []
    stars = questions = 0
    run = ""
    for kind, char in [*items, ("end", "")]:
        if kind == "wild":
            run += char
            continue
        if run:
            out.append("?" * run.count("?") + ("*" if "*" in run else ""))
            stars += "*" in run
            questions += run.count("?")
            run = ""
        if kind == "literal":
            out.append("\\" + char if char in "*?\\" else char)
    if stars > MAX_STARS:
        raise InvalidQuery(f"'{text}' has {stars} separate '*'; one word may have at most {MAX_STARS}.")
    if questions > MAX_QUESTION_MARKS:
        raise InvalidQuery(f"'{text}' has {questions} '?'; one word may have at most {MAX_QUESTION_MARKS}.")
    return "".join(out)
