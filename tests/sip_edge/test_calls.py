"""Calls through the edge and rtpengine with sipp on both sides: the 407 challenge, relay to the registered
callee, SDES re-keyed per leg, ZRTP untouched, the edge's refusals, busy and CANCEL, and the call events."""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path
from typing import Any

from chalicelib.services import accounts, calls, groups
from devstack.sip_edge import SipEdge, free_port, start_edge
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


def test_an_sdes_call_is_answered_and_each_leg_gets_its_own_keys(
    edge: SipEdge, sipp: Sipp, sip_world: SipWorld, event_log: EventLog, tmp_path: Path
) -> None:
    caller, callee = sip_world.account(), sip_world.account()
    offer, answer = media("sdes"), media("sdes")
    peer = _start_callee(edge, sipp, tmp_path, callee, answer)
    result = sipp.run(caller_scenario(caller.username, PASSWORD, callee.username, offer), edge.udp_port, timeout=30)
    assert result.returncode == 0, result.messages + result.errors + peer.wait().messages
    done = peer.wait()
    assert done.returncode == 0, done.errors + done.output
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
    # the control plane's consumer makes the record (the local stack's bridge calls the same handler)
    calls.record_events(sip_world.ctx, [e for e in event_log.events if e.get("call_id") == call_id])
    [record] = calls.list_calls(sip_world.ctx, sip_world.admin, callee.id, "received", 10, None).items
    assert (record.call_id, record.result, record.media_security) == (call_id, "answered", "sdes")
    assert record.answered_at is not None and record.ended_at is not None and record.duration_seconds >= 1


def test_a_call_by_number_without_its_plus_reaches_the_account(
    edge: SipEdge, sipp: Sipp, sip_world: SipWorld, tmp_path: Path
) -> None:
    caller, callee = sip_world.account(), sip_world.account()
    peer = _start_callee(edge, sipp, tmp_path, callee, media("sdes"))
    dialled = callee.phone_number.lstrip("+")
    result = sipp.run(caller_scenario(caller.username, PASSWORD, dialled, media("sdes"), hold_ms=200),
                      edge.udp_port, timeout=30)  # fmt: skip
    assert result.returncode == 0, result.errors + result.output
    assert peer.wait().returncode == 0


def test_zrtp_media_is_relayed_with_its_hash_unchanged(
    edge: SipEdge, sipp: Sipp, sip_world: SipWorld, tmp_path: Path
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


def test_edge_refusals(edge: SipEdge, sipp: Sipp, sip_world: SipWorld, event_log: EventLog, tmp_path: Path) -> None:
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
    # From spoofing: the digest of `caller`, the From of `other`
    spoof = caller_scenario(caller.username, PASSWORD, unregistered.username, media("sdes"), expect=403,
                            from_user=other.username)  # fmt: skip
    assert sipp.run(spoof, edge.udp_port).returncode == 0


def test_busy_callee_and_a_cancelled_call(
    edge: SipEdge, sipp: Sipp, sip_world: SipWorld, event_log: EventLog, tmp_path: Path
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

    peer = _start_callee(edge, sipp, tmp_path, ringing)
    result = sipp.run(caller_scenario(caller.username, PASSWORD, ringing.username, media("sdes"),
                                      cancel_after_ms=300), edge.udp_port, timeout=30)  # fmt: skip
    assert result.returncode == 0, result.errors + result.output
    peer.wait()
    ended = _call_events(event_log, _call_id(result.messages), "call_ended")
    assert ended["result"] == "cancelled"


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
    edge: SipEdge, sipp: Sipp, sip_world: SipWorld, event_log: EventLog
) -> None:
    caller, callee = sip_world.account(), sip_world.account()
    accounts.set_enabled(sip_world.ctx, sip_world.admin, caller.id, False)
    result, packets = _announced(edge, sipp, caller, callee.username, 403, "Account disabled")
    # the English message lasts about 4.5 s: 20 ms packets
    assert packets >= 150, packets
    ended = _call_events(event_log, _call_id(result.messages), "call_ended")
    assert (ended["sip_code"], ended["result"], ended["reason"]) == (403, "rejected", "caller_disabled")


def test_the_caller_of_a_disabled_account_or_group_hears_the_announcement_then_480(
    edge: SipEdge, sipp: Sipp, sip_world: SipWorld, event_log: EventLog
) -> None:
    caller, callee = sip_world.account(), sip_world.account()
    accounts.set_enabled(sip_world.ctx, sip_world.admin, callee.id, False)
    result, packets = _announced(edge, sipp, caller, callee.username, 480, "Temporarily Unavailable")
    assert packets >= 75, packets  # about 2.5 s
    ended = _call_events(event_log, _call_id(result.messages), "call_ended")
    assert (ended["sip_code"], ended["result"], ended["reason"]) == (480, "unavailable", "callee_disabled")

    group = sip_world.make_group(f"Off {callee.id}")
    in_group = sip_world.account(group_id=group.id)
    groups.update_group(sip_world.ctx, sip_world.admin, group.id, {"enabled": False})
    time.sleep(CACHE_SECONDS + 0.5)  # no cached answer of the group from before
    _, packets = _announced(edge, sipp, caller, in_group.username, 480, "Temporarily Unavailable")
    assert packets >= 75, packets


def test_without_rtpengine_new_calls_get_503_and_the_edge_stays_up(
    edge: SipEdge, sip_world: SipWorld, event_log: EventLog, tmp_path: Path
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
    finally:
        degraded.stop()
