"""Calls through the edge and rtpengine with sipp on both sides: the 407 challenge, relay to the registered
callee, SDES re-keyed per leg with SRTP both ways, ZRTP untouched, the edge's refusals, busy and CANCEL, the
announcements, and each case's call record through the API (`GET /api/v1/accounts/{id}/calls`), made by the
control plane's own SQS handler from the events the edge sent."""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chalice.test import Client

import app
from bench.srtp import SrtpSender
from chalicelib import bootstrap
from chalicelib.services import accounts, groups
from devstack.sip_edge import SipEdge, free_port, start_edge
from tests.api.helpers import ADMIN, Api
from tests.sip_edge.callsipp import Peer, RtpCounter, callee_scenario, caller_scenario, media
from tests.sip_edge.conftest import CACHE_SECONDS, EventLog, SipWorld
from tests.sip_edge.sipp import Sipp, register_scenario

PASSWORD = "sip-secret-1"
CRYPTO = re.compile(r"^a=crypto:\d+ (\S+) inline:([^\s|]+)", re.MULTILINE)


def _call_events(event_log: EventLog, call_id: str, kind: str, timeout: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        event_log.poll()
        found = [e for e in event_log.events if e.get("call_id") == call_id and e["kind"] == kind]
        if found:
            return found[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"no {kind} for {call_id}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def api(sip_world: SipWorld) -> Iterator[Api]:
    """The control plane's API on the tables the edge reads (the tests' moto)."""
    bootstrap.use(sip_world.ctx)
    with Client(app.app) as client:
        yield Api(client).login(*ADMIN)
    bootstrap.use(None)


def _record(api: Api, event_log: EventLog, call_id: str, account_id: str, direction: str) -> dict[str, Any]:
    """The call's events through the SQS handler (as the queue delivers them), then its record through the API."""
    _call_events(event_log, call_id, "call_ended")
    bodies = [json.dumps(e) for e in event_log.events if e.get("call_id") == call_id]
    records = [{"messageId": f"m{n}", "receiptHandle": f"r{n}", "body": body} for n, body in enumerate(bodies)]
    assert app.record_sip_events({"Records": records}, None) == {"batchItemFailures": []}
    answer = api.call("GET", f"/accounts/{account_id}/calls?direction={direction}&limit=50")
    assert answer.status_code == 200, answer.body
    found = [item for item in answer.json_body["items"] if item["call_id"] == call_id]
    assert len(found) == 1, answer.json_body
    return dict(found[0])


def _call_id(messages: str) -> str:
    match = re.search(r"^Call-ID: (\S+)", messages.split("INVITE sip:", 1)[1], re.MULTILINE)
    assert match, messages
    return match.group(1)


def _start_callee(edge: SipEdge, sipp: Sipp, tmp_path: Path, account: Any, answer: Any = None, **kw: Any) -> Peer:
    """The callee registers from a port, then a sipp UAS answers calls on that same port."""
    port = free_port()
    registered = sipp.run(register_scenario(account.username, PASSWORD), edge.udp_port, local_port=port)
    assert registered.returncode == 0, registered.errors + registered.output
    peer = Peer(tmp_path, edge.host, edge.udp_port, callee_scenario(account.username, answer, **kw),
                f"callee-{port}", port)  # fmt: skip
    _wait_bound(port)
    return peer


def _wait_bound(port: int, timeout: float = 10) -> None:
    """Until the UAS holds its UDP port (binding it here fails)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return
        time.sleep(0.05)
    raise AssertionError(f"the callee did not bind port {port}")


_AUDIO_PORT = re.compile(r"^m=audio (\d+) ", re.MULTILINE)


def _relay_port(messages: str, start: str) -> int | None:
    """rtpengine's media port in the SDP of the first logged message that starts with `start` (None: not yet)."""
    if start not in messages:
        return None
    found = _AUDIO_PORT.search(messages.split(start, 1)[1])
    return int(found.group(1)) if found else None


def _srtp_both_ways(caller: Peer, callee: Peer, offer: Any, answer: Any, packets: int = 50) -> tuple[int, int]:
    """Each side sends `packets` SRTP packets (20 ms apart) with its own key to the rtpengine port it was given:
    (packets the caller received, packets the callee received). rtpengine passes a packet on only after it
    decrypted it with the sender's key and encrypted it again with the other leg's."""
    deadline = time.monotonic() + 15
    to_caller_leg = to_callee_leg = None
    while to_caller_leg is None or to_callee_leg is None:
        assert time.monotonic() < deadline, "the call was not answered with SDP on both sides"
        time.sleep(0.1)
        to_caller_leg = _relay_port(caller.messages(), "SIP/2.0 200 OK")
        to_callee_leg = _relay_port(callee.messages(), "INVITE sip:")
    caller_key, callee_key = SrtpSender.inline(offer.key), SrtpSender.inline(answer.key)
    with RtpCounter(offer.port) as at_caller, RtpCounter(answer.port) as at_callee:
        for seq in range(packets):
            at_caller.send(caller_key.packet(0x1111, seq, seq * 160), ("127.0.0.1", to_caller_leg))
            at_callee.send(callee_key.packet(0x2222, seq, seq * 160), ("127.0.0.1", to_callee_leg))
            time.sleep(0.02)
        time.sleep(0.3)
    return at_caller.count, at_callee.count


def test_an_sdes_call_is_answered_with_srtp_both_ways_and_each_leg_gets_its_own_keys(
    edge: SipEdge, sipp: Sipp, sip_world: SipWorld, event_log: EventLog, tmp_path: Path, api: Api
) -> None:
    caller, callee = sip_world.account(), sip_world.account()
    offer, answer = media("sdes"), media("sdes")
    peer = _start_callee(edge, sipp, tmp_path, callee, answer, hold_ms=4000)
    placing = Peer(tmp_path, edge.host, edge.udp_port, caller_scenario(caller.username, PASSWORD, callee.username,
                   offer, hold_ms=4000), "caller", free_port())  # fmt: skip
    heard_by_caller, heard_by_callee = _srtp_both_ways(placing, peer, offer, answer)
    result, done = placing.wait(), peer.wait()
    assert result.returncode == 0, result.messages + result.errors + done.messages
    assert done.returncode == 0, done.errors + done.output
    assert heard_by_caller >= 45 and heard_by_callee >= 45, (heard_by_caller, heard_by_callee)  # of 50 each way
    invite = done.messages.split("INVITE sip:", 1)[1]
    offered = CRYPTO.findall(invite)
    assert offered and offer.key not in {key for _, key in offered}, invite  # the callee never sees the caller's key
    assert f"c=IN IP4 {edge.host}" in invite and "m=audio" in invite
    assert not any(suite.startswith("NULL") for suite, _ in offered)
    answered = result.messages.split("SIP/2.0 200 OK", 1)[1]
    keys = {key for _, key in CRYPTO.findall(answered)}
    assert keys and answer.key not in keys, answered  # nor the caller the callee's
    # the callee sees the caller's virtual number, not what the phone claimed
    assert f'P-Asserted-Identity: "{caller.phone_number}"' in invite, invite
    assert "+10000000000" not in invite
    call_id = _call_id(result.messages)
    ended = _call_events(event_log, call_id, "call_ended")
    assert (ended["caller_account_id"], ended["callee_account_id"]) == (caller.id, callee.id)
    assert ended["media_security"] == "sdes"
    _call_events(event_log, call_id, "call_answered")
    record = _record(api, event_log, call_id, callee.id, "received")
    assert (record["result"], record["media_security"], record["sip_code"]) == ("answered", "sdes", 200)
    assert (record["caller_username"], record["callee_username"]) == (caller.username, callee.username)
    assert record["answered_at"] and record["ended_at"] and record["duration_seconds"] >= 3
    placed = _record(api, event_log, call_id, caller.id, "placed")
    assert placed["direction"] == "placed" and placed["dialled"] == callee.username


def test_a_call_by_number_without_its_plus_reaches_the_account(
    edge: SipEdge, sipp: Sipp, sip_world: SipWorld, event_log: EventLog, tmp_path: Path, api: Api
) -> None:
    caller, callee = sip_world.account(), sip_world.account()
    peer = _start_callee(edge, sipp, tmp_path, callee, media("sdes"))
    dialled = callee.phone_number.lstrip("+")
    result = sipp.run(caller_scenario(caller.username, PASSWORD, dialled, media("sdes"), hold_ms=200),
                      edge.udp_port, timeout=30)  # fmt: skip
    assert result.returncode == 0, result.errors + result.output
    assert peer.wait().returncode == 0
    record = _record(api, event_log, _call_id(result.messages), caller.id, "placed")
    assert (record["dialled"], record["callee_username"], record["result"]) == (dialled, callee.username, "answered")


def test_zrtp_media_is_relayed_with_its_hash_unchanged(
    edge: SipEdge, sipp: Sipp, sip_world: SipWorld, event_log: EventLog, tmp_path: Path, api: Api
) -> None:
    caller, callee = sip_world.account(security_model="ZRTP"), sip_world.account(security_model="ZRTP")
    offer = media("zrtp")
    peer = _start_callee(edge, sipp, tmp_path, callee, media("zrtp"))
    result = sipp.run(caller_scenario(caller.username, PASSWORD, callee.username, offer, hold_ms=200),
                      edge.udp_port, timeout=30)  # fmt: skip
    assert result.returncode == 0, result.errors + peer.wait().output
    done = peer.wait()
    assert done.returncode == 0, done.errors + done.output
    invite = done.messages.split("INVITE sip:", 1)[1]
    assert f"a=zrtp-hash:{offer.zrtp_hash}" in invite and "RTP/AVP" in invite and "a=crypto" not in invite
    record = _record(api, event_log, _call_id(result.messages), callee.id, "received")
    assert (record["result"], record["media_security"]) == ("answered", "zrtp")


def test_edge_refusals(
    edge: SipEdge, sipp: Sipp, sip_world: SipWorld, event_log: EventLog, tmp_path: Path, api: Api
) -> None:
    caller, other, unregistered = sip_world.account(), sip_world.account(), sip_world.account()
    zrtp = sip_world.account(security_model="ZRTP")
    cases = [
        ("nobody-here", media("sdes"), 404, None, "not_found"),
        (unregistered.username, media("sdes"), 480, None, "unavailable"),
        (unregistered.username, media("plain"), 488, "Secure Media Required", "failed"),
        (zrtp.username, media("sdes"), 488, "Security Models Differ", "failed"),
    ]
    for dialled, offer, code, phrase, result_name in cases:
        result = sipp.run(caller_scenario(caller.username, PASSWORD, dialled, offer, expect=code, phrase=phrase),
                          edge.udp_port)  # fmt: skip
        assert result.returncode == 0, (dialled, result.errors + result.output)
        ended = _call_events(event_log, _call_id(result.messages), "call_ended")
        assert (ended["sip_code"], ended["result"]) == (code, result_name)
        record = _record(api, event_log, ended["call_id"], caller.id, "placed")
        assert (record["sip_code"], record["result"], record["dialled"]) == (code, result_name, dialled)
    # From spoofing: the digest of `caller`, the From of `other`
    spoof = caller_scenario(caller.username, PASSWORD, unregistered.username, media("sdes"), expect=403,
                            from_user=other.username)  # fmt: skip
    assert sipp.run(spoof, edge.udp_port).returncode == 0


def test_busy_callee_and_a_cancelled_call(
    edge: SipEdge, sipp: Sipp, sip_world: SipWorld, event_log: EventLog, tmp_path: Path, api: Api
) -> None:
    caller, busy, ringing = sip_world.account(), sip_world.account(), sip_world.account()
    peer = _start_callee(edge, sipp, tmp_path, busy, final="486 Busy Here")
    result = sipp.run(caller_scenario(caller.username, PASSWORD, busy.username, media("sdes"), expect=486),
                      edge.udp_port, timeout=30)  # fmt: skip
    assert result.returncode == 0, result.errors + result.output
    assert peer.wait().returncode == 0
    ended = _call_events(event_log, _call_id(result.messages), "call_ended")
    assert (ended["sip_code"], ended["result"]) == (486, "busy"), [
        e for e in event_log.events if e.get("call_id") == ended["call_id"]
    ]
    record = _record(api, event_log, ended["call_id"], busy.id, "received")
    assert (record["sip_code"], record["result"], record["answered_at"]) == (486, "busy", None)

    peer = _start_callee(edge, sipp, tmp_path, ringing)
    result = sipp.run(caller_scenario(caller.username, PASSWORD, ringing.username, media("sdes"),
                                      cancel_after_ms=300), edge.udp_port, timeout=30)  # fmt: skip
    assert result.returncode == 0, result.errors + result.output
    peer.wait()
    ended = _call_events(event_log, _call_id(result.messages), "call_ended")
    assert ended["result"] == "cancelled"
    assert _record(api, event_log, ended["call_id"], caller.id, "placed")["result"] == "cancelled"


def _announced(edge: SipEdge, sipp: Sipp, caller: Any, dialled: str, code: int, phrase: str) -> tuple[Any, int]:
    """A call that hears the announcement: (sipp's result, the RTP packets that reached the caller's media port)."""
    offer = media("sdes")
    with RtpCounter(offer.port) as heard:
        result = sipp.run(caller_scenario(caller.username, PASSWORD, dialled, offer, expect=code, phrase=phrase),
                          edge.udp_port, timeout=30)  # fmt: skip
    assert result.returncode == 0, result.errors + result.output
    early = result.messages.split("SIP/2.0 183 Session Progress", 1)[1].split("\n-----", 1)[0]
    assert "Content-Type: application/sdp" in early and "RTP/SAVP" in early, early
    assert offer.key not in early and CRYPTO.search(early), early  # rtpengine's own key, the SRTP of the caller's leg
    return result, heard.count


def test_a_disabled_caller_hears_the_announcement_then_403(
    edge: SipEdge, sipp: Sipp, sip_world: SipWorld, event_log: EventLog, api: Api
) -> None:
    caller, callee = sip_world.account(), sip_world.account()
    accounts.set_enabled(sip_world.ctx, sip_world.admin, caller.id, False)
    result, packets = _announced(edge, sipp, caller, callee.username, 403, "Account disabled")
    # the English message lasts about 4.5 s: 20 ms packets
    assert packets >= 150, packets
    ended = _call_events(event_log, _call_id(result.messages), "call_ended")
    assert (ended["sip_code"], ended["result"], ended["reason"]) == (403, "rejected", "caller_disabled")
    record = _record(api, event_log, ended["call_id"], caller.id, "placed")
    assert (record["sip_code"], record["result"], record["media_security"]) == (403, "rejected", "sdes")


def test_the_caller_of_a_disabled_account_or_group_hears_the_announcement_then_480(
    edge: SipEdge, sipp: Sipp, sip_world: SipWorld, event_log: EventLog, api: Api
) -> None:
    caller, callee = sip_world.account(), sip_world.account()
    accounts.set_enabled(sip_world.ctx, sip_world.admin, callee.id, False)
    result, packets = _announced(edge, sipp, caller, callee.username, 480, "Temporarily Unavailable")
    assert packets >= 75, packets  # about 2.5 s
    ended = _call_events(event_log, _call_id(result.messages), "call_ended")
    assert (ended["sip_code"], ended["result"], ended["reason"]) == (480, "unavailable", "callee_disabled")
    record = _record(api, event_log, ended["call_id"], callee.id, "received")
    assert (record["sip_code"], record["result"]) == (480, "unavailable")

    group = sip_world.make_group(f"Off {callee.id}")
    in_group = sip_world.account(group_id=group.id)
    groups.update_group(sip_world.ctx, sip_world.admin, group.id, {"enabled": False})
    time.sleep(CACHE_SECONDS + 0.5)  # no cached answer of the group from before
    _, packets = _announced(edge, sipp, caller, in_group.username, 480, "Temporarily Unavailable")
    assert packets >= 75, packets


def test_without_rtpengine_new_calls_get_503_and_the_edge_stays_up(
    edge: SipEdge, sip_world: SipWorld, event_log: EventLog, tmp_path: Path, api: Api
) -> None:
    """An edge whose rtpengine is gone (here: never started, `RTPENGINE=false`): calls 503, registrations work."""
    chosen = ("SIP_UDP_PORT", "SIP_TCP_PORT", "SIP_TLS_PORT", "SIP_RUN_DIR", "SIP_RTPENGINE_NG_PORT",
              "SIP_RTPENGINE_CLI_PORT")  # fmt: skip
    env = {k: v for k, v in edge.env.items() if k not in chosen}
    degraded = start_edge({**env, "RTPENGINE": "false"}, tmp_path / "edge")
    try:
        caller, callee = sip_world.account(), sip_world.account()
        sipp = Sipp(tmp_path, degraded.host)
        registered = sipp.run(register_scenario(callee.username, PASSWORD), degraded.udp_port)
        assert registered.returncode == 0, registered.errors + registered.output
        result = sipp.run(caller_scenario(caller.username, PASSWORD, callee.username, media("sdes"), expect=503,
                                          phrase="Media Relay Unavailable"), degraded.udp_port)  # fmt: skip
        assert result.returncode == 0, result.errors + result.output
        assert "Retry-After: 5" in result.messages
        ended = _call_events(event_log, _call_id(result.messages), "call_ended")
        assert (ended["reason"], ended["result"]) == ("media_relay_unavailable", "failed")
        record = _record(api, event_log, ended["call_id"], callee.id, "received")
        assert (record["sip_code"], record["result"]) == (503, "failed")
    finally:
        degraded.stop()
