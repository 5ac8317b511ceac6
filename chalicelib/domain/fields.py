"""Typed reading of untrusted request objects, collecting every field error at once.

A `FieldReader` wraps one decoded JSON object. Each accessor returns the typed value, `MISSING` when the
field is absent, or records a `FieldError` (and returns `MISSING`) when the value is of the wrong type or
shape. Unknown fields are errors too. `reader.raise_if_errors()` ends the parse.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Final, TypeVar

from chalicelib.domain.errors import FieldError, ValidationFailed


class _Missing:
    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()
T = TypeVar("T")

_CONTROL_MULTILINE_OK = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_SINGLE_LINE = re.compile(r"[\x00-\x1f\x7f]")


def invisible(text: str) -> bool:
    """Whether `text` holds a format character (Unicode category Cf: zero-width spaces and joiners, bidi
    overrides and isolates, soft hyphens, byte-order marks...): a name with one looks like another name."""
    return any(unicodedata.category(c) == "Cf" for c in text)


class FieldReader:
    def __init__(self, data: Mapping[str, object], allowed: Iterable[str]) -> None:
        self.data = data
        self.errors: list[FieldError] = []
        allowed_set = set(allowed)
        for name in data:
            if name not in allowed_set:
                self.fail(name, "unknown_field", f"Unknown field '{name}'.")

    def fail(self, name: str, code: str, message: str) -> None:
        self.errors.append(FieldError(name, code, message))

    def has_error(self, name: str) -> bool:
        return any(e.field == name for e in self.errors)

    def raise_if_errors(self) -> None:
        if self.errors:
            raise ValidationFailed(self.errors)

    def string(
        self,
        name: str,
        *,
        max_length: int = 200,
        min_length: int = 0,
        multiline: bool = False,
        nullable: bool = False,
        strip: bool = True,
    ) -> str | _Missing:
        """A string, stripped of surrounding white space (not secrets: strip=False); null reads as "" when
        nullable."""
        if name not in self.data:
            return MISSING
        value = self.data[name]
        if value is None and nullable:
            return ""
        if not isinstance(value, str):
            self.fail(name, "invalid_type", f"'{name}' must be a string.")
            return MISSING
        value = unicodedata.normalize("NFKC", value).strip() if strip else value  # (not secrets: kept as typed)
        pattern = _CONTROL_MULTILINE_OK if multiline else _CONTROL_SINGLE_LINE
        if pattern.search(value):
            self.fail(name, "invalid_characters", f"'{name}' contains control characters.")
            return MISSING
        if strip and invisible(value):
            self.fail(name, "invalid_characters", f"'{name}' contains invisible or text-direction characters.")
            return MISSING
        if len(value) > max_length:
            self.fail(name, "too_long", f"'{name}' must be at most {max_length} characters.")
            return MISSING
        if len(value) < min_length:
            code = "required" if not value else "too_short"
            self.fail(name, code, f"'{name}' must be at least {min_length} characters.")
            return MISSING
        return value

    def boolean(self, name: str) -> bool | _Missing:
        if name not in self.data:
            return MISSING
        value = self.data[name]
        if not isinstance(value, bool):
            self.fail(name, "invalid_type", f"'{name}' must be true or false.")
            return MISSING
        return value

    def integer(self, name: str, *, minimum: int, maximum: int, nullable: bool = False) -> int | None | _Missing:
        if name not in self.data:
            return MISSING
        value = self.data[name]
        if value is None and nullable:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(name, "invalid_type", f"'{name}' must be an integer.")
            return MISSING
        if not minimum <= value <= maximum:
            self.fail(name, "out_of_range", f"'{name}' must be between {minimum} and {maximum}.")
            return MISSING
        return value

    def string_list(
        self, name: str, *, max_items: int = 100, max_length: int = 100, nullable: bool = False
    ) -> list[str] | _Missing:
        """A list of strings; null is the empty list only where the field is declared nullable."""
        if name not in self.data:
            return MISSING
        value = self.data[name]
        if value is None and nullable:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(name, "invalid_type", f"'{name}' must be a list of strings.")
            return MISSING
        if len(value) > max_items:
            self.fail(name, "too_many", f"'{name}' may hold at most {max_items} entries.")
            return MISSING
        if any(len(v) > max_length for v in value):
            self.fail(name, "too_long", f"Each entry of '{name}' must be at most {max_length} characters.")
            return MISSING
        if any(not v.strip() for v in value):
            self.fail(name, "blank_entry", f"The entries of '{name}' must not be empty.")
            return MISSING
        return [v.strip() for v in value]

    def choice(self, name: str, choices: type[T]) -> T | _Missing:
        """One of the values of a string enum (matched case-insensitively)."""
        raw = self.string(name, max_length=40)
        if isinstance(raw, _Missing):
            return MISSING
        members = {str(m.value).lower(): m for m in choices}  # type: ignore[attr-defined]
        member = members.get(raw.lower())
        if member is None:
            allowed = ", ".join(str(m.value) for m in choices)  # type: ignore[attr-defined]
            self.fail(name, "invalid_choice", f"'{name}' must be one of: {allowed}.")
            return MISSING
        return member  # type: ignore[no-any-return]


def require(reader: FieldReader, name: str, value: T | _Missing) -> T | _Missing:
    """Record a `required` error when a mandatory field is absent (and not already in error)."""
    if isinstance(value, _Missing) and not reader.has_error(name):
        reader.fail(name, "required", f"'{name}' is required.")
    return value
