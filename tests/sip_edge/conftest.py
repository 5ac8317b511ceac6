"""The SIP edge under test: real Kamailio (started by sip-edge/start.sh) reading accounts from moto's DynamoDB,
sending events to moto's SQS; accounts are created through the control plane's own services."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.services import accounts, groups
from chalicelib.services.context import Context
from devstack.sip_edge import SipEdge, dmq_address, fleet_member_env, start_edge
from tests.conftest import World, make_context
from tests.sip_edge.sipp import Sipp

SIP_EDGE_DIR = Path(__file__).resolve().parents[2] / "sip-edge"
if str(SIP_EDGE_DIR) not in sys.path:
    sys.path.insert(0, str(SIP_EDGE_DIR))

KEEPALIVE_SECONDS = 2
RECHECK_SECONDS = 3
CACHE_SECONDS = 2
TCP_IDLE_SECONDS = 3  # the tests shorten the edge's connection limits (60 s and 30 s by default)
TLS_HANDSHAKE_SECONDS = 2
LOCKOUT_SECONDS = 120
FLOOD_LIMIT = 60
CONNECTIONS_PER_SOURCE = 12
_numbers = itertools.count(1000000)
OWN_SETTINGS = (
    "SIP_UDP_PORT",
    "SIP_TCP_PORT",
    "SIP_TLS_PORT",
    "SIP_RUN_DIR",
    "SIP_DMQ_PORT",
    "SIP_RTPENGINE_NG_PORT",
    "SIP_RTPENGINE_CLI_PORT",
)  # per edge


def rpc(edge: SipEdge, *command: str) -> str:
    """What the edge's Kamailio answers to an RPC command on its control socket (kamcmd), e.g. "dmq.list_nodes"."""
    return subprocess.run(["kamcmd", "-s", f"unix:{edge.ctl_socket}", *command], capture_output=True, text=True,
                          check=True).stdout  # fmt: skip


class EventLog:
    """Everything the edge put on the SQS queue, received and kept (bodies parsed)."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url
        self.events: list[dict[str, Any]] = []

    def poll(self) -> None:
        while True:
            answer = self._client.receive_message(QueueUrl=self._queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages = answer.get("Messages", [])
            if not messages:
                return
            for message in messages:
                self.events.append(json.loads(message["Body"]))
                self._client.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])

    def of(self, username: str) -> list[dict[str, Any]]:
        self.poll()
        return [event for event in self.events if event["username"] == username]

    def wait_for(
        self, username: str, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for event in self.of(username):
                if predicate(event):
                    return event
            if time.monotonic() > deadline:
                raise AssertionError(f"no matching event for {username} in {timeout}s; got {self.of(username)}")
            time.sleep(0.2)


class SipWorld(World):
    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)

    def account(self, password: str | None = "sip-secret-1", **fields: Any) -> Any:
        data = self.account_data(phone_number=f"+39347{next(_numbers)}", **fields)
        if password is None:  # the wizard way: no credentials until activation, username chosen by the service
            data.pop("password")
        else:
            data.setdefault("username", f"u{next(_numbers)}")
            data["password"] = password
        return accounts.create_account(self.ctx, self.admin, data).account

    def profile_with_transports(self, name: str, transports: list[str]) -> Any:
        return groups.create_profile(
            self.ctx, self.admin,
            {"name": name, "sip_domain": "voice.example.com", "sip_host": "sip.example.com", "transports": transports},
        )  # fmt: skip


@pytest.fixture(scope="session")
def sip_ctx(moto_url: str) -> Context:
    return make_context("dynamodb", moto_url)


@pytest.fixture(scope="session")
def sip_world(sip_ctx: Context) -> SipWorld:
    return SipWorld(sip_ctx)


@pytest.fixture(scope="session")
def events_queue(moto_url: str) -> tuple[Any, str]:
    client = boto3.client("sqs", region_name="eu-west-1", endpoint_url=moto_url)
    url = client.create_queue(QueueName=f"sip-events-{int(time.time() * 1000)}")["QueueUrl"]
    return client, url


@pytest.fixture(scope="session")
def edge(
    sip_ctx: Context, moto_url: str, events_queue: tuple[Any, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SipEdge]:
    env = {
        "TABLE_PREFIX": sip_ctx.settings.table_prefix,
        "DYNAMODB_ENDPOINT_URL": moto_url,
        "SQS_ENDPOINT_URL": moto_url,
        "SIP_EVENTS_QUEUE_URL": events_queue[1],
        "AWS_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "SIP_DEFAULT_TRANSPORTS": "udp,tcp,tls",
        "SIP_EDGE_ID": "edge-test",
        "SIP_KEEPALIVE_SECONDS": str(KEEPALIVE_SECONDS),
        "SIP_KEEPALIVE_TIMEOUT_SECONDS": "2",
        "SIP_RECHECK_SECONDS": str(RECHECK_SECONDS),
        "SIP_ACCOUNT_CACHE_SECONDS": str(CACHE_SECONDS),
        "SIP_MIN_EXPIRES": "1",
        "SIP_USRLOC_TIMER_SECONDS": "1",
        "SIP_CHILDREN": "2",
        "SIP_TCP_CHILDREN": "2",
        "SIP_TCP_IDLE_SECONDS": str(TCP_IDLE_SECONDS),
        "SIP_TLS_HANDSHAKE_SECONDS": str(TLS_HANDSHAKE_SECONDS),
        "SIP_LOCKOUT_SECONDS": str(LOCKOUT_SECONDS),
        "SIP_FLOOD_LIMIT": str(FLOOD_LIMIT),
        "SIP_FLOOD_BAN_SECONDS": "30",
        "SIP_MAX_CONNECTIONS_PER_SOURCE": str(CONNECTIONS_PER_SOURCE),
    }
    tls_dir = tmp_path_factory.mktemp("tls")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=edge.test",
         "-keyout", str(tls_dir / "key.pem"), "-out", str(tls_dir / "cert.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    env.update(SIP_TLS_CERT=str(tls_dir / "cert.pem"), SIP_TLS_KEY=str(tls_dir / "key.pem"))
    running = start_edge(env, tmp_path_factory.mktemp("edge"))
    yield running
    running.stop()


@pytest.fixture(scope="session")
def second_edge(edge: SipEdge, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SipEdge]:
    """A second edge task against the same tables and queue (what SIP_EDGES=2 starts): its own ports and id."""
    env = {k: v for k, v in edge.env.items() if k not in OWN_SETTINGS}
    env["SIP_DMQ_PEERS"] = dmq_address(edge)  # one bus: the second asks the first for its lockouts and contacts
    running = start_edge(fleet_member_env(env, 1, env["SIP_EDGE_ID"]), tmp_path_factory.mktemp("edge-2"))
    yield running
    running.stop()


@pytest.fixture(scope="session")
def event_log(events_queue: tuple[Any, str]) -> EventLog:
    return EventLog(*events_queue)


@pytest.fixture
def sipp(edge: SipEdge, tmp_path: Path) -> Sipp:
    return Sipp(tmp_path, edge.host)
