"""Automatic activation end to end through the API and the phone's endpoints, on both storage backends."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from chalice.test import Client

from app import app
from chalicelib import bootstrap
from chalicelib.adapters.memory import MemoryQueue
from chalicelib.adapters.sms_outbox import EmailOutbox, OutboxSender
from chalicelib.domain.digest import sip_credentials
from chalicelib.services import accounts, activation, groups
from chalicelib.services.context import Context
from tests.api.helpers import ADMIN, Api, as_problem
from tests.conftest import World, make_context

ANDROID = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Mobile Safari/537.36"
LINK = re.compile(r"https?://\S+/m/([ia])/([A-Za-z0-9_-]+)")


class Clock:
    """Moves on by a millisecond at each reading, so events keep their order on the timeline."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


@pytest.fixture(params=["memory", "dynamodb"])
def setup(request: pytest.FixtureRequest) -> Iterator[tuple[World, Api, Clock, OutboxSender]]:
    url = request.getfixturevalue("moto_url") if request.param == "dynamodb" else None
    clock = Clock()
    outbox = OutboxSender()
    ctx = replace(
        make_context(request.param, url, mobile_max_attempts_per_source=25),
        clock=clock, sms=outbox, email=EmailOutbox(),
    )  # fmt: skip
    bootstrap.use(ctx)
    world = World(ctx)
    groups.update_profile(ctx, world.admin, world.profile.id, {"android_url": "https://play.example/pgsm",
                                                                "other_url": "https://example.com/pgsm"})  # fmt: skip
    with Client(app) as client:
        yield world, Api(client).login(*ADMIN), clock, outbox
    bootstrap.use(None)


def deliver_all(ctx: Context) -> None:
    queue = ctx.sms_queue
    assert isinstance(queue, MemoryQueue)
    queue.drain(lambda sms: activation.deliver(ctx, sms))


def last_link(outbox: OutboxSender) -> tuple[str, str]:
    match = LINK.search(outbox.sent[-1][1])
    assert match, outbox.sent[-1]
    return match.group(1), match.group(2)


def sent_link(world: World, api: Api, outbox: OutboxSender, path: str) -> str:
    """POST an SMS action, let the queue deliver it, and return the token of the link the phone received."""
    api.call("POST", path)
    deliver_all(world.ctx)
    return last_link(outbox)[1]


def mobile(api: Api, method: str, path: str, body: Any = None, **headers: str) -> Any:
    payload = json.dumps(body).encode() if body is not None else b""
    return api.client.http.request(method, path, headers={"Content-Type": "application/json", **headers}, body=payload)


def wizard_account(world: World, api: Api) -> dict[str, Any]:
    data = {"mode": "wizard", "group_id": world.group_a.id, "phone_number": "+393471234567", "full_name": "Ada"}
    created = api.call("POST", "/accounts", data)
    assert created.status_code == 201, created.body
    assert created.json_body["enabled"] is False
    return dict(created.json_body)


def kinds(world: World, account_id: str) -> list[str]:
    return [e.kind for e in reversed(world.ctx.accounts.timeline(account_id, 100))]


