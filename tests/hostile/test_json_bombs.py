"""JSON bombs on every kind of route: 400 problem documents, never a 500."""

from __future__ import annotations

import pytest

from chalicelib.api import json_reader
from tests.api.helpers import Api, as_problem

pytestmark = pytest.mark.both_backends  # the database is where these broke

BOMBS = {
    "lone surrogate": b'{"username": "\\ud800", "password": "x", "name": "\\udfff"}',
    "deep nesting": b'{"name": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    "huge integer": b'{"name": ' + b"9" * 5000 + b"}",
    "huge float": b'{"name": 1.' + b"5" * 400 + b"e999}",
    "NaN": b'{"name": NaN}',
    "not UTF-8": b'{"name": "\xff\xfe"}',
}
ROUTES = ["/auth/login", "/groups", "/provisioning-profiles", "/accounts", "/operators"]
MOBILE = ["/m/activation", "/m/installed"]


@pytest.mark.parametrize("bomb", BOMBS)
def test_api_routes_refuse_bombs_with_400(api: Api, bomb: str) -> None:
    for path in ROUTES:
        body = as_problem(api.call("POST", path, raw=BOMBS[bomb]), 400, "invalid_json")
        assert body["detail"]


@pytest.mark.parametrize("bomb", BOMBS)
def test_public_routes_refuse_bombs_with_400(anonymous: Api, bomb: str) -> None:
    as_problem(anonymous.call("POST", "/auth/login", raw=BOMBS[bomb]), 400, "invalid_json")
    for path in MOBILE:
        response = anonymous.client.http.request(
            "POST", path, headers={"Content-Type": "application/json"}, body=BOMBS[bomb]
        )
        as_problem(response, 400, "invalid_json")


def test_ordinary_bodies_still_read() -> None:
    assert json_reader.parse(b'{"a": [1, 2.5, {"b": "\\u00e9\\ud83d\\ude00 [{"}], "c": null}') == {
        "a": [1, 2.5, {"b": "\u00e9\U0001f600 [{"}],
        "c": None,
    }
    assert json_reader.parse(b"\xef\xbb\xbf{}") == {}  # a BOM
