"""The README's quick start: `python -m devstack.run_local` brings up moto, the tables and the API."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from devstack.sip_edge import free_port as free_sip_port

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


READY = "  Data: "  # the last line the stack prints when it is up


def start_stack(extra_env: dict[str, str]) -> tuple[subprocess.Popen[str], str, list[str]]:
    """The stack on free ports, with its data in a directory of its own unless LOCAL_DATA_DIR is given."""
    from devstack.sip_edge import free_port as free_sip_port

    ports = {"MOTO_PORT": str(free_port()), "API_PORT": str(free_port()), "LICENCE_PORT": str(free_port()),
             "SIP_PORT": str(free_sip_port()), "SIP_TLS_PORT": str(free_port())}  # fmt: skip
    env = {**os.environ, **ports, **extra_env}
    env.setdefault("LOCAL_DATA_DIR", tempfile.mkdtemp(prefix="localdata-"))
    if "ADMIN_PASSWORD" not in extra_env:
        env.pop("ADMIN_PASSWORD", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack.run_local"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []  # everything the stack prints, read on by a thread for the whole test

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)

    threading.Thread(target=read, daemon=True).start()
    ready = wait_for(lambda: any(READY in line for line in lines), 90)
    if not ready:
        stop(process)
        pytest.fail("the local stack did not start:\n" + "".join(lines))
    return process, f"http://127.0.0.1:{env['API_PORT']}/api/v1", lines


def wait_for(check: Callable[[], object], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return bool(check())


def stop(process: subprocess.Popen[str]) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=20)


def admin_session(url: str) -> requests.Session:
    """A session logged in as the quick start's admin."""
    session = requests.Session()
    login = session.post(f"{url}/auth/login", json={"username": "admin", "password": "quick-start-pass"}, timeout=10)
    assert login.status_code == 200, login.text
    session.headers["Authorization"] = f"Bearer {login.json()['token']}"
    return session


def new_group(session: requests.Session, url: str, name: str, **profile_fields: str) -> dict[str, str]:
    """A provisioning profile and a group using it (the group's JSON)."""
    profile_data = {"name": f"{name} profile", "sip_domain": "voice.example.com", "sip_host": "sip.example.com",
                    **profile_fields}  # fmt: skip
    profile = session.post(f"{url}/provisioning-profiles", json=profile_data, timeout=10).json()
    group_data = {"name": name, "it_email": "it@example.com", "provisioning_profile_id": profile["id"]}
    group: dict[str, str] = session.post(f"{url}/groups", json=group_data, timeout=10).json()
    return group


@pytest.fixture
def stack() -> Iterator[tuple[str, list[str]]]:
    process, url, lines = start_stack({"ADMIN_PASSWORD": "quick-start-pass"})
    yield url, lines
    stop(process)