@pytest.mark.both_backends
def test_the_whole_wizard_flow(setup: tuple[World, Api, Clock, OutboxSender]) -> None:
    world, api, clock, outbox = setup
    account = wizard_account(world, api)
    path = f"/accounts/{account['id']}"

    sent = api.call("POST", f"{path}/installation-sms")
    assert sent.status_code == 202
    assert sent.json_body["account"]["status"] == "installation_sms_sent"
    assert sent.json_body["message"]["status"] == "queued" and sent.json_body["message"]["segments"] == 1
    deliver_all(world.ctx)
    to, text, callback = outbox.sent[-1]
    assert to == "+393471234567" and "/api/v1/sms/status/" in callback
    kind, token = last_link(outbox)
    assert kind == "i" and len(token) >= 22  # 128 bits, URL-safe

    clock.now += timedelta(minutes=5)
    page = mobile(api, "GET", f"/m/i/{token}", **{"User-Agent": ANDROID})
    assert page.status_code == 200 and b"Download for Android" in page.body
    download = mobile(api, "GET", f"/m/i/{token}/download", **{"User-Agent": ANDROID})
    assert download.status_code == 302 and download.headers["Location"] == "https://play.example/pgsm"
    reported = mobile(api, "POST", "/m/installed", {"token": token, "platform": "android", "app_version": "5.1"})
    assert reported.status_code == 200
    state = api.call("GET", path).json_body
    assert (state["status"], state["enabled"]) == ("installed", False)

    clock.now += timedelta(minutes=5)
    assert api.call("POST", f"{path}/activation-sms").json_body["account"]["status"] == "activation_sms_sent"
    deliver_all(world.ctx)
    kind, activation_token = last_link(outbox)
    assert kind == "a"
    scanner = mobile(api, "GET", f"/m/a/{activation_token}", **{"User-Agent": "LinkPreviewBot/1.0"})
    assert scanner.status_code == 200
    assert api.call("GET", path).json_body["status"] == "activation_sms_sent"  # a GET redeemed nothing

    clock.now += timedelta(minutes=5)
    redeemed = mobile(api, "POST", "/m/activation", {"token": activation_token})
    assert redeemed.status_code == 200, redeemed.body
    config = redeemed.json_body
    assert config["sip"]["username"] == account["username"]
    assert (config["sip"]["host"], config["sip"]["port"], config["sip"]["transport"]) == (
        "sip.example.com",
        5061,
        "tls",
    )
    assert config["obfuscation"] == {"enabled": True, "key": "9"} and config["security_model"] == "SDES"
    assert config["licence_service_url"].endswith("/m/licence")
    state = api.call("GET", path).json_body
    assert (state["status"], state["enabled"]) == ("activated", True)
    stored = accounts.get_account(world.ctx, world.admin, account["id"])
    expected = sip_credentials(account["username"], "voice.example.com", config["sip"]["password"])
    assert stored.credentials == expected  # only the digests of the fresh password are kept
    assert kinds(world, account["id"]) == [
        "created", "installation_sms_queued", "sms_sent", "installation_link_opened", "installation_clicked",
        "installed", "activation_sms_queued", "sms_sent", "activated",
    ]  # fmt: skip

    again = mobile(api, "POST", "/m/activation", {"token": activation_token})
    as_problem(again, 404, "invalid_link")  # single use


def test_bad_tokens_all_get_the_same_answer(setup: tuple[World, Api, Clock, OutboxSender]) -> None:
    world, api, clock, outbox = setup
    account = wizard_account(world, api)
    path = f"/accounts/{account['id']}/activation-sms"
    superseded = sent_link(world, api, outbox, path)
    used = sent_link(world, api, outbox, path)
    assert mobile(api, "POST", "/m/activation", {"token": used}).status_code == 200
    expired = sent_link(world, api, outbox, path)
    clock.now += timedelta(hours=72, seconds=1)
    answers = {
        name: mobile(api, "POST", "/m/activation", {"token": token}).body
        for name, token in {"unknown": "A" * 22, "superseded": superseded, "used": used, "expired": expired}.items()
    }
    assert len(set(answers.values())) == 1, answers
    assert json.loads(answers["unknown"])["code"] == "invalid_link"
    # an installation token is no activation token
    install = sent_link(world, api, outbox, f"/accounts/{account['id']}/installation-sms")
    as_problem(mobile(api, "POST", "/m/activation", {"token": install}), 404, "invalid_link")


def test_guessing_is_rate_limited_per_source(setup: tuple[World, Api, Clock, OutboxSender]) -> None:
    _, api, _, _ = setup
    codes = [mobile(api, "POST", "/m/activation", {"token": f"guess{i:020d}"}).status_code for i in range(30)]
    assert codes[:25] == [404] * 25
    assert set(codes[25:]) == {429}


