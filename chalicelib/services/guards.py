"""Guard items: one stored key per unique value, written in the same transaction as its owner.

Both storage adapters use these keys, so a username or number is unique whichever backend runs.
"""

from __future__ import annotations

from chalicelib.domain.errors import Conflict
from chalicelib.domain.model import Account, Group, Operator, ProvisioningProfile

Guard = tuple[str, str, str]  # (key, owner id, field that conflicts)


def username_key(username: str) -> str:
    return f"account-username#{username.lower()}"


def number_key(number: str) -> str:
    return f"number#{number}"


def operator_key(username: str) -> str:
    return f"operator-username#{username.lower()}"


def account_guards(account: Account) -> list[Guard]:
    entries = [
        (username_key(account.username), account.id, "username"),
        (number_key(account.phone_number), account.id, "phone_number"),
    ]
    if account.secondary_phone_number:
        entries.append((number_key(account.secondary_phone_number), account.id, "secondary_phone_number"))
    return entries


def group_name_guard(group: Group) -> Guard:
    return (f"group-name#{group.name.lower()}", group.id, "name")


def profile_name_guard(profile: ProvisioningProfile) -> Guard:
    return (f"profile-name#{profile.name.lower()}", profile.id, "name")


def operator_guard(operator: Operator) -> Guard:
    return (operator_key(operator.username), operator.id, "username")


_MESSAGES = {
    "username": "This username is already taken.",
    "phone_number": "This number is already used by another account (as primary or secondary number).",
    "secondary_phone_number": "This number is already used by another account (as primary or secondary number).",
    "name": "This name is already taken.",
}


def conflict_message(field: str) -> str:
    return _MESSAGES.get(field, "This value is already taken.")


def id_taken(what: str) -> Conflict:
    """The error of a write that would overwrite an existing item ("a group", "an account", ...)."""
    return Conflict(f"{what[0].upper()}{what[1:]} with this id exists already.", field="id", code="duplicate")
