"""One declaration per request or response shape, and what is derived from it.

A `Shape` is a name and a tuple of `Field`s: the type, lengths, limits, enum, nullability and whether it is
required, read-only or write-only. From one declaration come
- `shape.read(data)`: the request read by `FieldReader` (every field error at once, the problem+json codes of
  `fields.py`), a dict of the present fields' typed values;
- `shape.render(obj)`: the JSON rendering of a domain object (enums by value, times in ISO 8601, sets sorted);
- `shape.schema()`: the JSON Schema that the generated OpenAPI document publishes and the tests validate
  every response against.
No vendor library: the declaration costs nothing in the Lambda package or at import (docs/decisions.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import Enum
from typing import Any, Literal

from chalicelib.domain.fields import MISSING, FieldReader, _Missing, require
from chalicelib.domain.model import iso

Kind = Literal["string", "boolean", "integer", "strings", "choice", "datetime", "object", "shape", "shapes", "any"]


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind = "string"
    max_length: int | None = None
    min_length: int = 0
    rule_min_length: int | None = None  # a longer minimum a rule checks with its own code (passwords)
    nullable: bool = False
    required: bool = False  # in requests: must be present; in responses every field is always present
    multiline: bool = False
    strip: bool = True
    minimum: int | None = None
    maximum: int | None = None
    max_items: int | None = None
    choices: type[Enum] | None = None
    shape: Shape | None = None  # for kind "shape" / "shapes"
    write_only: bool = False
    description: str = ""
    attr: str = ""  # the domain object's attribute when it is not `name`
    value: Callable[[Any], Any] | None = None  # a computed rendering (e.g. a property or a count)

    def schema(self) -> dict[str, Any]:
        out = _KIND_SCHEMA[self.kind](self)
        if self.nullable and "$ref" not in out:
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
            else:
                out["type"] = [out["type"], "null"]
        if self.write_only:
            out["writeOnly"] = True
        if self.description:
            out["description"] = self.description
        return out

    def read(self, reader: FieldReader) -> Any:
        value = _READ[self.kind](self, reader)
        return require(reader, self.name, value) if self.required else value

    def render(self, obj: Any) -> Any:
        value = self.value(obj) if self.value else getattr(obj, self.attr or self.name)
        if self.kind == "shape" and value is not None:
            assert self.shape is not None
            return self.shape.render(value)
        if self.kind == "shapes":
            assert self.shape is not None
            return [self.shape.render(v) for v in value]
        return _plain(value)


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, frozenset | set):
        return sorted(_plain(v) for v in value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


# the commonest format characters (FieldReader refuses all of Unicode's category Cf, invisible and bidi
# controls, in everything but secrets, which are kept as typed)
_FORMAT = r"\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff"
_LINE = r"\x00-\x1f\x7f"  # what FieldReader refuses on one line (control characters)
_TEXT = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f"  # and in multi-line text (tabs and line breaks are fine there)


def _pattern(f: Field) -> str:
    refused = (_TEXT if f.multiline else _LINE) + (_FORMAT if f.strip else "")
    allowed = f"[^{refused}]"
    if f.strip and f.min_length:  # stripped, then not empty: at least one character that is not white space
        return f"^{allowed}*[^\\s{refused}]{allowed}*$"
    return f"^{allowed}*$"


def _string(f: Field) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "string"}
    if f.max_length is not None:  # a field requests carry: what the reader accepts (response-only text is free)
        out["pattern"] = _pattern(f)
    if f.max_length is not None:
        out["maxLength"] = f.max_length
    if f.rule_min_length or f.min_length:
        out["minLength"] = f.rule_min_length or f.min_length
    return out


def _integer(f: Field) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "integer"}
    if f.minimum is not None:
        out["minimum"] = f.minimum
    if f.maximum is not None:
        out["maximum"] = f.maximum
    return out


def _strings(f: Field) -> dict[str, Any]:
    items: dict[str, Any] = {"type": "string"}
    if f.choices is not None:
        items = {"enum": [m.value for m in f.choices]}
    elif f.max_length is not None:
        items["maxLength"] = f.max_length
    out: dict[str, Any] = {"type": "array", "items": items}
    if f.max_items is not None:
        out["maxItems"] = f.max_items
    return out


def _ref(f: Field) -> dict[str, Any]:
    assert f.shape is not None
    ref = {"$ref": f"#/components/schemas/{f.shape.name}"}
    return {"anyOf": [ref, {"type": "null"}]} if f.nullable else ref


_KIND_SCHEMA: dict[str, Callable[[Field], dict[str, Any]]] = {
    "string": _string,
    "boolean": lambda f: {"type": "boolean"},
    "integer": _integer,
    "strings": _strings,
    "choice": lambda f: {"enum": [m.value for m in f.choices or ()]},
    "datetime": lambda f: {"type": "string", "format": "date-time"},
    "object": lambda f: {"type": "object"},
    "shape": _ref,
    "shapes": lambda f: {"type": "array", "items": _ref(replace(f, nullable=False))},
    "any": lambda f: {},
}


def _read_string(f: Field, reader: FieldReader) -> Any:
    return reader.string(
        f.name,
        max_length=f.max_length or 200,
        min_length=f.min_length,
        multiline=f.multiline,
        nullable=f.nullable,
        strip=f.strip,
    )


def _read_integer(f: Field, reader: FieldReader) -> Any:
    assert f.minimum is not None and f.maximum is not None
    return reader.integer(f.name, minimum=f.minimum, maximum=f.maximum, nullable=f.nullable)


def _read_strings(f: Field, reader: FieldReader) -> Any:
    values = reader.string_list(
        f.name, max_items=f.max_items or 100, max_length=f.max_length or 100, nullable=f.nullable
    )
    if f.choices is not None and isinstance(values, list):
        known = [str(m.value) for m in f.choices]
        if any(v not in known for v in values):
            reader.fail(f.name, "invalid_choice", f"'{f.name}' may hold {', '.join(known)}.")
            return MISSING
    return values


def _read_choice(f: Field, reader: FieldReader) -> Any:
    assert f.choices is not None
    return reader.choice(f.name, f.choices)


def _unreadable(f: Field, reader: FieldReader) -> Any:
    raise TypeError(f"{f.kind} fields are not read from requests")


_READ: dict[str, Callable[[Field, FieldReader], Any]] = {
    "string": _read_string,
    "boolean": lambda f, reader: reader.boolean(f.name),
    "integer": _read_integer,
    "strings": _read_strings,
    "choice": _read_choice,
}
for _kind in ("datetime", "object", "shape", "shapes", "any"):
    _READ[_kind] = _unreadable


@dataclass(frozen=True)
class Shape:
    """A request or response shape. `open`: other fields are allowed (their schema is not closed)."""

    name: str
    fields: tuple[Field, ...]
    description: str = ""
    read_only: tuple[str, ...] = field(default=())  # response-only fields a request may not set (422 read_only)
    open: bool = False

    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "object", "properties": {f.name: f.schema() for f in self.fields}}
        required = [f.name for f in self.fields if f.required]
        if required:
            out["required"] = required
        if not self.open:
            out["additionalProperties"] = False
        if self.description:
            out["description"] = self.description
        return out

    def response(self, name: str, *more: Field, nullable: Sequence[str] = (), without: Sequence[str] = ()) -> Shape:
        """The resource as the API answers with it: the request's fields (limits, enums) less secrets and
        `without`, plus `more`; every field always present; null only where `nullable` says."""
        kept = tuple(
            replace(f, required=True, nullable=f.name in nullable, strip=True)
            for f in self.fields
            if not f.write_only and f.name not in without
        )
        extra = tuple(replace(f, required=True, nullable=f.nullable or f.name in nullable) for f in more)
        return Shape(name, kept + extra, self.description)

    def extended(self, name: str, *more: Field, without: Sequence[str] = ()) -> Shape:
        kept = tuple(f for f in self.fields if f.name not in without)
        return Shape(name, kept + more, self.description, self.read_only, self.open)

    def only(self, name: str, names: Sequence[str]) -> Shape:
        return Shape(name, tuple(self.field(n) for n in names))

    def optional(self, name: str, without: Sequence[str] = ()) -> Shape:
        """The patch form of a request shape: nothing required."""
        kept = tuple(replace(f, required=False) for f in self.fields if f.name not in without)
        return Shape(name, kept, self.description, self.read_only, self.open)

    def reader(self, data: Mapping[str, object]) -> FieldReader:
        """A reader of `data` that refuses unknown fields and names the read-only ones as such."""
        reader = FieldReader({k: v for k, v in data.items() if k not in self.read_only}, self.names())
        for name in self.read_only:
            if name in data:
                hint = " Use the enable/disable actions." if name == "enabled" else ""
                reader.fail(name, "read_only", f"'{name}' cannot be set.{hint}")
        return reader

    def read_into(self, reader: FieldReader) -> dict[str, Any]:
        """Every declared field's typed value (MISSING where absent or in error)."""
        return {f.name: f.read(reader) for f in self.fields}

    def read(self, data: Mapping[str, object]) -> dict[str, Any]:
        """The present, valid fields; raises ValidationFailed with every field error at once."""
        reader = self.reader(data)
        values = self.read_into(reader)
        reader.raise_if_errors()
        return {k: v for k, v in values.items() if not isinstance(v, _Missing)}

    def render(self, obj: Any) -> dict[str, Any]:
        return {f.name: f.render(obj) for f in self.fields if not f.write_only}


def page_of(item: Shape, name: str = "") -> Shape:
    return Shape(
        name or f"{item.name}Page",
        (
            Field("items", "shapes", shape=item, required=True),
            Field("next_cursor", nullable=True, required=True, description="pass as `cursor` for the next page"),
        ),
    )


__all__ = ["MISSING", "Field", "Shape", "page_of"]
