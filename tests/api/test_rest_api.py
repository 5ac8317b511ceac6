"""The REST API end to end through Chalice's local gateway: status codes, problem documents, auth."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from chalice.test import Client
from openapi_spec_validator import validate

from app import API_PREFIX, app
from chalicelib import bootstrap
from chalicelib.api.http import served_routes
from chalicelib.api.openapi import document
from chalicelib.services.context import Context
from tests.api.helpers import ADMIN, Api, as_problem
from tests.conftest import World


def account_body(world: World, **fields: Any) -> dict[str, Any]:
    return world.account_data(**fields)


def test_every_route_needs_a_login(anonymous: Api, http_world: World) -> None:
    for method, path in [
        ("GET", "/groups"),
        ("POST", "/accounts"),
        ("GET", f"/accounts?group_id={http_world.group_a.id}"),
    ]:
        body = as_problem(anonymous.call(method, path, {}), 401, "unauthenticated")
        assert "Log in" in body["detail"]
    as_problem(anonymous.call("GET", "/groups", Authorization="Bearer forged"), 401, "unauthenticated")


def test_login_returns_a_token_that_logout_revokes(anonymous: Api) -> None:
    response = anonymous.call("POST", "/auth/login", {"username": "admin", "password": "admin-password-1"})
    assert response.status_code == 200
    assert set(response.json_body) == {"token", "expires_at", "operator"}
    assert response.json_body["expires_at"].endswith("Z")
    anonymous.token = response.json_body["token"]
    assert anonymous.call("GET", "/auth/me").json_body["username"] == "admin"
    assert anonymous.call("POST", "/auth/logout").status_code == 204
    as_problem(anonymous.call("GET", "/auth/me"), 401, "unauthenticated")


def test_failed_logins_are_rate_limited_and_audited(anonymous: Api) -> None:
    for _ in range(3):
        as_problem(
            anonymous.call("POST", "/auth/login", {"username": "admin", "password": "wrong"}),
            401,
            "invalid_credentials",
        )
    limited = anonymous.call("POST", "/auth/login", {"username": "admin", "password": "admin-password-1"})
    as_problem(limited, 429, "rate_limited")
    assert int(limited.headers["Retry-After"]) > 0
    # another user from elsewhere is not locked out by those failures (per-user counter is 3 here)
    assert anonymous.call("POST", "/auth/login", {"username": "op-a", "password": "op-a-password"}).status_code == 200


def test_login_audit_is_visible_to_admins(api: Api) -> None:
    api.call("POST", "/auth/login", {"username": "ghost", "password": "nope-nope"})
    items = api.call("GET", "/audit/logins").json_body["items"]
    outcomes = {(i["username"], i["outcome"]) for i in items}
    assert {("admin", "success"), ("ghost", "bad_credentials")} <= outcomes
    assert all("password" not in json.dumps(i) for i in items)


def test_bad_json_wrong_media_type_and_oversize_bodies(api: Api) -> None:
    body = as_problem(api.call("POST", "/accounts", raw=b'{"phone_number": '), 400, "invalid_json")
    assert "line 1" in body["detail"]
    as_problem(api.call("POST", "/accounts", raw=b"[1, 2]"), 400, "invalid_body")
    as_problem(api.call("POST", "/accounts", raw=b""), 400, "invalid_json")
    as_problem(api.call("POST", "/accounts", raw=b"\xff\xfe"), 400, "invalid_json")
    as_problem(api.call("POST", "/accounts", {"a": 1}, **{"Content-Type": "text/plain"}), 415, "unsupported_media_type")
    huge = json.dumps({"description": "x" * 70_000}).encode()
    as_problem(api.call("POST", "/accounts", raw=huge), 413, "body_too_large")


def test_unknown_fields_and_wrong_types_name_the_field(api: Api, http_world: World) -> None:
    response = api.call("POST", "/accounts", account_body(http_world, nickname="x", keep_alive="yes", phone_number=39))
    body = as_problem(response, 422, "validation_failed")
    assert {(e["field"], e["code"]) for e in body["errors"]} == {
        ("nickname", "unknown_field"),
        ("keep_alive", "invalid_type"),
        ("phone_number", "invalid_type"),
    }


@pytest.mark.both_backends
def test_account_lifecycle_over_http(api: Api, http_world: World) -> None:
    created = api.call("POST", "/accounts", account_body(http_world, full_name="Marco Rossi", username="9001"))
    assert created.status_code == 201, created.body
    account = created.json_body
    assert "password" not in json.dumps(account) and "ha1" not in json.dumps(account)
    assert account["warnings"] == []
    expected_keys = {
        "id", "username", "group_id", "provisioning_profile_id", "phone_number", "secondary_phone_number",
        "account_type", "security_model", "obfuscation_enabled", "obfuscation_key", "keep_alive", "permit", "deny",
        "full_name", "email", "description", "enabled", "status", "status_changed_at", "created_at", "updated_at",
        "creation_mode", "sms_problem", "sip_locked_until", "warnings",
    }  # fmt: skip
    assert set(account) == expected_keys
    path = f"/accounts/{account['id']}"
    assert api.call("GET", path).json_body["full_name"] == "Marco Rossi"
    patched = api.call("PATCH", path, {"description": "<b>VIP</b>"})
    assert patched.status_code == 200 and patched.json_body["description"] == "<b>VIP</b>"
    assert api.call("POST", f"{path}/disable").json_body["enabled"] is False
    assert api.call("POST", f"{path}/enable").json_body["enabled"] is True
    listing = api.call("GET", f"/accounts?group_id={http_world.group_a.id}&limit=10").json_body
    assert [a["username"] for a in listing["items"]] == ["9001"] and listing["next_cursor"] is None
    history = api.call("GET", f"{path}/history").json_body
    assert [e["kind"] for e in history["timeline"]] == ["enabled", "disabled", "updated", "created"]
    assert history["sessions"] == [] and history["calls"] == []
    assert api.call("DELETE", path).status_code == 204
    as_problem(api.call("GET", path), 404, "not_found")


def test_duplicates_are_409_with_the_field(api: Api, http_world: World) -> None:
    assert api.call("POST", "/accounts", account_body(http_world)).status_code == 201
    body = as_problem(api.call("POST", "/accounts", account_body(http_world)), 409, "duplicate")
    assert body["field"] == "phone_number"
    assert body["errors"][0]["field"] == "phone_number"


def test_operator_of_group_a_gets_403_on_group_b(http_world: World) -> None:
    with Client(app) as client:
        admin = Api(client).login(*ADMIN)
        in_b = admin.call("POST", "/accounts", account_body(http_world, group_id=http_world.group_b.id)).json_body
        operator = Api(client).login("op-a", "op-a-password")
        as_problem(operator.call("GET", f"/accounts/{in_b['id']}"), 403, "forbidden")
        as_problem(operator.call("PATCH", f"/accounts/{in_b['id']}", {"full_name": "x"}), 403, "forbidden")
        as_problem(operator.call("DELETE", f"/accounts/{in_b['id']}"), 403, "forbidden")
        as_problem(operator.call("GET", f"/accounts?group_id={http_world.group_b.id}"), 403, "forbidden")
        as_problem(operator.call("POST", "/groups", {"name": "mine"}), 403, "forbidden")
        as_problem(operator.call("GET", "/operators"), 403, "forbidden")
        viewer = Api(client).login("viewer-a", "viewer-a-password")
        as_problem(viewer.call("POST", "/accounts", account_body(http_world, phone_number="111")), 403, "forbidden")


@pytest.mark.both_backends
def test_groups_profiles_and_operators_crud(api: Api, http_world: World) -> None:
    profile = api.call(
        "POST",
        "/provisioning-profiles",
        {"name": "eu", "sip_domain": "eu.example.com", "sip_host": "sip.eu.example.com"},
    )
    assert profile.status_code == 201 and profile.json_body["tls_port"] == 5061
    group = api.call(
        "POST",
        "/groups",
        {"name": "Ops", "it_email": "it@ops.example", "provisioning_profile_id": profile.json_body["id"]},
    )
    assert group.status_code == 201 and group.json_body["account_count"] == 0
    assert group.json_body["language"] == "en"  # the edge's announcements: English unless chosen
    gid = group.json_body["id"]
    assert api.call("PATCH", f"/groups/{gid}", {"name": "Operations"}).json_body["name"] == "Operations"
    assert api.call("PATCH", f"/groups/{gid}", {"language": "it"}).json_body["language"] == "it"
    as_problem(api.call("PATCH", f"/groups/{gid}", {"language": "xx"}), 422, "validation_failed")
    operator = api.call(
        "POST",
        "/operators",
        {"username": "carla", "password": "carla-password", "role": "operator", "group_ids": [gid]},
    )
    assert operator.status_code == 201 and "password" not in json.dumps(operator.json_body)
    assert operator.json_body["group_ids"] == [gid]
    as_problem(
        api.call("POST", "/operators", {"username": "x1", "password": "short", "role": "boss"}),
        422,
        "validation_failed",
    )
    as_problem(api.call("DELETE", f"/provisioning-profiles/{profile.json_body['id']}"), 409, "profile_in_use")
    assert api.call("DELETE", f"/operators/{operator.json_body['id']}").status_code == 204
    assert api.call("DELETE", f"/groups/{gid}").status_code == 204
    assert api.call("DELETE", f"/provisioning-profiles/{profile.json_body['id']}").status_code == 204


def test_bad_query_parameters(api: Api, http_world: World) -> None:
    as_problem(api.call("GET", "/accounts"), 400, "missing_parameter")
    as_problem(api.call("GET", f"/accounts?group_id={http_world.group_a.id}&limit=0"), 400, "invalid_limit")
    as_problem(api.call("GET", f"/accounts?group_id={http_world.group_a.id}&cursor=@@"), 400, "invalid_cursor")
    as_problem(api.call("GET", "/accounts?group_id=unknown"), 404, "not_found")


def test_openapi_document_is_valid_and_matches_the_routes(anonymous: Api) -> None:
    response = anonymous.call("GET", "/openapi.json")
    assert response.status_code == 200
    spec = response.json_body
    validate(spec)
    assert spec["openapi"] == "3.1.0"
    documented = {
        (API_PREFIX + path, method.upper())
        for path, item in spec["paths"].items()
        for method in item
        if method in {"get", "post", "patch", "put", "delete"}
    }
    served = {(path, method) for path, method in served_routes(app) if path.startswith(API_PREFIX)}
    assert documented == served
    assert spec == document()


def test_search_answers_rows_and_explains_bad_queries(api: Api, http_world: World, backend_ctx: Context) -> None:
    from chalicelib.services import search

    for name, number in (("Marco Rossi", "+393471000001"), ("Giulio Marconi", "+393471000002")):
        assert (
            api.call("POST", "/accounts", account_body(http_world, full_name=name, phone_number=number)).status_code
            == 201
        )
    search.rebuild(backend_ctx)  # no stream delivery inside this test: index what the table holds
    gid = http_world.group_a.id
    rows = api.call("GET", f"/accounts?group_id={gid}&q=Marco%3F%3F").json_body["items"]
    assert [r["full_name"] for r in rows] == ["Giulio Marconi"]
    columns = {"id", "username", "group_id", "full_name", "phone_number", "secondary_phone_number", "email",
               "description", "account_type", "enabled", "status", "status_changed_at", "sms_problem"}  # fmt: skip
    assert set(rows[0]) == columns
    plus = api.call("GET", f"/accounts?group_id={gid}&q=%2B393471000001").json_body["items"]
    assert [r["full_name"] for r in plus] == ["Marco Rossi"]
    body = as_problem(api.call("GET", f"/accounts?group_id={gid}&q=password:x"), 400, "invalid_query")
    assert body["field"] == "q" and "Unknown field 'password'" in body["detail"]
    as_problem(api.call("GET", f"/accounts?group_id={gid}&q=(Marco"), 400, "invalid_query")
    as_problem(
        api.call("GET", f"/accounts?group_id={http_world.group_b.id}&q=x", Authorization="Bearer nope"),
        401,
        "unauthenticated",
    )


def test_search_is_503_while_the_engine_is_down(api: Api, http_world: World, backend_ctx: Context) -> None:
    from chalicelib.adapters.search_opensearch import OpenSearchIndex

    bootstrap.use(replace(backend_ctx, search=OpenSearchIndex("http://127.0.0.1:9", "accounts")))
    response = api.call("GET", f"/accounts?group_id={http_world.group_a.id}&q=Marco")
    body = as_problem(response, 503, "search_unavailable")
    assert response.headers["Retry-After"] == "30" and "cannot be reached" in body["detail"]
    # writes and the plain list do not depend on the engine
    assert api.call("POST", "/accounts", account_body(http_world)).status_code == 201
    assert api.call("GET", f"/accounts?group_id={http_world.group_a.id}").status_code == 200


def test_the_response_check_refuses_what_the_document_does_not_describe() -> None:
    from types import SimpleNamespace

    from tests.api.helpers import check_documented

    def answer(status: int, body: object) -> SimpleNamespace:
        return SimpleNamespace(status_code=status, headers={"Content-Type": "application/json"}, body=json.dumps(body))

    with pytest.raises(AssertionError, match="not documented"):
        check_documented("GET", "/groups", answer(418, {}))
    with pytest.raises(AssertionError, match="next_cursor"):
        check_documented("GET", "/groups", answer(200, {"items": []}))
    with pytest.raises(AssertionError):
        check_documented("GET", "/accounts/x", answer(200, {"id": "x", "obfuscation_key": 9}))
