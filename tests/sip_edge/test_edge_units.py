"""The edge's plain Python parts: policy, the registry's keep-alive and re-check, the event sender, the sidecar."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from tests.sip_edge import conftest as _paths  # noqa: F401  # puts sip-edge on sys.path

from sipedge.client import SidecarDirectory, SidecarQueue  # isort: skip
from sipedge.config import ConfigError, EdgeConfig, from_env  # isort: skip
from sipedge.directory import Account, CachedDirectory, DirectoryUnavailable, StaticDirectory  # isort: skip
from sipedge.events import EventSender  # isort: skip
from sipedge.policy import Refusal, refusal_after_auth  # isort: skip
from sipedge.registry import Registration, Registry  # isort: skip
from sipedge.sidecar import Sidecar  # isort: skip

SNOM = Account("a", "1001", "g", "voice.example.com", "x", account_type="SNOM", permit=("10.0.0.0/8",),
               deny=("10.1.0.0/16",))  # fmt: skip


@pytest.mark.parametrize(
    ("account", "ip", "transport", "expected"),
    [
        (SNOM, "10.2.3.4", "udp", None),
        (SNOM, "10.1.2.3", "udp", Refusal.DENIED),
        (SNOM, "192.0.2.1", "udp", Refusal.NOT_PERMITTED),
        (Account("a", "1", "g", "r", "x", permit=("10.0.0.0/8",)), "192.0.2.1", "udp", None),  # PGSM: no lists
        (Account("a", "1", "g", "r", "x", transports=("tls",)), "192.0.2.1", "udp", Refusal.TRANSPORT_NOT_ALLOWED),
        (Account("a", "1", "g", "r", "x"), "192.0.2.1", "tcp", Refusal.TRANSPORT_NOT_ALLOWED),  # default: udp,tls
        (Account("a", "1", "g", "r", "x", group_enabled=False), "192.0.2.1", "udp", Refusal.GROUP_DISABLED),
    ],
)
def test_policy(account: Account, ip: str, transport: str, expected: Refusal | None) -> None:
    assert refusal_after_auth(account, ip, transport, ("udp", "tls")) is expected


def test_the_cache_ttl_cannot_exceed_30_seconds() -> None:
    with pytest.raises(ConfigError):
        from_env({"SIP_ACCOUNT_CACHE_SECONDS": "31"})
    assert from_env({"SIP_DEFAULT_TRANSPORTS": "udp, TLS"}).default_transports == ("udp", "tls")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Recorder:
    def __init__(self, ping_ok: bool = True) -> None:
        self.pings: list[str] = []
        self.dropped: list[str] = []
        self.closed: list[str] = []
        self.moved: set[str] = set()  # AORs whose contact another task holds now
        self.events: list[dict[str, Any]] = []
        self.ping_ok = ping_ok

    def send_ping(self, registration: Registration, token: str) -> bool:
        self.pings.append(token)
        return self.ping_ok

    def holds(self, registration: Registration) -> bool:
        return registration.aor not in self.moved

    def drop(self, registration: Registration) -> bool:
        if registration.aor in self.moved:
            return False
        self.dropped.append(registration.aor)
        return True

    def close(self, registration: Registration) -> None:
        self.closed.append(registration.aor)

    def emit(self, event: dict[str, Any]) -> None:
        self.events.append(event)


def _fact(**overrides: Any) -> dict[str, Any]:
    fact = {"aor": "1001", "aor_uri": "sip:1001@d", "username": "1001", "account_id": "a",
            "contact": "sip:1001@h:1", "source": "h:1", "transport": "tcp", "socket": "tcp:e:5060",
            "expires": 600, "keep_alive": True}  # fmt: skip
    return {**fact, **overrides}


def _registry(directory: Any = None, recorder: Recorder | None = None) -> tuple[Registry, Recorder, Clock]:
    clock, recorder = Clock(), recorder or Recorder()
    config = EdgeConfig(keepalive_seconds=180, keepalive_timeout_seconds=10, recheck_seconds=20)
    directory = directory or StaticDirectory([Account("a", "1001", "g", "d", "x")])
    return Registry(config, directory, recorder, clock), recorder, clock


def test_keepalive_pings_every_interval_and_a_reply_clears_it() -> None:
    registry, recorder, clock = _registry()
    registry.registered(_fact())
    registry.tick()
    assert recorder.pings == []
    clock.now += 180
    registry.tick()
    assert recorder.pings == ["1001|1"]
    registry.ping_reply("1001|1", 200)
    clock.now += 100
    registry.tick()
    assert recorder.dropped == [] and recorder.events == []
    clock.now += 80
    registry.tick()
    assert recorder.pings == ["1001|1", "1001|2"]


def test_an_unanswered_ping_drops_the_contact_with_an_event() -> None:
    registry, recorder, clock = _registry()
    registry.registered(_fact())
    clock.now += 180
    registry.tick()
    clock.now += 11
    registry.tick()
    assert recorder.dropped == ["1001"]
    assert [(e["kind"], e["account_id"]) for e in recorder.events] == [("keepalive_failed", "a")]
    assert registry.entries == {}


def test_a_failed_keepalive_closes_the_phones_connection() -> None:
    registry, recorder, clock = _registry()
    registry.registered(_fact())
    clock.now += 180
    registry.tick()
    registry.ping_reply("1001|1", 408)
    assert recorder.dropped == ["1001"] and recorder.closed == ["1001"]


def test_a_phone_that_moved_to_another_task_is_neither_pinged_nor_dropped_here() -> None:
    registry, recorder, clock = _registry()
    registry.registered(_fact())
    registry.registered(_fact(aor="1002", username="1002"))
    clock.now += 180
    registry.tick()
    recorder.moved.add("1002")  # its ping fails here (the old connection), while another task holds it
    registry.ping_reply("1002|1", 477)
    recorder.moved.add("1001")
    clock.now += 180
    registry.tick()
    assert recorder.pings == ["1001|1", "1002|1"]
    assert recorder.dropped == recorder.closed == [] and recorder.events == [] and registry.entries == {}


def test_a_timeout_reply_drops_and_accounts_without_keep_alive_are_never_pinged() -> None:
    registry, recorder, clock = _registry()
    registry.registered(_fact())
    registry.registered(_fact(aor="1002", username="1002", keep_alive=False))
    clock.now += 180
    registry.tick()
    registry.ping_reply("1001|1", 408)
    assert recorder.pings == ["1001|1"] and recorder.dropped == ["1001"]


def test_the_recheck_removes_disabled_and_deleted_accounts_but_not_on_backend_errors() -> None:
    class Flaky(StaticDirectory):
        down = True

        def by_ids(self, account_ids: list[str]) -> dict[str, Account | None]:
            if self.down:
                raise DirectoryUnavailable("slow")
            return super().by_ids(account_ids)

    directory = Flaky([Account("a", "1001", "g", "d", "x", enabled=False)])
    registry, recorder, clock = _registry(directory)
    registry.registered(_fact(keep_alive=False))
    registry.registered(_fact(aor="1002", username="1002", account_id="gone", keep_alive=False))
    clock.now += 21
    registry.tick()
    assert recorder.dropped == []
    directory.down = False
    for _ in range(4):  # the next round reads both again (one account per tick here)
        clock.now += 11
        registry.tick()
    assert sorted((e["username"], e["reason"]) for e in recorder.events) == [
        ("1001", "account_disabled"), ("1002", "account_deleted")]  # fmt: skip


def test_a_new_contact_replaces_the_old_one() -> None:
    registry, recorder, _ = _registry()
    registry.registered(_fact())
    registry.registered(_fact(contact="sip:1001@h:2", source="h:2"))
    assert [(e["kind"], e["contact"]) for e in recorder.events] == [("unregistered", "sip:1001@h:1")]


class FakeSqs:
    def __init__(self, fail_ids: set[str] | None = None) -> None:
        self.batches: list[list[str]] = []
        self.fail_ids = fail_ids or set()

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
        self.batches.append([e["MessageBody"] for e in Entries])
        return {"Failed": [{"Id": e["Id"]} for e in Entries if e["Id"] in self.fail_ids]}


def test_the_sender_sends_batches_of_ten_and_keeps_failures() -> None:
    sqs = FakeSqs(fail_ids={"3"})
    sender = EventSender("q", sqs)
    sender.add(str(i) for i in range(25))
    assert sender.flush() == 9
    assert [len(b) for b in sqs.batches] == [10]
    assert list(sender.pending)[:1] == ["3"]
    sqs.fail_ids = set()
    assert sender.flush() == 16 and not sender.pending


def test_the_sidecar_answers_lookups_and_takes_events(tmp_path: Path) -> None:
    path = str(tmp_path / "sidecar.sock")
    sqs = FakeSqs()
    directory = CachedDirectory(StaticDirectory([Account("a", "1001", "g", "d", "secret-ha1", permit=("1.2.3.4",))]), 5)
    sidecar = Sidecar(directory, EventSender("q", sqs), path)
    thread = threading.Thread(target=sidecar.serve, daemon=True)
    thread.start()
    try:
        client = SidecarDirectory(path, timeout=2)
        found = client.find("1001")
        assert found is not None and found.ha1 == "secret-ha1" and found.permit == ("1.2.3.4",)
        assert client.find("nobody") is None
        ids = ["a", *(f"gone-{n}" for n in range(120))]  # three questions of at most 50 ids
        batch = client.by_ids(ids)
        assert list(batch) == ids and batch["a"] == found and not any(batch[i] for i in ids[1:])
        SidecarQueue(path).send_message_batch(QueueUrl="q", Entries=[{"Id": "0", "MessageBody": "{}"}])
        for _ in range(50):
            if sqs.batches:
                break
            threading.Event().wait(0.05)
        assert sqs.batches == [["{}"]]
    finally:
        sidecar.stop()
    with pytest.raises(DirectoryUnavailable):
        SidecarDirectory(str(tmp_path / "none.sock"), timeout=0.2).find("1001")


def test_a_slow_dynamodb_costs_a_lookup_a_bounded_time() -> None:
    """A DynamoDB endpoint that accepts connections and never answers: the lookup gives up within its budget."""
    import socket
    import time

    from sipedge.directory import DynamoDirectory  # isort: skip

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        url = f"http://127.0.0.1:{server.getsockname()[1]}"
        config = EdgeConfig(dynamodb_endpoint=url, backend_timeout_seconds=0.3, table_prefix="t")
        directory = DynamoDirectory(config)
        started = time.monotonic()
        with pytest.raises(DirectoryUnavailable):
            directory.find("1001")
        assert time.monotonic() - started < 0.3 * 2.5 + 0.5


def test_a_wildcard_unregistration_is_reported_with_the_contact_that_went() -> None:
    registry, recorder, _ = _registry()
    registry.registered(_fact())
    registry.unregistered(_fact(contact="*"))
    assert [(e["kind"], e["contact"]) for e in recorder.events] == [("unregistered", "sip:1001@h:1")]
    assert registry.entries == {}
