"""DELETE /api/v1/accounts/{id}/sip-lockout lifts the SIP edge's lockout; registrations carry their edge."""

from __future__ import annotations

from chalicelib.services import accounts, registrations
from tests.api.helpers import Api, as_problem
from tests.conftest import World
from tests.test_registrations import event


def test_the_api_lifts_a_lockout_and_lists_the_edge_of_each_registration(api: Api, http_world: World) -> None:
    created = accounts.create_account(
        http_world.ctx, http_world.admin, http_world.account_data(username="3003")
    ).account
    now = http_world.ctx.clock()
    registrations.record_events(http_world.ctx, [event(created, "registered", now, edge="edge-2")])
    [item] = api.call("GET", f"/registrations?group_id={http_world.group_a.id}").json_body["items"]
    assert item["edge"] == "edge-2"
    registrations.record_events(http_world.ctx, [event(created, "locked_out", now, contact="", expires=900)])
    assert api.call("GET", f"/accounts/{created.id}").json_body["sip_locked_until"] is not None
    response = api.call("DELETE", f"/accounts/{created.id}/sip-lockout")
    assert response.status_code == 200, response.body
    assert response.json_body["sip_locked_until"] is None
    as_problem(api.call("DELETE", "/accounts/no-such-account/sip-lockout"), 404, "not_found")
