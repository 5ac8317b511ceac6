"""Two real edges against the same tables and queue (SIP_EDGES=2 locally, the NLB's tasks in AWS): each reports
its own edge id, and an edge the phone has left never removes the registration the other one holds."""

from __future__ import annotations

from datetime import datetime

from chalicelib.api.views import registration_json
from chalicelib.services import registrations
from devstack.sip_edge import SipEdge, free_port
from tests.sip_edge.conftest import EventLog, SipWorld
from tests.sip_edge.sipp import Sipp, register_scenario


def test_a_phone_moving_to_another_edge_stays_registered_when_the_first_edges_copy_expires(
    edge: SipEdge, second_edge: SipEdge, sipp: Sipp, sip_world: SipWorld, event_log: EventLog
) -> None:
    group = sip_world.make_group("Fleet")
    account = sip_world.account(group_id=group.id)
    port = free_port()  # the same contact on both edges, as a phone keeps it when the NLB moves it
    first = sipp.run(register_scenario(account.username, "sip-secret-1", expires=2), edge.udp_port, local_port=port)
    assert first.returncode == 0, first.errors + first.output
    moved = sipp.run(register_scenario(account.username, "sip-secret-1", expires=300), second_edge.udp_port,
                     local_port=port)  # fmt: skip
    assert moved.returncode == 0, moved.errors + moved.output
    expired = event_log.wait_for(account.username, lambda e: e["kind"] == "expired", timeout=15)
    assert expired["edge"] == edge.env["SIP_EDGE_ID"] == "edge-test"
    registered = [e for e in event_log.of(account.username) if e["kind"] == "registered"]
    assert sorted(e["edge"] for e in registered) == ["edge-test", "edge-test-2"]
    assert len({e["contact"] for e in registered}) == 1

    registrations.record_events(sip_world.ctx, event_log.of(account.username))
    [online] = registrations.online_in_group(sip_world.ctx, sip_world.admin, group.id, 50, None).items
    assert registration_json(online)["edge"] == "edge-test-2"
    assert online.expires_at > datetime.fromisoformat(expired["at"])  # the live one, not the expired copy
