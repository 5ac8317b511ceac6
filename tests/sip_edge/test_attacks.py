"""The edge as an attacker sees it, with hand-made SIP, sipp and openssl against the running edge: nothing tells
accounts apart, a password guesser is locked out (and an operator lifts it), floods are cut off per source while
many phones behind one address register, idle connections are closed, TLS offers only strong suites."""

from __future__ import annotations

import hashlib
import json
import re
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib.services import registrations, sip_lockout
from devstack.sip_edge import SipEdge, start_edge
from tests.sip_edge.callsipp import caller_scenario, media
from tests.sip_edge.conftest import (
    CACHE_SECONDS,
    CONNECTIONS_PER_SOURCE,
    FLOOD_LIMIT,
    TCP_IDLE_SECONDS,
    TLS_HANDSHAKE_SECONDS,
    EventLog,
    SipWorld,
    rpc,
)
from tests.sip_edge.rawsip import DOMAIN, SipClient, status_line
from tests.sip_edge.sipp import Sipp

PASSWORD = "sip-secret-1"
_VOLATILE = [
    (re.compile(r"branch=z9hG4bK\w+"), "branch=B"),
    (re.compile(r"tag=[\w.-]+"), "tag=T"),
    (re.compile(r'nonce="[^"]+"'), 'nonce="N"'),
    (re.compile(r"^Call-ID: .*$", re.MULTILINE), "Call-ID: C"),
    (re.compile(r"^CSeq: \d+", re.MULTILINE), "CSeq: 1"),
]


def _normalised(response: str, user: str) -> str:
    text = response.replace(user, "USER")
    for pattern, replacement in _VOLATILE:
        text = pattern.sub(replacement, text)
    return text


@pytest.mark.parametrize(
    ("method", "challenged"),
    [("REGISTER", "401 Unauthorized"), ("INVITE", "407 Proxy Authentication Required")],
)
def test_unknown_wrong_password_and_not_activated_get_byte_identical_answers(
    edge: SipEdge, sip_world: SipWorld, event_log: EventLog, method: str, challenged: str
) -> None:
    """A REGISTER, and a call's INVITE: one challenge (the To or From domain as the realm for everybody), one
    403 Forbidden; the reasons only in the events."""
    known, callee = sip_world.account(), sip_world.account()
    inactive = sip_world.account(password=None, mode="wizard")
    unknown = f"nobody{known.username[1:]}"  # the same length as the others
    client = SipClient(edge.host, edge.udp_port, local_ip="127.0.0.1" if method == "REGISTER" else "127.0.0.10")
    answers = {}
    for user, password in ((known.username, "not-the-password"), (inactive.username, "x"), (unknown, "x")):
        if method == "REGISTER":
            challenge, final = client.login(user, password)
        else:
            challenge, final = client.call(user, password, callee.username)
        answers[user] = (_normalised(challenge, user), _normalised(final, user))
    client.close()
    challenges = {challenge for challenge, _ in answers.values()}
    finals = {final for _, final in answers.values()}
    assert len(challenges) == 1, challenges
    assert len(finals) == 1, finals
    [challenge], [final] = challenges, finals
    assert status_line(challenge) == f"SIP/2.0 {challenged}"
    assert f'Authenticate: Digest realm="{DOMAIN}"' in challenge
    assert status_line(final) == "SIP/2.0 403 Forbidden"
    assert "Server:" not in final and "kamailio" not in final.lower()
    reasons = {user: event_log.wait_for(user, lambda e: e["kind"] == "refused")["reason"] for user in answers}
    assert reasons == {known.username: "wrong_password", inactive.username: "not_activated", unknown: "unknown_user"}


def test_wrong_invite_digests_lock_the_account_for_calls_and_registrations(
    edge: SipEdge, sip_world: SipWorld, event_log: EventLog, tmp_path: Path
) -> None:
    """Ten wrong digests, some by REGISTER and some by INVITE: locked; the right password is refused after."""
    victim, callee = sip_world.account(), sip_world.account()
    guesser = SipClient(edge.host, edge.udp_port, local_ip="127.0.0.11")
    for n in range(4):
        assert status_line(guesser.login(victim.username, f"guess-{n}")[1]) == "SIP/2.0 403 Forbidden"
    for n in range(6):
        assert status_line(guesser.call(victim.username, f"guess-{n}", callee.username)[1]) == "SIP/2.0 403 Forbidden"
    locked = event_log.wait_for(victim.username, lambda e: e["kind"] == "locked_out")
    assert (locked["account_id"], locked["reason"]) == (victim.id, "too_many_failures")
    # the right password: an INVITE by sipp from another address, and a REGISTER, get the same answer as a guess
    sipp = Sipp(tmp_path, edge.host)
    placed = sipp.run(caller_scenario(victim.username, PASSWORD, callee.username, media("sdes"), expect=403,
                                      phrase="Forbidden"), edge.udp_port, local_ip="127.0.0.12")  # fmt: skip
    assert placed.returncode == 0, placed.errors + placed.output
    first = event_log.wait_for(victim.username, lambda e: e["kind"] == "refused" and e["reason"] == "locked_out")
    elsewhere = SipClient(edge.host, edge.udp_port, local_ip="127.0.0.12")
    assert status_line(elsewhere.login(victim.username, PASSWORD)[1]) == "SIP/2.0 403 Forbidden"
    event_log.wait_for(victim.username, lambda e: e.get("reason") == "locked_out" and e["id"] != first["id"])
    guesser.close()
    elsewhere.close()


