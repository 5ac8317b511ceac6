"""Against the running edge: the KSR functions the script calls exist in this Kamailio, malformed SIP does not
hurt it, and a failed-digest flood from one source is cut off while other sources go on registering."""

from __future__ import annotations

import re
import socket
import time

from devstack.sip_edge import SipEdge
from tests.sip_edge.conftest import FLOOD_LIMIT, SIP_EDGE_DIR, EventLog, SipWorld, rpc
from tests.sip_edge.sipp import Sipp, register_scenario


def test_every_ksr_function_the_script_calls_exists_in_this_kamailio(edge: SipEdge) -> None:
    listing = rpc(edge, "app_python.api_list")
    exported = {f"{m}.{n}" if m else n for m, n in re.findall(r"module: (\S*)\s+name: (\S+)", listing)}
    assert len(exported) > 100
    source = (SIP_EDGE_DIR / "routing.py").read_text()
    used = set(re.findall(r"KSR\.((?:[a-z0-9_]+\.)?[A-Za-z_0-9]+)\(", source)) - {"pv.get", "pv.sets", "pv.seti"}
    assert used, "no KSR calls found"
    assert used <= exported, sorted(used - exported)


def test_malformed_sip_gets_no_crash(edge: SipEdge, sipp: Sipp, sip_world: SipWorld) -> None:
    garbage = [
        b"\x00\xff" * 300,
        b"REGISTER sip:x SIP/2.0\r\nVia: broken\r\nContent-Length: 99999\r\n\r\n",
        b"REGISTER sip:[::1 SIP/2.0\r\nFrom: <\r\nTo: >>\r\nCSeq: x\r\n\r\n",
        b"INVITE sip:a@b SIP/2.0\r\n" + b"X: " + b"y" * 60000 + b"\r\n\r\n",
    ]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        for payload in garbage:
            udp.sendto(payload[:65000], (edge.host, edge.udp_port))
    with socket.create_connection((edge.host, edge.tcp_port)) as tcp:
        for payload in garbage:
            tcp.sendall(payload[:65000])
    time.sleep(0.5)
    assert edge.process.poll() is None
    assert "exited by a signal" not in edge.log_text()
    account = sip_world.account()
    result = sipp.run(register_scenario(account.username, "sip-secret-1"), edge.udp_port)
    assert result.returncode == 0, result.errors + result.output


def test_a_failed_digest_flood_from_one_source_is_cut_off(
    edge: SipEdge, sipp: Sipp, sip_world: SipWorld, event_log: EventLog
) -> None:
    guessed = sip_world.account()
    scenario = register_scenario(guessed.username, "a-guess", expect=403)
    # 300 wrong-password dialogs at 150/s from 127.0.0.9: cut off after FLOOD_LIMIT failures (the account's
    # lockout comes first; locked-out answers cost the same)
    flood = sipp.run(scenario, edge.udp_port, local_ip="127.0.0.9", timeout=12,
                     extra=("-m", "300", "-r", "150", "-recv_timeout", "2000"))  # fmt: skip
    assert flood.returncode != 0
    successes = re.search(r"Successful call\s+\|\s+\d+\s+\|\s+(\d+)", flood.output)
    assert successes is not None and int(successes.group(1)) <= FLOOD_LIMIT + 5, flood.output[-2000:]
    assert "flood from 127.0.0.9 cut off" in edge.log_text()
    assert edge.process.poll() is None
    other = sip_world.account()
    result = sipp.run(register_scenario(other.username, "sip-secret-1"), edge.udp_port, local_ip="127.0.0.1")
    assert result.returncode == 0, result.errors + result.output
