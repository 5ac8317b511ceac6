"""The local stack keeps its data in LOCAL_DATA_DIR across restarts (Ctrl-C and kill -9), and `make reset`
wipes it (devstack/moto_state.py, docs/decisions.md)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from tests.test_local_stack import ROOT, new_group, start_stack, wait_for

SNAPSHOT_WINDOW_SECONDS = 1.0  # devstack/run_local.py SNAPSHOT_SECONDS: what a kill -9 may lose (plus a write)


def _login(url: str, password: str) -> requests.Session:
    session = requests.Session()
    login = session.post(f"{url}/auth/login", json={"username": "admin", "password": password}, timeout=10)
    assert login.status_code == 200, login.text
    session.headers["Authorization"] = f"Bearer {login.json()['token']}"
    return session


def _generated_password(lines: list[str]) -> str:
    match = re.search(r"Login:\s+admin / (\S+)\s+<- generated now", "".join(lines))
    assert match, "".join(lines)
    return match.group(1)


def _found(session: requests.Session, url: str, group_id: str, query: str) -> list[str]:
    answer = session.get(f"{url}/accounts", params={"group_id": group_id, "q": query}, timeout=10)
    return [a["id"] for a in answer.json()["items"]]


def _moto(lines: list[str]) -> tuple[str, str]:
    """moto's endpoint and the imports bucket, as the stack prints them."""
    printed = re.search(r"--endpoint-url (\S+) s3 cp staff.csv s3://([^/]+)/", "".join(lines))
    assert printed is not None, "".join(lines)
    return printed.group(1), printed.group(2)


def _make_data(url: str, lines: list[str], password: str) -> dict[str, Any]:
    """Accounts in two groups, an import from the drop folder, an SMS, a search, a message nobody consumes."""
    session = _login(url, password)
    sales, support = new_group(session, url, "Sales"), new_group(session, url, "Support")
    marco = session.post(f"{url}/accounts", timeout=10, json={"password": "sip-secret-1", "group_id": sales["id"],
                         "phone_number": "+393471234567", "full_name": "Marco Ferraresi"}).json()  # fmt: skip
    giulia = session.post(f"{url}/accounts", timeout=10, json={"mode": "wizard", "group_id": support["id"],
                          "phone_number": "+393479876543", "full_name": "Giulia Bianchi"}).json()  # fmt: skip
    assert session.post(f"{url}/accounts/{giulia['id']}/installation-sms", timeout=10).status_code == 202
    assert wait_for(lambda: any("[outbox] SMS to +393479876543" in line for line in lines), 20)
    endpoint, bucket = _moto(lines)
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="eu-west-1")
    csv = (ROOT / "tests" / "fixtures" / "batch-users.csv").read_bytes()
    s3.put_object(Bucket=bucket, Key="imports/Sales/staff.csv", Body=csv)

    def imported() -> list[dict[str, Any]]:
        jobs = session.get(f"{url}/imports", timeout=10).json()["items"]
        return [j for j in jobs if j["status"] == "completed"]

    assert wait_for(imported, 30), session.get(f"{url}/imports", timeout=10).text
    assert wait_for(lambda: s3.list_objects_v2(Bucket=bucket, Prefix="imports/Sales/staff.result").get("Contents"), 10)
    assert wait_for(lambda: _found(session, url, sales["id"], "ferraresi") == [marco["id"]], 15)
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="eu-west-1")
    dlq = sqs.get_queue_url(QueueName="local-sms-dlq")["QueueUrl"]  # a queue no bridge reads
    sqs.send_message(QueueUrl=dlq, MessageBody="waiting")
    return {"sales": sales, "support": support, "marco": marco, "giulia": giulia, "job": imported()[0]}