def test_ten_wrong_passwords_lock_the_account_everywhere_until_an_operator_lifts_it(
    edge: SipEdge, sip_world: SipWorld, event_log: EventLog
) -> None:
    victim, neighbour = sip_world.account(), sip_world.account()
    guesser = SipClient(edge.host, edge.udp_port, local_ip="127.0.0.5")
    for n in range(10):
        assert status_line(guesser.login(victim.username, f"guess-{n}")[1]) == "SIP/2.0 403 Forbidden"
    locked = event_log.wait_for(victim.username, lambda e: e["kind"] == "locked_out")
    assert (locked["account_id"], locked["reason"]) == (victim.id, "too_many_failures")
    assert "locked out" in edge.log_text()
    # the right password, from the guesser's address and from another one: refused with the same answer
    assert status_line(guesser.login(victim.username, PASSWORD)[1]) == "SIP/2.0 403 Forbidden"
    elsewhere = SipClient(edge.host, edge.udp_port, local_ip="127.0.0.6")
    assert status_line(elsewhere.login(victim.username, PASSWORD)[1]) == "SIP/2.0 403 Forbidden"
    assert status_line(guesser.login(neighbour.username, PASSWORD)[1]) == "SIP/2.0 200 OK"  # others unaffected

    registrations.record_events(sip_world.ctx, event_log.of(victim.username))
    account = sip_world.ctx.accounts.get(victim.id)
    assert account is not None and account.sip_locked(sip_world.ctx.clock())
    lifted = sip_lockout.lift(sip_world.ctx, sip_world.admin, victim.id)
    assert not lifted.sip_locked(sip_world.ctx.clock())
    time.sleep(CACHE_SECONDS + 0.5)  # the edge's cached account answers have let the old one go
    assert status_line(elsewhere.login(victim.username, PASSWORD)[1]) == "SIP/2.0 200 OK"
    guesser.close()
    elsewhere.close()


@pytest.fixture(scope="module")
def nat_edge(edge: SipEdge, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SipEdge]:
    """The same edge (same limits) with 200 accounts in a static credential table: what is measured is the flood
    limits' treatment of one address, not how fast moto answers 400 first lookups."""
    run_dir = tmp_path_factory.mktemp("nat-edge")
    accounts = [{"id": f"nat-{n}", "username": f"nat{n}", "group_id": "g", "realm": DOMAIN,
                 "ha1": hashlib.md5(f"nat{n}:{DOMAIN}:{PASSWORD}".encode(), usedforsecurity=False).hexdigest()}
                for n in range(200)]  # fmt: skip
    (run_dir / "accounts.json").write_text(json.dumps({"accounts": accounts}))
    env = {
        k: v for k, v in edge.env.items() if not k.startswith(("SIP_UDP", "SIP_TCP_PORT", "SIP_TLS_PORT", "SIP_RUN"))
    }
    running = start_edge({**env, "SIP_DIRECTORY": f"static:{run_dir / 'accounts.json'}"}, run_dir)
    yield running
    running.stop()


def test_two_hundred_phones_behind_one_address_all_register_within_two_seconds(
    nat_edge: SipEdge, tmp_path: Path
) -> None:
    edge, sipp = nat_edge, Sipp(tmp_path, nat_edge.host)
    users = [f"nat{n}" for n in range(200)]
    table = tmp_path / "users.csv"
    table.write_text(
        "SEQUENTIAL\n" + "".join(f"{u};[authentication username={u} password={PASSWORD}]\n" for u in users)
    )
    scenario = (Path(__file__).parent / "nat_register.xml").read_text()
    started = time.monotonic()
    result = sipp.run(scenario, edge.udp_port, local_ip="127.0.0.7", timeout=20,
                      extra=("-inf", str(table), "-m", "200", "-r", "100", "-l", "200"))  # fmt: skip
    took = time.monotonic() - started
    successes = re.search(r"Successful call\s+\|\s+\d+\s+\|\s+(\d+)", result.output)
    assert successes is not None and int(successes.group(1)) == 200, result.output[-2500:]
    assert result.returncode == 0 and took < 6, took  # 2 s of sending, plus sipp's start and the last answers


