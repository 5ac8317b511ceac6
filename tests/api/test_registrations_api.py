"""GET /api/v1/registrations: who is online, fed by the SIP edge's events."""

from __future__ import annotations

import pytest

from chalicelib.services import accounts, registrations
from tests.api.helpers import Api, as_problem
from tests.conftest import World
from tests.test_registrations import event


@pytest.mark.both_backends
def test_the_registrations_endpoint_lists_who_is_online(api: Api, http_world: World) -> None:
    created = accounts.create_account(
        http_world.ctx, http_world.admin, http_world.account_data(username="2002")
    ).account
    now = http_world.ctx.clock()
    registrations.record_events(http_world.ctx, [event(created, "registered", now, transport="tls")])
    response = api.call("GET", f"/registrations?group_id={http_world.group_a.id}")
    assert response.status_code == 200, response.body
    [item] = response.json_body["items"]
    assert item["username"] == "2002" and item["transport"] == "tls" and item["source"] == "10.0.0.5:5062"
    assert api.call("GET", f"/accounts/{created.id}").json_body["status"] == "connected"
    assert as_problem(api.call("GET", "/registrations"), 400, "missing_parameter")["field"] == "group_id"
    operator = Api(api.client).login("op-a", "op-a-password")
    as_problem(operator.call("GET", f"/registrations?group_id={http_world.group_b.id}"), 403, "forbidden")


def test_a_profile_names_the_transports_the_edge_accepts(api: Api, http_world: World) -> None:
    base = {"name": "edge", "sip_domain": "voice.example.com", "sip_host": "sip.example.com"}
    created = api.call("POST", "/provisioning-profiles", {**base, "transports": ["udp", "tls", "udp"]})
    assert created.status_code == 201, created.body
    assert created.json_body["transports"] == ["tls", "udp"]
    stored = http_world.ctx.profiles.get(created.json_body["id"])
    assert stored is not None and [t.value for t in stored.transports] == ["tls", "udp"]
    default = api.call("POST", "/provisioning-profiles", {**base, "name": "default edge"})
    assert default.json_body["transports"] == []  # the edge's own default (TLS only in production)
    problem = as_problem(
        api.call("POST", "/provisioning-profiles", {**base, "transports": ["sctp"]}), 422, "validation_failed"
    )
    assert problem["errors"][0]["field"] == "transports"
