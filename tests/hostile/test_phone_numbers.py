"""One real number has one spelling: variants of it collide; long digit strings are no test numbers; no letters."""

from __future__ import annotations

import pytest

from chalicelib.domain import rules
from tests.api.helpers import Api, as_problem
from tests.conftest import World

VARIANTS = ["+393481604131", "00393481604131", "393481604131", "+39 348 160 4131", "0039 (348) 160-4131"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_spelling_is_the_same_e164_number(variant: str) -> None:
    assert rules.normalize_phone_number("phone_number", variant).value == "+393481604131"


def test_the_variants_cannot_sit_on_two_accounts(api: Api, http_world: World) -> None:
    first = api.call("POST", "/accounts", http_world.account_data(phone_number=VARIANTS[0]))
    assert first.status_code == 201, first.body
    for variant in VARIANTS[1:]:
        again = api.call("POST", "/accounts", http_world.account_data(phone_number=variant))
        as_problem(again, 409, "duplicate")


def test_a_missing_plus_is_read_with_a_warning(api: Api, http_world: World) -> None:
    created = api.call("POST", "/accounts", http_world.account_data(phone_number="393481604131"))
    assert created.status_code == 201 and created.json_body["phone_number"] == "+393481604131"
    assert any("international number" in w for w in created.json_body.get("warnings", []))


@pytest.mark.parametrize("number", ["111", "12", "123456"])
def test_short_test_numbers_are_a_few_digits(number: str) -> None:
    assert rules.normalize_phone_number("phone_number", number).value == number


@pytest.mark.parametrize("number", ["12345678901234", "123456789012345", "1234567", "1", "+1 800 FLOWERS", "111a",
                                    "+39 348 l60 4131", "\uff11\uff11\uff11"])  # fmt: skip
def test_long_digit_strings_letters_and_odd_digits_are_refused(number: str) -> None:
    with pytest.raises(rules.InvalidField):
        rules.normalize_phone_number("phone_number", number)
