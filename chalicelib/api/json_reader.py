"""The one reader of JSON request bodies (API, the phones' /m/ routes, login): strict UTF-8, no lone surrogates,
bounded nesting and number sizes. Whatever a client sends, the answer is a value or a JsonRefused (a 400)."""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 32  # our bodies nest three levels at most
MAX_NUMBER_CHARS = 32  # digits, sign, point and exponent of one number


class JsonRefused(ValueError):
    """The body is not JSON we accept; the message says why in plain words."""


def _depth(text: str) -> int:
    """The deepest nesting of arrays and objects, brackets inside strings not counted."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _number(kind: type[int] | type[float]) -> Any:
    def parse(literal: str) -> int | float:
        if len(literal) > MAX_NUMBER_CHARS:
            raise JsonRefused(f"A number has more than {MAX_NUMBER_CHARS} characters.")
        return kind(literal)

    return parse


def _refuse_constant(name: str) -> Any:
    raise JsonRefused(f"{name} is not a JSON number.")


def _check_strings(value: Any) -> None:
    """Every string (keys included) is valid Unicode: `\\ud800` escapes decode to lone surrogates, which
    no later encoding survives."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise JsonRefused("A string holds an unpaired surrogate (invalid Unicode).") from exc
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def parse(data: bytes) -> Any:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise JsonRefused("The body is not UTF-8.") from exc
    if _depth(text) > MAX_DEPTH:
        raise JsonRefused(f"The body nests deeper than {MAX_DEPTH} levels.")
    try:
        value = json.loads(text, parse_int=_number(int), parse_float=_number(float), parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise JsonRefused(f"The body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}.") from exc
    _check_strings(value)
    return value
