"""Two real edges against the same tables and queue (SIP_EDGES=2 locally, the NLB's tasks in AWS): each reports
its own edge id, an edge the phone has left never removes the registration the other one holds, and a lockout
(replicated over the fleet's DMQ bus) holds on every edge."""

from __future__ import annotations

from datetime import datetime

from chalicelib.api.views import registration_json
from chalicelib.services import registrations
from devstack.sip_edge import SipEdge, free_port
from tests.sip_edge.conftest import EventLog, SipWorld
from tests.sip_edge.rawsip import SipClient, status_line
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


def test_a_lockout_on_one_edge_holds_on_the_other(
    edge: SipEdge, second_edge: SipEdge, sip_world: SipWorld, event_log: EventLog
) -> None:
    victim = sip_world.account()
    guesser = SipClient(edge.host, edge.udp_port, local_ip="127.0.0.11")
    for n in range(10):
        assert status_line(guesser.login(victim.username, f"guess-{n}")[1]) == "SIP/2.0 403 Forbidden"
    event_log.wait_for(victim.username, lambda e: e["kind"] == "locked_out")
    elsewhere = SipClient(second_edge.host, second_edge.udp_port, local_ip="127.0.0.12")
    assert status_line(elsewhere.login(victim.username, "sip-secret-1")[1]) == "SIP/2.0 403 Forbidden"
    refusal = event_log.wait_for(victim.username, lambda e: e["edge"] == "edge-test-2")
    assert (refusal["kind"], refusal["reason"]) == ("refused", "locked_out")
    guesser.close()
    elsewhere.close()