def test_quick_start_serves_the_api_with_the_given_admin_password(stack: tuple[str, list[str]]) -> None:
    url, lines = stack
    output = "".join(lines)
    assert "admin / (from ADMIN_PASSWORD)" in output and "quick-start-pass" not in output
    session = admin_session(url)
    group = new_group(session, url, "g")
    created = session.post(
        f"{url}/accounts",
        json={"password": "sip-secret-1", "group_id": group["id"], "phone_number": "+393471234567"},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    fetched = session.get(f"{url}/accounts/{created.json()['id']}", timeout=10)
    assert fetched.json()["phone_number"] == "+393471234567"
    # the event bridge feeds the search index from the table's stream, as Lambda would
    deadline = time.monotonic() + 10
    hits: list[object] = []
    while not hits and time.monotonic() < deadline:
        hits = session.get(
            f"{url}/accounts", params={"group_id": group["id"], "q": "+393471234567"}, timeout=10
        ).json()["items"]
        time.sleep(0.1)
    assert [h["id"] for h in hits] == [created.json()["id"]]  # type: ignore[index]
    console = requests.get(url.replace("/api/v1", "/console"), timeout=10)
    assert console.url.endswith("/console/login") and "Log in" in console.text
    unauthenticated = requests.get(f"{url}/groups", timeout=10)
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["Content-Type"] == "application/problem+json"
    # API Gateway's own answers, as infra/ deploys them: a path nothing serves, a method a path lacks
    unknown = requests.get(f"{url}/no-such-thing", timeout=10)
    assert (unknown.status_code, unknown.headers["Content-Type"]) == (404, "application/problem+json")
    assert unknown.json()["code"] == "not_found"
    wrong = requests.put(f"{url}/groups", timeout=10)
    assert (wrong.status_code, wrong.headers["Allow"], wrong.json()["code"]) == (405, "GET, POST", "method_not_allowed")


def test_without_admin_password_one_is_generated_and_printed_once() -> None:
    process, url, lines = start_stack({})
    try:
        output = "".join(lines)
        match = re.search(r"Login:\s+admin / (\S+)\s+<- generated now", output)
        assert match, output
        login = requests.post(f"{url}/auth/login", json={"username": "admin", "password": match.group(1)}, timeout=10)
        assert login.status_code == 200
    finally:
        stop(process)


def test_the_outbox_prints_the_sms_and_its_link_works(stack: tuple[str, list[str]]) -> None:
    url, lines = stack
    session = admin_session(url)
    group = new_group(session, url, "g", android_url="https://play.example/pgsm")
    account = session.post(
        f"{url}/accounts", json={"mode": "wizard", "group_id": group["id"], "phone_number": "+393471234567"}, timeout=10
    ).json()
    assert session.post(f"{url}/accounts/{account['id']}/installation-sms", timeout=10).status_code == 202
    # the SQS queue on moto, the queue bridge and the @app.on_sqs_message handler hand it to the outbox
    assert wait_for(lambda: any("[outbox] SMS to +393471234567" in line for line in lines), 20), "".join(lines)
    link = re.search(r"(http://\S+/m/i/\S+)", next(line for line in lines if "[outbox]" in line))
    assert link is not None
    page = requests.get(link.group(1), headers={"User-Agent": "Android 14"}, timeout=10)
    assert page.status_code == 200 and "Download for Android" in page.text
    messages = session.get(f"{url}/accounts/{account['id']}/messages", timeout=10).json()["items"]
    assert [m["status"] for m in messages] == ["sent"]


def test_activation_hands_out_a_licence_signed_by_the_simulated_vendor(stack: tuple[str, list[str]]) -> None:
    url, lines = stack
    base = url.removesuffix("/api/v1")
    session = admin_session(url)
    group = new_group(session, url, "g2")
    new_account = {"mode": "wizard", "group_id": group["id"], "phone_number": "+393479876543"}
    account = session.post(f"{url}/accounts", json=new_account, timeout=10).json()
    assert session.post(f"{url}/accounts/{account['id']}/activation-sms", timeout=10).status_code == 202
    assert wait_for(lambda: any("[outbox] SMS to +393479876543" in line for line in lines), 20)
    token = re.search(r"/m/a/(\S+)", next(line for line in lines if "+393479876543" in line))
    assert token is not None
    config = requests.post(f"{base}/m/activation", json={"token": token.group(1)}, timeout=10).json()
    licence = requests.get(config["licence_service_url"], timeout=10,
                           headers={"Authorization": f"Bearer {config['licence_token']}"})  # fmt: skip
    assert licence.status_code == 200, licence.text
    assert licence.json()["licence"]["status"] == "valid" and licence.json()["source"] == "upstream"


def test_a_csv_dropped_into_the_bucket_is_imported_once(stack: tuple[str, list[str]]) -> None:
    import boto3

    url, lines = stack
    session = admin_session(url)
    group = new_group(session, url, "Sales")
    printed = re.search(r"--endpoint-url (\S+) s3 cp staff.csv s3://([^/]+)/", "".join(lines))
    assert printed is not None, "".join(lines)
    s3 = boto3.client("s3", endpoint_url=printed.group(1), region_name="eu-west-1")
    data = (ROOT / "tests" / "fixtures" / "batch-users.csv").read_bytes()
    s3.put_object(Bucket=printed.group(2), Key="imports/Sales/staff.csv", Body=data)

    def finished() -> list[dict[str, object]]:
        jobs = session.get(f"{url}/imports", timeout=10).json()["items"]
        return [j for j in jobs if j["source"] == "drop" and j["status"] == "completed"]

    assert wait_for(finished, 30), session.get(f"{url}/imports", timeout=10).text
    [job] = finished()
    assert (job["created"], job["group_id"], job["file_name"]) == (4, group["id"], "staff.csv")
    result = s3.get_object(Bucket=printed.group(2), Key="imports/Sales/staff.result.csv")["Body"].read().decode()
    assert result.count(",created,") == 4
    time.sleep(2.5)  # the bridge keeps polling: the same object is not imported again
    assert len(session.get(f"{url}/imports", timeout=10).json()["items"]) == 1


def test_a_phone_registers_with_the_local_sip_edge_and_shows_up_online(
    stack: tuple[str, list[str]], tmp_path: Path
) -> None:
    from tests.sip_edge.sipp import Sipp, register_scenario

    url, lines = stack
    session = admin_session(url)
    group = new_group(session, url, "g4", sip_host="127.0.0.1")
    new_account = {"username": "7001", "password": "sip-secret-1", "group_id": group["id"],
                   "phone_number": "+393470007001"}  # fmt: skip
    account = session.post(f"{url}/accounts", json=new_account, timeout=10).json()
    printed = re.search(r"SIP edge: 127\.0\.0\.1:(\d+) \(UDP, TCP\)", "".join(lines))
    assert printed is not None, "".join(lines)
    result = Sipp(tmp_path, "127.0.0.1").run(register_scenario("7001", "sip-secret-1", expires=300),
                                             int(printed.group(1)))  # fmt: skip
    assert result.returncode == 0, result.errors + result.output

    def online() -> list[dict[str, str]]:
        items: list[dict[str, str]] = session.get(f"{url}/registrations?group_id={group['id']}", timeout=10).json()[
            "items"
        ]
        return items

    assert wait_for(online, 20), "".join(lines[-30:])
    assert [(r["username"], r["transport"]) for r in online()] == [("7001", "udp")]
    assert session.get(f"{url}/accounts/{account['id']}", timeout=10).json()["status"] == "connected"


@pytest.fixture(scope="module")
def call_stack() -> Iterator[tuple[str, list[str], int]]:
    """One local stack for the call tests: (API URL, its output, the edge's UDP port)."""
    process, url, lines = start_stack({"ADMIN_PASSWORD": "quick-start-pass"})
    printed = re.search(r"SIP edge: 127\.0\.0\.1:(\d+) \(UDP, TCP\)", "".join(lines))
    assert printed is not None, "".join(lines)
    yield url, lines, int(printed.group(1))
    stop(process)


def _phones(session: requests.Session, url: str, names: list[str]) -> list[dict[str, Any]]:
    group = new_group(session, url, f"calls {names[0]}", sip_host="127.0.0.1")
    return [
        session.post(
            f"{url}/accounts",
            json={
                "username": name,
                "password": "sip-secret-1",
                "group_id": group["id"],
                "phone_number": f"+3934700{name}",
            },
            timeout=10,
        ).json()  # fmt: skip
        for name in names
    ]


def _ended_call(session: requests.Session, url: str, account_id: str, direction: str) -> dict[str, Any] | None:
    items = session.get(f"{url}/accounts/{account_id}/calls?direction={direction}", timeout=10).json()["items"]
    ended = [item for item in items if item["ended_at"]]
    return ended[0] if ended else None


def test_a_call_through_the_local_edge_is_in_the_api_within_ten_seconds_of_its_end(
    call_stack: tuple[str, list[str], int], tmp_path: Path
) -> None:
    from tests.sip_edge.callsipp import Peer, callee_scenario, caller_scenario, media
    from tests.sip_edge.sipp import Sipp, register_scenario

    url, lines, sip_port = call_stack
    session = admin_session(url)
    caller, callee = _phones(session, url, ["7101", "7102"])
    sipp, port = Sipp(tmp_path, "127.0.0.1"), free_sip_port()
    registered = sipp.run(register_scenario("7102", "sip-secret-1", expires=300), sip_port, local_port=port)
    assert registered.returncode == 0, registered.errors + registered.output
    peer = Peer(tmp_path, "127.0.0.1", sip_port, callee_scenario("7102", media("sdes")), "callee", port)
    time.sleep(0.5)  # the UAS holds the registered port
    placed = sipp.run(caller_scenario("7101", "sip-secret-1", "7102", media("sdes"), hold_ms=500), sip_port, timeout=30)
    ended_at = time.monotonic()
    assert placed.returncode == 0, placed.errors + placed.output + "".join(lines[-20:])
    assert peer.wait().returncode == 0
    assert wait_for(lambda: _ended_call(session, url, callee["id"], "received"), 10), "".join(lines[-30:])
    assert time.monotonic() - ended_at < 10
    record = _ended_call(session, url, callee["id"], "received")
    assert record is not None
    assert (record["caller_username"], record["result"], record["media_security"]) == ("7101", "answered", "sdes")
    assert _ended_call(session, url, caller["id"], "placed") == {**record, "direction": "placed"}


def test_two_baresip_softphones_with_srtp_mandatory_call_each_other_through_the_local_stack(
    call_stack: tuple[str, list[str], int], tmp_path: Path
) -> None:
    """The README's two softphones: both register with the local edge, A calls B, B answers (auto-answer), audio
    flows both ways for about eight seconds, A hangs up; the record shows the answered SDES call."""
    from tests.sip_edge.baresip import Phone, configure

    url, lines, sip_port = call_stack
    session = admin_session(url)
    alice, bob = _phones(session, url, ["7201", "7202"])
    edge = f"127.0.0.1:{sip_port}"
    bob_phone = Phone.start(configure(tmp_path / "bob", "7202", "sip-secret-1", edge), seconds=30)
    assert wait_for(bob_phone.registered, 15), bob_phone.output()
    alice_phone = Phone.start(configure(tmp_path / "alice", "7201", "sip-secret-1", edge), seconds=10,
                              dial="sip:7202@voice.example.com")  # fmt: skip
    alice_out = alice_phone.wait(30)
    assert "Call established: sip:7202@voice.example.com" in alice_out, alice_out[-3000:]
    assert "SRTP is Enabled (cryptosuite=AES_CM_128_HMAC_SHA1_80)" in alice_out
    assert wait_for(bob_phone.summary, 10), bob_phone.output()[-3000:]
    received, sent = bob_phone.summary() or (0, 0)
    assert received >= 150 and sent >= 150, (received, sent)  # 50 packets a second, each way
    assert alice_phone.received_bit_rate() > 32000, alice_out[-1000:]  # PCMU is 64 kbit/s
    bob_phone.process.terminate()
    bob_phone.wait(10)
    assert wait_for(lambda: _ended_call(session, url, bob["id"], "received"), 10), "".join(lines[-30:])
    record = _ended_call(session, url, bob["id"], "received")
    assert record is not None
    assert (record["caller_username"], record["result"], record["media_security"]) == ("7201", "answered", "sdes")
    assert record["duration_seconds"] >= 5
    assert _ended_call(session, url, alice["id"], "placed") is not None
