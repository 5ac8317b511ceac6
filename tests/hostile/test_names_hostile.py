"""Look-alike names (issue 14): text is NFKC-normalised, invisible and bidi characters are refused, and uniqueness
holds on the normalised form; a CIDR with an IPv6 zone id is refused."""

from __future__ import annotations

import pytest

from tests.api.helpers import Api, as_problem
from tests.conftest import World


@pytest.mark.parametrize("name", ["Sales\u200b", "Sa\u200dles", "\u202eselaS", "Sales\u2066x\u2069", "\ufeffSales",
                                  "Sal\u00ades"])  # fmt: skip
def test_invisible_and_direction_characters_are_refused(api: Api, http_world: World, name: str) -> None:
    body = as_problem(api.call("POST", "/groups", http_world.group_data(name)), 422, "validation_failed")
    assert [(e["field"], e["code"]) for e in body["errors"]] == [("name", "invalid_characters")]


def test_full_width_names_are_the_plain_name(api: Api, http_world: World) -> None:
    full_width = "\uff33\uff41\uff4c\uff45\uff53\u3000\uff34\uff45\uff41\uff4d"  # "Sales Team", full width
    created = api.call("POST", "/groups", http_world.group_data(full_width))
    assert created.status_code == 201, created.body
    assert created.json_body["name"] == "Sales Team"  # what is stored and shown: the normalised form
    again = api.call("POST", "/groups", http_world.group_data("sales team"))
    body = as_problem(again, 409, again.json_body["code"])
    assert body.get("field") == "name" or any(e.get("field") == "name" for e in body.get("errors", []))


def test_an_owner_typed_with_a_ligature_is_stored_normalised(api: Api, http_world: World) -> None:
    created = api.call("POST", "/accounts", http_world.account_data(full_name="Ra\ufb00aella Rossi"))
    assert created.status_code == 201, created.body
    assert created.json_body["full_name"] == "Raffaella Rossi"


def test_passwords_are_kept_as_typed(api: Api, http_world: World) -> None:
    password = "\uff30\uff41\uff53\uff53\u200bword-1"  # a secret is never rewritten: it must match what the phone sends
    created = api.call("POST", "/accounts", http_world.account_data(password=password))
    assert created.status_code == 201, created.body


@pytest.mark.parametrize("cidr", ["fe80::1%eth0/128", "fe80::1%25eth0", "fe80::%1/64"])
def test_a_cidr_with_a_zone_id_is_refused(api: Api, http_world: World, cidr: str) -> None:
    data = http_world.account_data(account_type="SNOM", permit=[cidr])
    body = as_problem(api.call("POST", "/accounts", data), 422, "validation_failed")
    assert any(e["code"] == "invalid_cidr" for e in body["errors"]), body
