"""GET /api/v1/accounts/{id}/calls: the account's call records, fed by the SIP edge's call events."""

from __future__ import annotations

from chalicelib.services import accounts, calls
from tests.api.helpers import Api, as_problem
from tests.conftest import World
from tests.contract.test_call_records import _call, _event


def test_placed_and_received_calls_of_an_account(api: Api, http_world: World) -> None:
    data = http_world.account_data
    alice = accounts.create_account(http_world.ctx, http_world.admin, data(username="alice7")).account
    bob = accounts.create_account(http_world.ctx, http_world.admin, data(username="bob7", phone_number="+3934700007"))
    ids = {"caller_account_id": alice.id, "callee_account_id": bob.account.id}
    events = [{**event, **ids} for event in _call("call-api-1")]
    events.append(_event("call_ended", "call-api-2", 90, **ids, sip_code=486, result="busy"))
    calls.record_events(http_world.ctx, events)

    placed = api.call("GET", f"/accounts/{alice.id}/calls?direction=placed&limit=1")
    assert placed.status_code == 200, placed.body
    [latest] = placed.json_body["items"]
    assert (latest["call_id"], latest["result"], latest["sip_code"]) == ("call-api-2", "busy", 486)
    assert placed.json_body["next_cursor"]
    older = api.call("GET", f"/accounts/{alice.id}/calls?direction=placed&cursor={placed.json_body['next_cursor']}")
    [first] = older.json_body["items"]
    assert first["duration_seconds"] == 60 and first["direction"] == "placed" and first["media_security"] == "sdes"
    received = api.call("GET", f"/accounts/{bob.account.id}/calls?direction=received")
    assert [item["direction"] for item in received.json_body["items"]] == ["received", "received"]
    assert as_problem(api.call("GET", f"/accounts/{alice.id}/calls?direction=up"), 422, "validation_failed")
    operator = Api(api.client).login("op-a", "op-a-password")
    carol = data(username="carol7", phone_number="+3934700008", group_id=http_world.group_b.id)
    other = accounts.create_account(http_world.ctx, http_world.admin, carol)
    as_problem(operator.call("GET", f"/accounts/{other.account.id}/calls"), 403, "forbidden")
