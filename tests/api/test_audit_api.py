"""GET /api/v1/audit/events: the trail for administrators, filtered, each answer checked against the document."""

from __future__ import annotations

from tests.api.helpers import Api, as_problem
from tests.conftest import World


def test_administrators_read_the_trail_by_operator_and_target(api: Api, http_world: World) -> None:
    created = api.call("POST", "/accounts", http_world.account_data())
    account_id = created.json_body["id"]
    api.call("POST", f"/accounts/{account_id}/disable")
    response = api.call("GET", f"/audit/events?target={account_id}")
    assert response.status_code == 200, response.body
    items = response.json_body["items"]
    assert [e["action"] for e in items] == ["account.disable", "account.create"]
    assert items[0]["prev_hash"] == items[1]["hash"] and items[0]["actor"] == "admin"
    assert items[0]["source"]  # from where
    logins = api.call("GET", "/audit/events?operator=admin&limit=200").json_body["items"]
    assert "login.success" in [e["action"] for e in logins]
    as_problem(api.call("GET", "/audit/events?since=yesterday"), 422, "validation_failed")
    viewer = Api(api.client).login("op-a", "op-a-password")
    as_problem(viewer.call("GET", "/audit/events"), 403, "forbidden")
