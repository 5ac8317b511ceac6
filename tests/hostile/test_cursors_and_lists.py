"""Crafted cursors are 400 on every list; blank list entries are 422; neither reaches the database."""

from __future__ import annotations

import pytest

from chalicelib.adapters.cursor import encode_cursor
from tests.api.helpers import Api, as_problem
from tests.conftest import World

pytestmark = pytest.mark.both_backends  # the database is where these broke

CRAFTED = [
    "eyJ4IjoxfQ",  # {"x":1}
    encode_cursor({"id": {"N": "1"}}),
    encode_cursor({"id": {"S": ""}}),
    encode_cursor({"id": {"S": "a", "N": "1"}}),
    encode_cursor({"id": {"S": "g"}, "group_id": {"S": "other-group"}, "username": {"S": "u"}}),
    encode_cursor("just a string"),
    encode_cursor([1, 2]),
    "%%%",
]


@pytest.mark.parametrize("cursor", CRAFTED)
def test_crafted_cursors_are_400_on_every_list(api: Api, http_world: World, cursor: str) -> None:
    gid = http_world.group_a.id
    for path in ("/groups", "/operators", "/provisioning-profiles", f"/accounts?group_id={gid}",
                 f"/registrations?group_id={gid}"):  # fmt: skip
        joiner = "&" if "?" in path else "?"
        body = as_problem(api.call("GET", f"{path}{joiner}cursor={cursor}"), 400, "invalid_cursor")
        assert body["field"] == "cursor"


def test_real_cursors_still_page(api: Api, http_world: World) -> None:
    first = api.call("GET", "/groups?limit=1").json_body
    assert first["next_cursor"]
    second = api.call("GET", f"/groups?limit=1&cursor={first['next_cursor']}")
    assert second.status_code == 200 and second.json_body["items"][0]["id"] != first["items"][0]["id"]


@pytest.mark.parametrize("group_ids", [[""], ["  "], ["x", ""]])
def test_blank_group_ids_are_422(api: Api, http_world: World, group_ids: list[str]) -> None:
    body = {"username": "new-op", "password": "new-op-password", "role": "operator", "group_ids": group_ids}
    as_problem(api.call("POST", "/operators", body), 422, "validation_failed")
    op = http_world.operator_a.id
    as_problem(api.call("PATCH", f"/operators/{op}", {"group_ids": group_ids}), 422, "validation_failed")


@pytest.mark.parametrize("limit", ["²", "١٢", "0", "201", "-1", "1.5", "", "1e2"])
def test_limits_are_ascii_integers_in_range(api: Api, http_world: World, limit: str) -> None:
    """Found by schemathesis' all-checks run: `limit=²` (a digit to str.isdigit, not to int) was a 500."""
    for path in ("/groups", f"/accounts?group_id={http_world.group_a.id}"):
        joiner = "&" if "?" in path else "?"
        body = as_problem(api.call("GET", f"{path}{joiner}limit={limit}"), 400, "invalid_limit")
        assert body["field"] == "limit"


def test_a_null_list_is_refused_where_the_declaration_says_array(api: Api, http_world: World) -> None:
    """Found by schemathesis' all-checks run: `group_ids: null` was read as the empty list."""
    answer = api.call("PATCH", f"/operators/{http_world.operator_a.id}", {"group_ids": None})
    as_problem(answer, 422, "validation_failed")
