"""Two real edges against the same tables and queue (SIP_EDGES=2 locally, the NLB's tasks in AWS): each reports
its own edge id, an edge the phone has left never removes the registration the other one holds, a lockout
(replicated over the fleet's DMQ bus) holds on every edge, phones connected to different edges call each other
(the shared location, dmq_usrloc) and each edge pings only the phones connected to it."""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chalicelib.api.views import registration_json
from chalicelib.services import registrations
from devstack.sip_edge import SipEdge, dmq_address, fleet_member_env, free_port, start_edge
from tests.sip_edge.callsipp import caller_scenario, media
from tests.sip_edge.conftest import KEEPALIVE_SECONDS, OWN_SETTINGS, EventLog, SipWorld, rpc
from tests.sip_edge.rawsip import SipClient, status_line
from tests.sip_edge.sipp import Sipp, register_scenario
from tests.sip_edge.test_calls import _call_events, _call_id, _start_callee

PASSWORD = "sip-secret-1"


def test_a_phone_moving_to_another_edge_stays_registered_when_the_first_edges_copy_would_expire(
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
    time.sleep(5)  # past the first registration's expiry and a round of the usrloc timer
    # the shared location replaced the first edge's contact with the second's: nothing expires, nothing ends
    kinds = sorted((e["kind"], e["edge"]) for e in event_log.of(account.username))  # two senders: any order
    assert kinds == [("registered", "edge-test"), ("registered", "edge-test-2")], kinds
    # and an end the first edge might still report (a replication lost) never removes the live registration
    [first_copy] = [e for e in event_log.of(account.username) if e["edge"] == "edge-test"]
    stale = {**first_copy, "id": "stale-expiry", "kind": "expired",
             "at": datetime.now(UTC).isoformat()}  # fmt: skip
    registrations.record_events(sip_world.ctx, [*event_log.of(account.username), stale])
    [online] = registrations.online_in_group(sip_world.ctx, sip_world.admin, group.id, 50, None).items
    assert registration_json(online)["edge"] == "edge-test-2"


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


def _wait_registered(event_log: EventLog, account: Any, edge: SipEdge) -> None:
    event_log.wait_for(account.username, lambda e: e["kind"] == "registered" and e["edge"] == edge.env["SIP_EDGE_ID"])
    time.sleep(0.3)  # the contact's replication to the other task (one KDMQ request on the bus)


def _answer_busy(phone: SipClient, seen: list[str]) -> None:
    """The phone's side: the INVITE arrives over its own TCP connection; it answers 486 Busy Here."""
    invite = phone.receive()
    seen.append(invite)
    keep = [line for line in invite.split("\r\n") if line.split(":", 1)[0] in ("Via", "From", "Call-ID", "CSeq")]
    to = next(line for line in invite.split("\r\n") if line.startswith("To:"))
    phone.send(("SIP/2.0 486 Busy Here\r\n" + "\r\n".join(keep) + f"\r\n{to};tag=busy1\r\n"
                "Content-Length: 0\r\n\r\n").encode())  # fmt: skip


def test_phones_on_different_edges_call_each_other(
    edge: SipEdge, second_edge: SipEdge, sipp: Sipp, sip_world: SipWorld, event_log: EventLog, tmp_path: Path
) -> None:
    """Over UDP the call is answered with media; over TCP only the edge holding the phone's connection can reach
    it (the phone answers busy over that connection)."""
    for caller_edge, callee_edge in ((edge, second_edge), (second_edge, edge)):
        caller, callee = sip_world.account(), sip_world.account()
        peer = _start_callee(callee_edge, sipp, tmp_path, callee, media("sdes"))
        _wait_registered(event_log, callee, callee_edge)
        result = sipp.run(caller_scenario(caller.username, PASSWORD, callee.username, media("sdes"), hold_ms=300),
                          caller_edge.udp_port, timeout=30)  # fmt: skip
        done = peer.wait()
        assert result.returncode == 0, result.messages + result.errors + done.messages
        assert done.returncode == 0, done.errors + done.output
        invite = done.messages.split("INVITE sip:", 1)[1]
        assert f"c=IN IP4 {caller_edge.host}" in invite  # media through the caller's task's rtpengine
        ended = _call_events(event_log, _call_id(result.messages), "call_ended")
        assert (ended["edge"], ended["callee_account_id"]) == (caller_edge.env["SIP_EDGE_ID"], callee.id)

        busy = sip_world.account()
        phone = SipClient(callee_edge.host, callee_edge.tcp_port, transport="tcp", timeout=15)
        assert status_line(phone.login(busy.username, PASSWORD, expires=120)[1]) == "SIP/2.0 200 OK"
        _wait_registered(event_log, busy, callee_edge)
        seen: list[str] = []
        answering = threading.Thread(target=_answer_busy, args=(phone, seen))
        answering.start()
        result = sipp.run(caller_scenario(caller.username, PASSWORD, busy.username, media("sdes"), expect=486),
                          caller_edge.udp_port, timeout=30)  # fmt: skip
        answering.join(20)
        port = phone.local_port
        phone.close()
        assert result.returncode == 0, result.messages + result.errors + "".join(seen)
        assert seen and seen[0].startswith(f"INVITE sip:{busy.username}@127.0.0.1:{port}")


def test_keepalive_pings_leave_only_from_the_edge_holding_the_phone(
    edge: SipEdge, second_edge: SipEdge, sip_world: SipWorld, event_log: EventLog, tmp_path: Path
) -> None:
    phones = [(sip_world.account(keep_alive=True), holder) for holder in (edge, second_edge)]
    results: dict[str, Any] = {}

    def hold(account: Any, holder: SipEdge) -> None:
        scenario = register_scenario(
            account.username, PASSWORD, expires=300, hold_ms=(KEEPALIVE_SECONDS * 3 + 2) * 1000
        )
        results[account.username] = Sipp(tmp_path / account.username, holder.host).run(
            scenario, holder.udp_port, "u1", answer_options=True
        )

    for account, _ in phones:
        (tmp_path / account.username).mkdir()
    threads = [threading.Thread(target=hold, args=phone) for phone in phones]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for account, holder in phones:
        result = results[account.username]
        assert result.returncode == 0, result.errors + result.output
        vias = re.findall(r"^OPTIONS sip:.*?^Via: SIP/2.0/UDP ([^;\s]+)", result.messages, re.MULTILINE | re.DOTALL)
        assert len(vias) >= 2, result.messages
        assert set(vias) == {f"{holder.host}:{holder.udp_port}"}, vias
        assert not [e for e in event_log.of(account.username) if e["kind"] == "keepalive_failed"]


def test_a_restarted_edge_knows_the_fleets_phones_without_them_registering_again(
    edge: SipEdge, second_edge: SipEdge, sipp: Sipp, sip_world: SipWorld, event_log: EventLog, tmp_path: Path
) -> None:
    env = {k: v for k, v in second_edge.env.items() if k not in OWN_SETTINGS}
    third = start_edge(fleet_member_env(env, 2, "edge-test"), tmp_path / "edge-3")
    kept = {k: third.env[k] for k in OWN_SETTINGS if k in third.env and k != "SIP_RUN_DIR"}
    try:
        on_first, on_third, caller = sip_world.account(), sip_world.account(), sip_world.account()
        first_phone = _start_callee(edge, sipp, tmp_path, on_first, media("sdes"))
        third_phone = _start_callee(third, sipp, tmp_path, on_third, media("sdes"))
        _wait_registered(event_log, on_third, third)
        third.stop()
        third = start_edge({**fleet_member_env(env, 2, "edge-test"), **kept}, tmp_path / "edge-3b")
        time.sleep(1)  # the restarted task has asked its peers for the location (dmq_usrloc sync)
        # from the restarted edge to a phone the first edge holds, and from the first edge to the phone the
        # restarted one held before: neither phone registered again
        for via, phone, callee in ((third, first_phone, on_first), (edge, third_phone, on_third)):
            result = sipp.run(caller_scenario(caller.username, PASSWORD, callee.username, media("sdes"),
                                              hold_ms=200), via.udp_port, timeout=30)  # fmt: skip
            done = phone.wait()
            assert result.returncode == 0, result.messages + result.errors + done.messages
            assert done.returncode == 0, done.errors + done.output
        assert [e["kind"] for e in event_log.of(on_third.username)] == ["registered"]
    finally:
        third.stop()


def _dmq_nodes(edge: SipEdge) -> list[tuple[str, bool]]:
    nodes = re.findall(r"host: (\S+)\s+port: (\d+).*?local: (\d)", rpc(edge, "dmq.list_nodes"), re.DOTALL)
    return [(f"sip:{host}:{port}", local == "1") for host, port, local in nodes]


def test_every_edge_lists_itself_once_on_the_bus_and_never_as_a_peer(edge: SipEdge, second_edge: SipEdge) -> None:
    # an edge named as its own peer would send every replicated contact and lockout to itself (Kamailio 5.6 lists
    # the address twice): each edge appears once, as the local node, and the other as a remote one
    for member, other in ((edge, second_edge), (second_edge, edge)):
        nodes = _dmq_nodes(member)
        addresses = [address for address, _ in nodes]
        assert len(addresses) == len(set(addresses)), nodes
        assert (dmq_address(member), True) in nodes, nodes
        assert (dmq_address(other), False) in nodes, nodes
