"""POST /api/v1/accounts/bulk: one action on many accounts, an outcome per account, declared in the resources
(validation and the OpenAPI document derive from BULK_INPUT / BULK_RESULT; every answer is checked against it)."""

from __future__ import annotations

from chalicelib.services import accounts
from tests.api.helpers import Api, as_problem
from tests.conftest import World


def test_a_bulk_disable_has_an_outcome_per_account(api: Api, http_world: World) -> None:
    world = http_world
    on = accounts.create_account(world.ctx, world.admin, world.account_data()).account
    off = accounts.create_account(world.ctx, world.admin, world.account_data(phone_number="+393471234500")).account
    accounts.set_enabled(world.ctx, world.admin, off.id, False)
    response = api.call("POST", "/accounts/bulk", {"action": "disable", "ids": [on.id, off.id, "nope", on.id]})
    assert response.status_code == 200, response.body
    results = response.json_body["results"]
    assert [(r["account_id"], r["outcome"], r["code"]) for r in results] == [
        (on.id, "done", ""),
        (off.id, "skipped", "already_disabled"),
        ("nope", "failed", "not_found"),
    ]
    assert response.json_body["accounts"] == []
    assert accounts.get_account(world.ctx, world.admin, on.id).enabled is False


def test_a_bulk_sms_skips_test_numbers_and_export_returns_the_rows(api: Api, http_world: World) -> None:
    world = http_world
    mobile = accounts.create_account(world.ctx, world.admin, world.account_data()).account
    test = accounts.create_account(world.ctx, world.admin, world.account_data(phone_number="111")).account
    sent = api.call("POST", "/accounts/bulk", {"action": "send_installation_sms", "ids": [mobile.id, test.id]})
    outcomes = [r["outcome"] for r in sent.json_body["results"]]
    assert outcomes == ["done", "skipped"], sent.body
    exported = api.call("POST", "/accounts/bulk", {"action": "export", "ids": [test.id, mobile.id]})
    assert [a["id"] for a in exported.json_body["accounts"]] == [test.id, mobile.id]


def test_a_bulk_request_is_checked_against_its_declaration(api: Api, http_world: World) -> None:
    body = as_problem(
        api.call("POST", "/accounts/bulk", {"action": "explode", "ids": "x", "more": 1}), 422, "validation_failed"
    )
    assert {e["field"] for e in body["errors"]} == {"action", "ids", "more"}
    as_problem(api.call("POST", "/accounts/bulk", {"action": "enable", "ids": ["a"] * 201}), 422, "validation_failed")


def test_a_viewer_fails_every_account_of_a_bulk_change(api: Api, http_world: World) -> None:
    world = http_world
    account = accounts.create_account(world.ctx, world.admin, world.account_data()).account
    viewer = Api(api.client).login("viewer-a", "viewer-a-password")
    response = viewer.call("POST", "/accounts/bulk", {"action": "delete", "ids": [account.id]})
    assert [(r["outcome"], r["code"]) for r in response.json_body["results"]] == [("failed", "forbidden")]
    assert accounts.get_account(world.ctx, world.admin, account.id) is not None


def test_revoke_keys_through_the_api_honours_if_match(api: Api, http_world: World) -> None:
    world = http_world
    account = accounts.create_account(world.ctx, world.admin, world.account_data()).account
    as_problem(api.call("POST", f"/accounts/{account.id}/revoke-keys", **{"If-Match": '"v999"'}), 412,
               "precondition_failed")  # fmt: skip
    response = api.call("POST", f"/accounts/{account.id}/revoke-keys", **{"If-Match": f'"v{account.version}"'})
    assert response.status_code == 200, response.body
    assert response.json_body["enabled"] is False and response.headers["ETag"] == f'"v{account.version + 1}"'
    as_problem(api.call("POST", f"/accounts/{account.id}/enable"), 409, "password_required")
