"""What each event function touches, recorded while it runs, against what its role grants (infra/access.py).

Each handler runs through the app's own entry point (`app.py`) on moto, with every AWS call recorded at botocore
(PynamoDB's table operations, transactions included, pass there too) and every port of the context it is given
wrapped so its use is recorded (the SMS and e-mail providers, the search index, the queues, the files). A table or
port the handler used but its role lacks is a function that would fail in AWS with AccessDenied; a table or
grant its role has but no scenario used is a privilege to take away (or a scenario missing here). The scenarios
walk each handler's paths: SMS and e-mail delivered, refused and retried; every kind of SIP event, twice; an
import dropped (for a known group, an unknown one, a result file), run chunk by chunk, and given up.

The API function is not recorded here: it serves every resource, and its role keeps every table."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

import boto3
import botocore.client
import pytest

import app
from chalicelib import bootstrap
from chalicelib.adapters.dynamo_models import ALL_MODELS
from chalicelib.adapters.memory import MemoryQueue
from chalicelib.domain.errors import ProviderError
from chalicelib.domain.provisioning import Purpose
from chalicelib.services import accounts, activation, imports
from chalicelib.services.context import Context
from infra import application as handlers
from infra.access import CALLBACK, LICENCE, TWILIO, Access, access_of
from tests.conftest import World, make_context

TABLE_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"}
TABLE_READS = {"GetItem", "BatchGetItem", "Query", "Scan", "DescribeTable", "TransactGetItems"}
TRANSACT_WRITES = {"Put", "Update", "Delete"}
# Queues Lambda itself sends to with the function's role (on-failure destinations), not the handler's code.
DESTINATIONS = {handlers.INDEX_ACCOUNTS: {"index_failures"}, handlers.IMPORT_OBJECT_CREATED: {"upload_failures"}}
# The ports whose use needs a grant, and the grant.
PORT_GRANTS: dict[str, Callable[[str], tuple[str, str] | None]] = {
    "sms": lambda method: ("secret", TWILIO) if method == "send" else None,
    "email": lambda method: ("email", "yes") if method == "send" else None,
    "licence_upstream": lambda method: ("secret", LICENCE),
    "sms_queue": lambda method: ("send", "sms") if method == "enqueue" else None,
    "tasks": lambda method: ("send", "imports"),
    "files": lambda method: ("files", "yes"),
    "search": lambda method: ("search", "write" if method in {"apply", "clear"} else "read"),
}


@dataclass
class Used:
    reads: set[str] = field(default_factory=set)
    writes: set[str] = field(default_factory=set)
    grants: set[tuple[str, str]] = field(default_factory=set)

    def table(self, table: str | None, write: bool) -> None:
        if table is not None:
            (self.writes if write else self.reads).add(table)


class _Recorded:
    """A port whose method calls are noted by the recorder (the real port still does the work)."""

    def __init__(self, name: str, inner: Any, recorder: Recorder) -> None:
        self._name, self._inner, self._recorder = name, inner, recorder

    def __getattr__(self, attribute: str) -> Any:
        value = getattr(self._inner, attribute)
        if not callable(value):
            return value

        def called(*args: Any, **kwargs: Any) -> Any:
            grant = PORT_GRANTS[self._name](attribute)
            if self._recorder.used is not None and grant is not None:
                self._recorder.used.grants.add(grant)
            return value(*args, **kwargs)

        return called


class Recorder:
    def __init__(self, ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
        self.used: Used | None = None
        self._tables = {ctx.settings.table_name(name): name for name in ALL_MODELS}
        original = botocore.client.BaseClient._make_api_call
        recorder = self

        def recorded(client: Any, operation: str, params: dict[str, Any]) -> Any:
            if recorder.used is not None and client.meta.service_model.service_name == "dynamodb":
                recorder._note(operation, params)
            return original(client, operation, params)

        monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recorded)
        self.ctx = replace(ctx, **{name: _Recorded(name, getattr(ctx, name), self) for name in PORT_GRANTS})
        monkeypatch.setattr(bootstrap, "_context", self.ctx)

    def _note(self, operation: str, params: dict[str, Any]) -> None:
        assert self.used is not None
        name = self._tables.get
        if operation in TABLE_WRITES | TABLE_READS:
            for table in [params.get("TableName"), *params.get("RequestItems", {})]:
                self.used.table(name(table) if table else None, operation in TABLE_WRITES)
        elif operation in {"TransactWriteItems", "TransactGetItems"}:
            for item in params["TransactItems"]:
                [(kind, request)] = item.items()
                self.used.table(name(request["TableName"]), kind in TRANSACT_WRITES)
        else:
            raise AssertionError(f"a DynamoDB operation this test does not classify: {operation}")

    @contextmanager
    def recording(self, used: Used) -> Iterator[None]:
        self.used = used
        try:
            yield
        finally:
            self.used = None


@pytest.fixture(scope="module")
def moto_ctx(moto_url: str) -> Context:
    return make_context("dynamodb", moto_url, sms_callback_key="callback-key-for-tests")


def _sqs(*bodies: str, receives: int = 1) -> dict[str, Any]:
    records = [{"messageId": f"m{i}", "receiptHandle": "r", "body": body, "eventSource": "aws:sqs",
                "attributes": {"ApproximateReceiveCount": str(receives)}} for i, body in enumerate(bodies)]  # fmt: skip
    return {"Records": records}


def _queued_sms(ctx: Context) -> list[str]:
    queue = ctx.sms_queue._inner  # type: ignore[attr-defined]
    assert isinstance(queue, MemoryQueue)
    waiting, queue.waiting = queue.waiting, []
    return [json.dumps({"message_id": sms.message_id, "text": sms.text}) for sms in waiting]


class _Refusing:
    def __init__(self, retryable: bool) -> None:
        self.retryable = retryable

    def send(self, *args: Any) -> str:
        raise ProviderError("refused by the test", provider_code="21211", retryable=self.retryable)


def _send_sms_paths(recorder: Recorder, world: World) -> Used:
    ctx = recorder.ctx
    made = [accounts.create_account(ctx, world.admin, world.account_data(
        full_name=f"Ada {i}", phone_number=f"+3934712300{i:02d}", email=f"ada{i}@example.com")).account
        for i in range(4)]  # fmt: skip
    for account in made[:3]:
        activation.send_link(ctx, world.admin, account.id, Purpose.INSTALL)
    activation.send_link(ctx, world.admin, made[3].id, Purpose.INSTALL, channel="email")
    bodies = _queued_sms(ctx)
    used = Used()
    with recorder.recording(used):
        assert app.send_sms(_sqs(bodies[0]), None) == {"batchItemFailures": []}  # delivered
        assert app.send_sms(_sqs(bodies[0]), None) == {"batchItemFailures": []}  # delivered again: skipped
        assert app.send_sms(_sqs(bodies[3]), None) == {"batchItemFailures": []}  # the e-mail
        sender = ctx.sms._inner  # type: ignore[attr-defined]
        for body, retryable in ((bodies[1], False), (bodies[2], True)):
            ctx.sms._inner = _Refusing(retryable)  # type: ignore[attr-defined]
            failures = app.send_sms(_sqs(body), None)["batchItemFailures"]
            assert failures == ([{"itemIdentifier": "m0"}] if retryable else [])
        ctx.sms._inner = sender  # type: ignore[attr-defined]
    return used


def _sip_event(account: Any, kind: str, **extra: Any) -> str:
    event = {"id": uuid.uuid4().hex, "kind": kind, "at": datetime.now(UTC).isoformat(), "username": account.username,
             "account_id": account.id, "contact": f"sip:{account.username}@198.51.100.7:5060",
             "source": "198.51.100.7:5060", "transport": "udp", "user_agent": "test", "expires": 3600, "reason": "",
             "edge": "edge-1", **extra}  # fmt: skip
    return json.dumps(event)


def _call_event(caller: Any, callee: Any, kind: str, call_id: str, **extra: Any) -> str:
    event = {"id": uuid.uuid4().hex, "kind": kind, "at": datetime.now(UTC).isoformat(), "edge": "edge-1",
             "call_id": call_id, "dialled": callee.username, "caller_account_id": caller.id,
             "caller_username": caller.username, "caller_transport": "tls", "caller_address": "10.0.0.5:5062",
             "callee_account_id": callee.id, "callee_username": callee.username, "callee_transport": "tls",
             "callee_address": "10.0.0.9:5061", "media_security": "sdes", "sip_code": 200, "result": "",
             "reason": "", "username": caller.username, "account_id": caller.id, **extra}  # fmt: skip
    return json.dumps(event)


def _sip_event_paths(recorder: Recorder, world: World) -> Used:
    ctx = recorder.ctx
    alice, bob = (
        accounts.create_account(ctx, world.admin, world.account_data(full_name=name, phone_number=number)).account
        for name, number in (("Alice", "+393475550000"), ("Bob", "+393475550001"))
    )
    call = f"{uuid.uuid4().hex}@10.0.0.5"
    bodies = [
        _sip_event(alice, "registered"), _sip_event(bob, "registered"),
        _call_event(alice, bob, "call_started", call), _call_event(alice, bob, "call_answered", call),
        _call_event(alice, bob, "call_ended", call, result="answered", reason="bye"),
        _sip_event(alice, "refused", reason="wrong_password", expires=0),
        _sip_event(alice, "locked_out", reason="too_many_failures", contact="", expires=900),
        _sip_event(alice, "unregistered", expires=0), _sip_event(bob, "keepalive_failed", expires=0),
        _sip_event(bob, "registered"), _sip_event(bob, "expired", expires=0),
        _sip_event(bob, "registered"), _sip_event(bob, "removed", reason="account_disabled", expires=0),
        "not json",
    ]  # fmt: skip
    used = Used()
    with recorder.recording(used):
        for _ in range(2):  # each event twice: the redelivery's reads and writes count too
            assert app.record_sip_events(_sqs(*bodies), None) == {"batchItemFailures": []}
    return used


def _dropped(ctx: Context, key: str, data: bytes, **metadata: str) -> dict[str, Any]:
    files: Any = ctx.files._inner  # type: ignore[attr-defined]
    files._client.put_object(Bucket=files.bucket, Key=key, Body=data, Metadata=metadata)
    info = files.info(key)
    obj = {"key": quote_plus(key, safe="/"), "size": info.size, "eTag": info.etag}
    return {"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": files.bucket}, "object": obj}}]}


CSV = ("fullName,gsmNumber,email,securityModel,description\n"
       "Carla,+393471990001,,,\nDario,+393471990002,,,\nnot a row,12,,,\n")  # fmt: skip


def _import_steps(ctx: Context) -> list[str]:
    sqs = boto3.client("sqs", endpoint_url=ctx.settings.sqs_endpoint, region_name=ctx.settings.region)
    url = ctx.settings.import_queue_url
    bodies = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def _import_paths(recorder: Recorder, world: World) -> tuple[Used, Used]:
    ctx = recorder.ctx
    dropped, chunks = Used(), Used()
    options = {"policy": "skip_invalid", "send-installation-sms": "yes"}
    with recorder.recording(dropped):
        event = _dropped(ctx, f"imports/{world.group_a.name}/staff.csv", CSV.encode(), **options)
        [job_id] = app.import_object_created(event, None)
        assert app.import_object_created(event, None) == [job_id]  # the same notification again
        assert len(app.import_object_created(_dropped(ctx, "imports/Nobody/x.csv", CSV.encode()), None)) == 1
        assert app.import_object_created(_dropped(ctx, f"imports/{world.group_a.name}/x.result.csv", b"x"),
                                         None) == []  # fmt: skip
    with recorder.recording(chunks):
        while steps := _import_steps(ctx):
            for body in steps:
                assert app.run_import_chunk(_sqs(body), None) == {"batchItemFailures": []}
        job = ctx.imports.get(job_id)
        assert job is not None and job.status == "completed" and job.created == 2
    _queued_sms(ctx)  # (the installation SMS the import queued: the SMS sender's business)
    again = _dropped(ctx, f"imports/{world.group_b.name}/late.csv", CSV.encode())
    [late] = app.import_object_created(again, None)
    _import_steps(ctx)
    with recorder.recording(chunks), pytest.MonkeyPatch.context() as patch:
        patch.setattr(imports, "process", _broken)
        step = json.dumps({"job": late, "step": "parse"})
        failures = app.run_import_chunk(_sqs(step, receives=imports.MAX_RECEIVES), None)["batchItemFailures"]
        assert failures == [{"itemIdentifier": "m0"}]
        late_job = ctx.imports.get(late)
        assert late_job is not None and late_job.status == "failed"  # given up: the job says why
    return dropped, chunks


def _broken(ctx: Context, task: Any) -> None:
    raise RuntimeError("the step broke")


@pytest.fixture(scope="module")
def recorded(moto_ctx: Context) -> dict[handlers.Handler, Used]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        recorder = Recorder(moto_ctx, monkeypatch)
        world = World(recorder.ctx)
        try:
            dropped, chunks = _import_paths(recorder, world)
            return {
                handlers.SEND_SMS: _send_sms_paths(recorder, world),
                handlers.RECORD_SIP_EVENTS: _sip_event_paths(recorder, world),
                handlers.IMPORT_OBJECT_CREATED: dropped,
                handlers.RUN_IMPORT_CHUNK: chunks,
            }
        finally:
            bootstrap.use(None)


RECORDED = (handlers.SEND_SMS, handlers.RECORD_SIP_EVENTS, handlers.IMPORT_OBJECT_CREATED, handlers.RUN_IMPORT_CHUNK)


@pytest.mark.parametrize("handler", RECORDED, ids=lambda h: h.name)
def test_a_function_may_touch_exactly_the_tables_it_uses(
    recorded: dict[handlers.Handler, Used], handler: handlers.Handler
) -> None:
    used, access = recorded[handler], access_of(handler)
    assert (set(access.tables), set(access.reads)) == (used.writes, used.reads - used.writes)


@pytest.mark.parametrize("handler", RECORDED, ids=lambda h: h.name)
def test_a_function_is_granted_exactly_the_providers_queues_and_files_it_uses(
    recorded: dict[handlers.Handler, Used], handler: handlers.Handler
) -> None:
    used, access = recorded[handler], access_of(handler)
    sends = {value for kind, value in used.grants if kind == "send"}
    assert set(access.sends) - DESTINATIONS.get(handler, set()) == sends
    secrets = {value for kind, value in used.grants if kind == "secret"}
    # the status callback URL Twilio is given carries the callback key's capability: whoever sends SMS reads it
    assert set(access.secrets) == secrets | ({CALLBACK} if TWILIO in secrets else set())
    assert access.files == (("files", "yes") in used.grants)
    assert access.email == (("email", "yes") in used.grants)
    assert access.search == next((value for kind, value in used.grants if kind == "search"), "")


def test_the_index_function_touches_no_table() -> None:
    """It reads the stream's images and writes the index; the stream record carries the whole account."""
    access: Access = access_of(handlers.INDEX_ACCOUNTS)
    assert (access.tables, access.reads, access.stream, access.search) == ((), (), True, "write")


def test_every_table_the_roles_name_exists() -> None:
    for handler in handlers.ALL_HANDLERS:
        access = access_of(handler)
        assert set(access.tables) | set(access.reads) <= set(ALL_MODELS), handler.name


def test_the_recorder_sees_what_a_function_does(moto_url: str) -> None:
    """The recording itself: a read and a write of known tables land where they should."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        recorder = Recorder(make_context("dynamodb", moto_url), monkeypatch)
        world = World(recorder.ctx)
        used = Used()
        with recorder.recording(used):
            accounts.create_account(recorder.ctx, world.admin, world.account_data(phone_number="+393479990001"))
            recorder.ctx.sms_queue.enqueue  # an attribute read is no use of the port  # noqa: B018
        bootstrap.use(None)
    assert {"accounts", "uniques", "timeline"} <= used.writes and "groups" in used.reads
    assert used.grants == set()
