"""Small readings of a REGISTER's headers that the routing needs for its events (pure functions)."""

from __future__ import annotations

import re

_EXPIRES_PARAM = re.compile(r";\s*expires\s*=\s*(\d+)", re.IGNORECASE)


def first_contact(header: str) -> str:
    """The first contact of a Contact header body (commas inside <> or quotes do not split)."""
    depth, quoted = 0, False
    for i, char in enumerate(header):
        if char == '"':
            quoted = not quoted
        elif not quoted and char == "<":
            depth += 1
        elif not quoted and char == ">":
            depth -= 1
        elif not quoted and depth == 0 and char == ",":
            return header[:i].strip()
    return header.strip()


def contact_uri(contact: str) -> str:
    contact = contact.strip()
    if "<" in contact and ">" in contact:
        return contact[contact.index("<") + 1 : contact.index(">")].strip()
    return contact.split(";", 1)[0].strip()


def _contact_params(contact: str) -> str:
    return contact[contact.index(">") + 1 :] if ">" in contact else contact


def register_expires(contact: str, expires_header: str, minimum: int, maximum: int, default: int) -> int:
    """The lifetime the registrar gives this contact: 0 for a removal, else clamped to [minimum, maximum]."""
    if contact.strip() == "*":
        return 0
    match = _EXPIRES_PARAM.search(_contact_params(contact))
    raw = match.group(1) if match else expires_header.strip()
    value = int(raw) if raw.isdigit() else default
    if value == 0:
        return 0
    return max(minimum, min(value, maximum)) if maximum > 0 else max(minimum, value)


def host_port(ip: str, port: int | str) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