def test_refusals_say_why(setup: tuple[World, Api, Clock, OutboxSender]) -> None:
    world, api, _, _ = setup
    snom = api.call("POST", "/accounts", world.account_data(account_type="SNOM")).json_body
    as_problem(api.call("POST", f"/accounts/{snom['id']}/installation-sms"), 409, "activation_not_for_snom")
    short = api.call("POST", "/accounts", world.account_data(phone_number="111")).json_body
    body = as_problem(api.call("POST", f"/accounts/{short['id']}/activation-sms"), 409, "number_not_international")
    assert body["field"] == "phone_number"
    plain = api.call("POST", "/accounts", world.account_data(phone_number="+393479990000")).json_body
    groups.update_group(world.ctx, world.admin, world.group_a.id, {"enabled": False})
    as_problem(api.call("POST", f"/accounts/{plain['id']}/installation-sms"), 409, "group_disabled")


def test_plain_accounts_stay_enabled_and_get_fresh_credentials(setup: tuple[World, Api, Clock, OutboxSender]) -> None:
    world, api, _, outbox = setup
    plain = api.call("POST", "/accounts", world.account_data(username="7700")).json_body
    api.call("POST", f"/accounts/{plain['id']}/disable")
    token = sent_link(world, api, outbox, f"/accounts/{plain['id']}/activation-sms")
    config = mobile(api, "POST", "/m/activation", {"token": token}).json_body
    state = api.call("GET", f"/accounts/{plain['id']}").json_body
    assert (state["status"], state["enabled"]) == ("activated", False)  # the operator's disable stands
    assert config["sip"]["password"] != "sip-secret-1"


def test_tokens_and_passwords_never_reach_the_logs(
    setup: tuple[World, Api, Clock, OutboxSender], caplog: pytest.LogCaptureFixture
) -> None:
    world, api, _, outbox = setup
    caplog.set_level(logging.DEBUG)
    account = wizard_account(world, api)
    token = sent_link(world, api, outbox, f"/accounts/{account['id']}/activation-sms")
    config = mobile(api, "POST", "/m/activation", {"token": token}).json_body
    mobile(api, "POST", "/m/activation", {"token": token})
    assert token not in caplog.text
    assert config["sip"]["password"] not in caplog.text


def test_devices_without_sms_get_the_link_by_e_mail(setup: tuple[World, Api, Clock, OutboxSender]) -> None:
    world, api, _, _ = setup
    tablet = api.call("POST", "/accounts", world.account_data(phone_number="112", email="ada@example.com")).json_body
    as_problem(api.call("POST", f"/accounts/{tablet['id']}/activation-sms"), 409, "number_not_international")
    sent = api.call("POST", f"/accounts/{tablet['id']}/activation-email")
    assert sent.status_code == 202 and sent.json_body["message"]["channel"] == "email"
    deliver_all(world.ctx)
    mailbox = world.ctx.email
    assert isinstance(mailbox, EmailOutbox)
    to, subject, body = mailbox.sent[-1]
    assert (to, subject) == ("ada@example.com", "Configure PrivateGSM")
    match = LINK.search(body)
    assert match is not None
    assert mobile(api, "POST", "/m/activation", {"token": match.group(2)}).status_code == 200
    no_mail = api.call("POST", "/accounts", world.account_data(phone_number="113")).json_body
    body = as_problem(api.call("POST", f"/accounts/{no_mail['id']}/installation-email"), 409, "email_missing")
    assert body["field"] == "email"


def test_the_ses_adapter_sends_through_amazon_ses(moto_url: str) -> None:
    import boto3

    from chalicelib.adapters.email_ses import SesSender
    from chalicelib.domain.errors import ProviderError

    client = boto3.client("sesv2", endpoint_url=moto_url, region_name="eu-west-1")
    client.create_email_identity(EmailIdentity="provisioning@voice.example.com")
    sender = SesSender("provisioning@voice.example.com", "eu-west-1", client=client)
    assert sender.send("ada@example.com", "Configure PrivateGSM", "https://voice.example.com/m/a/x")
    with pytest.raises(ProviderError):
        SesSender("not-verified@example.org", "eu-west-1", client=client).send("a@example.com", "s", "b")