def _check_data(url: str, lines: list[str], password: str, data: dict[str, Any]) -> None:
    output = "".join(lines)
    assert "generated now" not in output and password not in output  # printed only the first time
    session = _login(url, password)  # the admin's password survived
    names = {g["name"] for g in session.get(f"{url}/groups", timeout=10).json()["items"]}
    assert {"Sales", "Support"} <= names
    assert session.get(f"{url}/accounts/{data['marco']['id']}", timeout=10).json()["full_name"] == "Marco Ferraresi"
    messages = session.get(f"{url}/accounts/{data['giulia']['id']}/messages", timeout=10).json()["items"]
    assert [m["status"] for m in messages] == ["sent"]
    [job] = session.get(f"{url}/imports", timeout=10).json()["items"]  # the drop folder did not import it again
    assert (job["id"], job["status"], job["created"]) == (data["job"]["id"], "completed", 4)
    endpoint, bucket = _moto(lines)  # (on new ports)
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="eu-west-1")
    result = s3.get_object(Bucket=bucket, Key="imports/Sales/staff.result.csv")["Body"].read().decode()
    assert result.count(",created,") == 4
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="eu-west-1")
    dlq = sqs.get_queue_url(QueueName="local-sms-dlq")["QueueUrl"]
    waiting = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", [])
    assert [m["Body"] for m in waiting] == ["waiting"]
    # the index came back from disk, and the stream bridge goes on from where it was
    assert _found(session, url, data["sales"]["id"], "ferraresi") == [data["marco"]["id"]]
    new = session.post(f"{url}/accounts", timeout=10, json={"password": "sip-secret-1", "group_id": data["sales"]["id"],
                       "phone_number": "+393470000001", "full_name": "Luca Ferraresi"}).json()  # fmt: skip
    both = sorted([data["marco"]["id"], new["id"]])
    assert wait_for(lambda: sorted(_found(session, url, data["sales"]["id"], "ferraresi")) == both, 15)


def _kill_everything(process: subprocess.Popen[str], lines: list[str]) -> None:
    """SIGKILL to the stack's process group and to the SIP edge's (its own session), found by its port."""
    port = re.search(r"SIP edge: 127\.0\.0\.1:(\d+)", "".join(lines))
    assert port is not None
    groups = {process.pid}
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and f"SIP_UDP_PORT={port.group(1)}".encode() in (proc / "environ").read_bytes():
                groups.add(os.getpgid(int(proc.name)))
        except OSError:
            continue
    for group in groups:
        os.killpg(group, signal.SIGKILL)
    process.wait(timeout=10)


@pytest.mark.parametrize("how", ["sigint", "sigkill"])
def test_the_data_survives_a_restart(tmp_path: Path, how: str) -> None:
    data_dir = {"LOCAL_DATA_DIR": str(tmp_path / "data")}
    process, url, lines = start_stack(data_dir)
    try:
        password = _generated_password(lines)
        data = _make_data(url, lines, password)
    finally:
        if how == "sigint":  # Ctrl-C: the terminal sends SIGINT to the whole foreground group
            os.killpg(process.pid, signal.SIGINT)
            assert process.wait(timeout=60) == 0
        else:
            time.sleep(SNAPSHOT_WINDOW_SECONDS + 1.5)  # past the window the stack documents
            _kill_everything(process, lines)
    process, url, lines = start_stack(data_dir)
    try:
        _check_data(url, lines, password, data)
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=60)


def test_make_reset_wipes_the_data(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    process, url, lines = start_stack({"LOCAL_DATA_DIR": str(data_dir)})
    try:
        first = _generated_password(lines)
        new_group(_login(url, first), url, "Sales")
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=60)
    assert (data_dir / "moto" / "moto-state.pickle").exists() and (data_dir / "search").is_dir()
    subprocess.run(["make", "reset", f"LOCAL_DATA_DIR={data_dir}"], cwd=ROOT, check=True, capture_output=True)
    assert not data_dir.exists()
    process, url, lines = start_stack({"LOCAL_DATA_DIR": str(data_dir)})
    try:
        second = _generated_password(lines)  # a new admin, a new password, no groups
        assert second != first
        assert _login(url, second).get(f"{url}/groups", timeout=10).json()["items"] == []
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=60)
