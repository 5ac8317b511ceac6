"""The Twilio adapter against a fake Twilio REST API on loopback, and signed status callbacks."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from chalice.test import Client

from app import app
from chalicelib import bootstrap
from chalicelib.adapters.memory import MemoryQueue
from chalicelib.adapters.sms_twilio import TwilioSender
from chalicelib.domain.provisioning import MessageStatus, Purpose
from chalicelib.services import activation
from chalicelib.services.activation import RetryLater
from tests.conftest import World, make_context

AUTH_TOKEN = "twilio-auth-token-for-tests"
CALLBACK_KEY = "status-callback-key-for-tests"


class FakeTwilio:
    """Answers POST /2010-04-01/Accounts/{sid}/Messages.json with the queued answers, recording requests."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], dict[str, str]]] = []
        self.answers: list[tuple[int, dict[str, Any]]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(parse_qsl(self.rfile.read(length).decode()))
                fake.requests.append((self.path, dict(self.headers), form))
                status, body = fake.answers.pop(0) if fake.answers else (201, {"sid": "SM" + "0" * 32})
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    fake = FakeTwilio()
    yield fake
    fake.server.shutdown()


@pytest.fixture
def world(twilio: FakeTwilio) -> Iterator[World]:
    ctx = make_context("memory", None, public_base_url="https://voice.example.com")
    settings = replace(
        ctx.settings, sms_provider="twilio", twilio_api_base=twilio.url, twilio_account_sid="AC123",
        twilio_auth_token=AUTH_TOKEN, twilio_messaging_service_sid="MG456", sms_callback_key=CALLBACK_KEY,
    )  # fmt: skip
    ctx = replace(ctx, settings=settings, sms=TwilioSender(settings))
    bootstrap.use(ctx)
    yield World(ctx)
    bootstrap.use(None)


def queue_one(world: World) -> activation.Sent:
    from chalicelib.services import accounts

    account = accounts.create_account(world.ctx, world.admin, world.account_data(full_name="Ada")).account
    return activation.send_link(world.ctx, world.admin, account.id, Purpose.INSTALL)


def next_queued(world: World) -> Any:
    queue = world.ctx.sms_queue
    assert isinstance(queue, MemoryQueue)
    return queue.waiting.pop(0)


def test_sends_the_exact_rest_call(world: World, twilio: FakeTwilio) -> None:
    sent = queue_one(world)
    delivered = activation.deliver(world.ctx, next_queued(world))
    assert delivered is not None and delivered.status is MessageStatus.SENT and delivered.provider_id.startswith("SM")
    (path, headers, form) = twilio.requests[0]
    assert path == "/2010-04-01/Accounts/AC123/Messages.json"
    assert headers["Authorization"] == "Basic " + base64.b64encode(f"AC123:{AUTH_TOKEN}".encode()).decode()
    assert form["To"] == "+393471234567" and form["MessagingServiceSid"] == "MG456"
    assert form["Body"].startswith("Install PrivateGSM for secure calls: https://voice.example.com/m/i/")
    key = activation.callback_key(CALLBACK_KEY, sent.message.id)
    assert form["StatusCallback"] == f"https://voice.example.com/api/v1/sms/status/{sent.message.id}?key={key}"
    assert len(key) == 43  # 256 bits, URL-safe
    assert "…" in world.ctx.messages.get(sent.message.id).body  # type: ignore[union-attr]  # stored redacted


def test_retries_provider_errors_worth_retrying_and_fails_the_others(world: World, twilio: FakeTwilio) -> None:
    sent = queue_one(world)
    queued = next_queued(world)
    twilio.answers = [(429, {"code": 20429, "message": "Too Many Requests"}), (503, {})]
    for _ in range(2):
        with pytest.raises(RetryLater):
            activation.deliver(world.ctx, queued)
    retried = activation.deliver(world.ctx, queued)  # the queue's third delivery
    assert retried is not None and retried.status is MessageStatus.SENT and retried.attempts == 3
    assert activation.deliver(world.ctx, queued) == retried  # a duplicate delivery sends nothing more
    assert len(twilio.requests) == 3

    queue_one_more = activation.send_link(world.ctx, world.admin, sent.account.id, Purpose.ACTIVATE)
    twilio.answers = [(400, {"code": 21614, "message": "'To' number is not a valid mobile number"})]
    failed = activation.deliver(world.ctx, next_queued(world))
    assert failed is not None and failed.status is MessageStatus.FAILED
    assert (failed.error_code, failed.error_message) == ("21614", "the number is not a mobile number (landline)")
    events = world.ctx.accounts.timeline(sent.account.id, 50)
    assert any(e.kind == "sms_failed" and e.detail["error_code"] == "21614" for e in events)
    assert queue_one_more.message.id == failed.id
    marked = world.ctx.accounts.get(sent.account.id)
    assert marked is not None
    assert marked.sms_problem == "Activation SMS failed: the number is not a mobile number (landline)"
    activation.send_link(world.ctx, world.admin, sent.account.id, Purpose.ACTIVATE)
    activation.deliver(world.ctx, next_queued(world))  # the next one gets through: the mark goes
    assert world.ctx.accounts.get(sent.account.id).sms_problem == ""  # type: ignore[union-attr]


def test_twilio_unreachable_is_retried(world: World) -> None:
    settings = replace(world.ctx.settings, twilio_api_base="http://127.0.0.1:9")
    ctx = replace(world.ctx, sms=TwilioSender(settings))
    queue_one(world)
    with pytest.raises(RetryLater):
        activation.deliver(ctx, next_queued(world))


def test_status_callbacks_with_their_key_reach_the_timeline_and_forged_ones_do_not(
    world: World, twilio: FakeTwilio
) -> None:
    sent = queue_one(world)
    activation.deliver(world.ctx, next_queued(world))
    (_, _, form), *_ = twilio.requests
    callback = urlsplit(form["StatusCallback"])  # the URL Twilio was given, with its key
    undelivered = {"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "30003"}
    with Client(app) as client:

        def post(params: dict[str, str], query: str) -> Any:
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            return client.http.post(f"{callback.path}?{query}", headers=headers, body=urlencode(params).encode())

        other = activation.callback_key(world.ctx.settings.sms_callback_key, "another-message")
        for forged in ("", "key=", f"key={other}", "key=" + "A" * 43):
            assert post(undelivered, forged).status_code == 403, forged
        assert world.ctx.messages.get(sent.message.id).status is MessageStatus.SENT  # type: ignore[union-attr]

        assert post(undelivered, callback.query).status_code == 204
        assert post(undelivered, callback.query).status_code == 204  # duplicate: harmless
        late_sent = {"MessageSid": "SM1", "MessageStatus": "sent"}
        assert post(late_sent, callback.query).status_code == 204  # late: never goes backwards
    message = world.ctx.messages.get(sent.message.id)
    assert message is not None and message.status is MessageStatus.UNDELIVERED
    assert message.error_message == "the phone is unreachable (switched off or out of coverage)"
    kinds = [e.kind for e in world.ctx.accounts.timeline(sent.account.id, 50)]
    assert kinds.count("sms_undelivered") == 1