def test_a_garbage_flood_is_cut_off_while_a_phone_elsewhere_registers(edge: SipEdge, sip_world: SipWorld) -> None:
    flooder = SipClient(edge.host, edge.udp_port, local_ip="127.0.0.8", timeout=0.5)
    for n in range(FLOOD_LIMIT + 20):
        flooder.send(f"FOO sip:x@{edge.host} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.8:{flooder.local_port};branch="
                     f"z9hG4bK{n}\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:x@b>\r\nCall-ID: flood{n}\r\n"
                     "CSeq: 1 FOO\r\nContent-Length: 0\r\n\r\n".encode())  # fmt: skip
    time.sleep(0.5)
    while True:  # the 405s the flood got before the cut
        try:
            flooder.receive()
        except TimeoutError:
            break
    phone = sip_world.account()
    try:
        flooder.register(phone.username)
        raise AssertionError("a banned source was answered")
    except TimeoutError:
        pass
    assert "flood from 127.0.0.8 cut off" in edge.log_text()
    metrics = rpc(edge, "htable.get", "metrics", "flood_cutoffs")
    assert int(re.findall(r"value: (\d+)", metrics)[0]) >= 1, metrics
    legitimate = SipClient(edge.host, edge.udp_port, local_ip="127.0.0.1")
    assert status_line(legitimate.login(phone.username, PASSWORD)[1]) == "SIP/2.0 200 OK"
    flooder.close()
    legitimate.close()


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    sock.settimeout(seconds)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def test_idle_connections_are_closed_and_a_registered_one_is_kept(edge: SipEdge, sip_world: SipWorld) -> None:
    idle_tcp = socket.create_connection((edge.host, edge.tcp_port))
    idle_tls = socket.create_connection((edge.host, edge.tls_port))  # never starts its handshake
    phone = sip_world.account()
    registered = SipClient(edge.host, edge.tcp_port, transport="tcp")
    assert status_line(registered.login(phone.username, PASSWORD)[1]) == "SIP/2.0 200 OK"
    started = time.monotonic()
    assert _closed_within(idle_tls, TLS_HANDSHAKE_SECONDS + 4)
    assert _closed_within(idle_tcp, TCP_IDLE_SECONDS + 4)
    assert time.monotonic() - started >= TLS_HANDSHAKE_SECONDS - 1
    assert not _closed_within(registered.sock, 1.0)  # past the idle limit, still open
    for sock in (idle_tcp, idle_tls, registered.sock):
        sock.close()


def _options_over(sock: socket.socket, local: str) -> str:
    branch = uuid.uuid4().hex
    sock.sendall((f"OPTIONS sip:{DOMAIN} SIP/2.0\r\nVia: SIP/2.0/TCP {local};branch=z9hG4bK{branch}\r\n"
                  f"Max-Forwards: 70\r\nFrom: <sip:probe@{DOMAIN}>;tag={branch[:8]}\r\nTo: <sip:{DOMAIN}>\r\n"
                  f"Call-ID: {branch}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").encode())  # fmt: skip
    sock.settimeout(3)
    try:
        return sock.recv(4096).decode(errors="replace")
    except (TimeoutError, ConnectionError):
        return ""


def test_one_address_holds_at_most_the_connection_cap_while_another_address_connects(edge: SipEdge) -> None:
    held = []
    for _ in range(CONNECTIONS_PER_SOURCE):
        sock = socket.create_connection((edge.host, edge.tcp_port), source_address=("127.0.0.13", 0))
        assert _options_over(sock, "127.0.0.13:9").startswith("SIP/2.0 200"), len(held)
        held.append(sock)
    over = socket.create_connection((edge.host, edge.tcp_port), source_address=("127.0.0.13", 0))
    assert _options_over(over, "127.0.0.13:9") == ""  # closed without an answer
    assert _closed_within(over, 2)
    elsewhere = socket.create_connection((edge.host, edge.tcp_port), source_address=("127.0.0.14", 0))
    assert _options_over(elsewhere, "127.0.0.14:9").startswith("SIP/2.0 200")
    held.pop().close()  # one closed: its unit comes back
    time.sleep(0.5)
    again = socket.create_connection((edge.host, edge.tcp_port), source_address=("127.0.0.13", 0))
    assert _options_over(again, "127.0.0.13:9").startswith("SIP/2.0 200")
    metrics = rpc(edge, "htable.dump", "metrics")
    assert "connection_cutoffs" in metrics
    assert "connection from 127.0.0.13 closed" in edge.log_text()
    for sock in (*held, over, elsewhere, again):
        sock.close()


def _handshake(edge: SipEdge, *options: str) -> bool:
    done = subprocess.run(["openssl", "s_client", "-connect", f"{edge.host}:{edge.tls_port}", *options],
                          input="", capture_output=True, text=True, timeout=20, check=False)  # fmt: skip
    return done.returncode == 0 and "Cipher is (NONE)" not in done.stdout


def test_tls_offers_1_2_with_ecdhe_and_aead_only_and_1_3(edge: SipEdge) -> None:
    assert _handshake(edge, "-tls1_3")
    assert _handshake(edge, "-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256")
    assert _handshake(edge, "-tls1_2", "-cipher", "ECDHE-RSA-CHACHA20-POLY1305")
    for weak in ("AES128-GCM-SHA256", "AES256-SHA", "ECDHE-RSA-AES128-SHA", "ECDHE-RSA-AES256-SHA384",
                 "DHE-RSA-AES128-GCM-SHA256"):  # fmt: skip
        assert not _handshake(edge, "-tls1_2", "-cipher", weak), weak
    assert not _handshake(edge, "-tls1_1", "-cipher", "ALL:@SECLEVEL=0")