def test_disabling_revokes_outstanding_links_and_a_disabled_group_blocks_them(
    setup: tuple[World, Api, Clock, OutboxSender],
) -> None:
    world, api, _, outbox = setup
    account = wizard_account(world, api)
    token = sent_link(world, api, outbox, f"/accounts/{account['id']}/activation-sms")
    api.call("POST", f"/accounts/{account['id']}/disable")  # e.g. the phone was lost
    as_problem(mobile(api, "POST", "/m/activation", {"token": token}), 404, "invalid_link")
    assert api.call("GET", f"/accounts/{account['id']}").json_body["enabled"] is False
    fresh = sent_link(world, api, outbox, f"/accounts/{account['id']}/activation-sms")
    groups.update_group(world.ctx, world.admin, world.group_a.id, {"enabled": False})
    as_problem(mobile(api, "POST", "/m/activation", {"token": fresh}), 404, "invalid_link")


def test_a_late_installed_report_never_moves_an_activated_account_back(
    setup: tuple[World, Api, Clock, OutboxSender],
) -> None:
    world, api, _, outbox = setup
    account = wizard_account(world, api)
    install = sent_link(world, api, outbox, f"/accounts/{account['id']}/installation-sms")
    activate = sent_link(world, api, outbox, f"/accounts/{account['id']}/activation-sms")
    assert mobile(api, "POST", "/m/activation", {"token": activate}).status_code == 200
    assert mobile(api, "POST", "/m/installed", {"token": install, "platform": "ios"}).status_code == 200
    assert api.call("GET", f"/accounts/{account['id']}").json_body["status"] == "activated"


def test_accounts_for_automatic_activation_stay_pgsm(setup: tuple[World, Api, Clock, OutboxSender]) -> None:
    world, api, _, _ = setup
    account = wizard_account(world, api)
    body = as_problem(api.call("PATCH", f"/accounts/{account['id']}", {"account_type": "SNOM"}), 422,
                      "validation_failed")  # fmt: skip
    assert body["errors"][0]["code"] == "activation_account_type_fixed"


def test_each_sms_outcome_is_one_json_log_line_without_the_number(
    setup: tuple[World, Api, Clock, OutboxSender], caplog: pytest.LogCaptureFixture
) -> None:
    world, api, _, outbox = setup
    caplog.set_level(logging.INFO, logger="chalicelib.services.activation")
    account = wizard_account(world, api)
    sent_link(world, api, outbox, f"/accounts/{account['id']}/installation-sms")
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.getMessage().startswith('{"event": "sms_outcome"')]
    assert lines == [{"event": "sms_outcome", "outcome": "sent", "channel": "sms", "purpose": "install",
                      "error_code": ""}]  # fmt: skip
    assert account["phone_number"] not in caplog.text


def test_a_fifo_sms_queue_gets_one_group_and_the_message_id_as_dedup_id(moto_url: str) -> None:
    import boto3

    from chalicelib.adapters.sqs import SqsQueue
    from chalicelib.domain.provisioning import QueuedSms

    sqs = boto3.client("sqs", endpoint_url=moto_url, region_name="eu-west-1")
    url = sqs.create_queue(QueueName=f"sms-{uuid.uuid4().hex[:8]}.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    queue = SqsQueue(url, "eu-west-1", moto_url)
    queue.enqueue(QueuedSms("m1", "first"))
    queue.enqueue(QueuedSms("m1", "first"))  # the same message again: deduplicated by SQS
    queue.enqueue(QueuedSms("m2", "second"))
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["MessageGroupId"])["Messages"]
    assert [json.loads(m["Body"])["message_id"] for m in got] == ["m1", "m2"]
    assert {m["Attributes"]["MessageGroupId"] for m in got} == {"sms"}
