"""HTML form fields to the JSON-shaped data the services take (parsing only: the rules live in services)."""

from __future__ import annotations

from typing import Any

from chalicelib.console.web import first

Fields = dict[str, list[str]]
ACCOUNT_TEXT = ("username", "phone_number", "secondary_phone_number", "full_name", "email", "description")
CLEARABLE = ("full_name", "email", "description")


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
        data.pop("username", None)  # shown, not editable: the wizard generates it
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


def simple(
    fields: Fields, names: tuple[str, ...], *, booleans: tuple[str, ...] = (), ints: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Text fields as given; checkboxes as booleans; number fields as integers (empty: null)."""
    data: dict[str, Any] = {name: first(fields, name).strip() for name in names if name in fields}
    for name in booleans:
        data[name] = name in fields
    for name in ints:
        if name in fields:
            text = first(fields, name).strip()
            data[name] = int(text) if text.isascii() and text.isdigit() else (text or None)
    return data
