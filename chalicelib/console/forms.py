"""HTML forms from the resource declarations (domain/resources.py): what a field is called in plain words, its
length and choices, how a posted field becomes the JSON-shaped value the service takes, and the services' field
errors in those plain words, all of them at once. Parsing only: the rules live in the services."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from chalicelib.console.web import first
from chalicelib.domain import resources
from chalicelib.domain.declare import Shape
from chalicelib.domain.errors import DomainError, FieldError, ValidationFailed

Fields = dict[str, list[str]]
ACCOUNT = resources.ACCOUNT_CREATE
GROUP = resources.GROUP_INPUT
PROFILE = resources.PROFILE_INPUT
OPERATOR = resources.OPERATOR_INPUT
ACCOUNT_TEXT = ("username", "phone_number", "secondary_phone_number", "full_name", "email", "description")
CLEARABLE = ("full_name", "email", "description")
FORM_ONLY = {"password_repeat": "Repeat password", "confirm_number": "Number check"}
_QUOTED = re.compile(r"'([a-z_]+)'")


@dataclass(frozen=True)
class Spec:
    """What the form shows of one declared field."""

    label: str
    maxlength: int | None
    required: bool
    choices: tuple[tuple[str, str], ...]


def specs(shape: Shape) -> dict[str, Spec]:
    out: dict[str, Spec] = {}
    for f in shape.fields:
        choices = tuple((m.value, m.value) for m in f.choices) if f.choices is not None else ()
        out[f.name] = Spec(f.plain_name, f.max_length, f.required, choices)
    return out


def labels(shape: Shape) -> dict[str, str]:
    return {**shape.labels(), **FORM_ONLY}


def plain(message: str, shape: Shape) -> str:
    """A service message with the field names it quotes ('provisioning_profile_id') in plain words."""
    names = labels(shape)
    return _QUOTED.sub(lambda m: names.get(m.group(1), m.group(0)), message)


def field_errors(errors: Iterable[FieldError], shape: Shape) -> dict[str, str]:
    """Every error by field (the field of a list entry is the list's), each field's messages together."""
    found: dict[str, list[str]] = {}
    for error in errors:
        text = plain(error.message, shape)
        messages = found.setdefault(error.field.split("[")[0] or "_", [])
        if text not in messages:
            messages.append(text)
    return {name: " ".join(messages) for name, messages in found.items()}


def errors_of(exc: DomainError, shape: Shape) -> dict[str, str]:
    if isinstance(exc, ValidationFailed):
        return field_errors(exc.errors, shape)
    return field_errors([FieldError(exc.field or "_", exc.code, exc.message)], shape)


def summary(errors: dict[str, str], shape: Shape) -> list[tuple[str, str, str]]:
    """The errors above the form, in the form's order: (field, its label, message)."""
    names = labels(shape)
    order = [*shape.names(), *FORM_ONLY]
    ranked = sorted(errors, key=lambda n: order.index(n) if n in order else len(order))
    return [(name, names.get(name, ""), errors[name]) for name in ranked if name != "_"]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


def account_data(fields: Fields, *, editing: bool, wizard: bool = False) -> dict[str, Any]:
    """Only what the form really asks for: PGSM-only fields for PGSM, Permit/Deny for SNOM, whatever the
    browser sent for the other type (so the server, not JavaScript, decides)."""
    data: dict[str, Any] = {}
    for name in ACCOUNT_TEXT:
        if name not in fields:
            continue
        value = first(fields, name).strip()
        if value or (editing and name in CLEARABLE):
            data[name] = value
    for name in ("group_id", "provisioning_profile_id"):
        if first(fields, name):
            data[name] = first(fields, name)
    if wizard:
        data["mode"] = "wizard"
        data.pop("username", None)  # the wizard draws it when it creates the account
        data["security_model"] = first(fields, "security_model") or "SDES"
        return data
    if first(fields, "password"):
        data["password"] = first(fields, "password")
    account_type = first(fields, "account_type") or "PGSM"
    data["account_type"] = account_type
    data["keep_alive"] = "keep_alive" in fields
    if account_type == "SNOM":
        data["permit"] = _lines(first(fields, "permit"))
        data["deny"] = _lines(first(fields, "deny"))
    else:
        data["security_model"] = first(fields, "security_model") or "SDES"
        data["obfuscation_enabled"] = "obfuscation_enabled" in fields
        if first(fields, "obfuscation_key"):
            data["obfuscation_key"] = first(fields, "obfuscation_key")
    return data


def read(fields: Fields, shape: Shape, names: Sequence[str] | None = None, *, editing: bool = False) -> dict[str, Any]:
    """The posted fields of a declared shape, each by its declared kind: a checkbox is a boolean (absent:
    false), a number field an integer (empty: null), a multiple choice a list, text as typed (an empty
    optional text is left out when creating, sent as empty when editing, so that it can be cleared)."""
    data: dict[str, Any] = {}
    for f in shape.fields:
        if names is not None and f.name not in names:
            continue
        if f.kind == "boolean":
            data[f.name] = f.name in fields
        elif f.name not in fields:
            continue
        elif f.kind == "strings":
            data[f.name] = fields.get(f.name, [])
        elif f.kind == "integer":
            text = first(fields, f.name).strip()
            data[f.name] = int(text) if text.isascii() and text.isdigit() else (text or None)
        else:
            text = first(fields, f.name) if not f.strip else first(fields, f.name).strip()
            if text or editing or f.required:
                data[f.name] = text
    return data


def warning(text: str, shape: Shape = ACCOUNT) -> str:
    """A service warning ("phone_number: ...") with its field in plain words."""
    name, sep, rest = text.partition(": ")
    names = labels(shape)
    return f"{names[name]}: {plain(rest, shape)}" if sep and name in names else plain(text, shape)


def repeat_error() -> dict[str, str]:
    return {"password_repeat": "The passwords differ."}
