"""The local stack's SIP events consumer (devstack.run_local's bridge: several pollers, a visibility timeout a batch
stays within) against a burst of unregistrations, with the app's own handler on moto: the registrations list
ends empty and every message is recorded once (the old 2 s timeout handed batches out again while they were
still being recorded). The lag itself is measured by bench/registrations_lag.py, not asserted here."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import boto3

import app
from chalicelib import bootstrap
from chalicelib.services import accounts, registrations
from devstack.events import QueueBridge, create_queue, wait_until
from devstack.run_local import SIP_EVENTS_CONSUMERS, SIP_EVENTS_VISIBILITY_SECONDS
from tests.conftest import World, make_context

PHONES = 30


def _event(account: Any, kind: str) -> dict[str, Any]:
    return {"id": uuid.uuid4().hex, "kind": kind, "at": datetime.now(UTC).isoformat(), "username": account.username,
            "account_id": account.id, "contact": f"sip:{account.username}@198.51.100.9:5060",
            "source": "198.51.100.9:5060", "transport": "udp", "user_agent": "t", "expires": 600 if kind ==
            "registered" else 0, "reason": "", "edge": "edge-t"}  # fmt: skip


def test_a_burst_of_unregistrations_empties_the_list_and_each_is_recorded_once(moto_url: str) -> None:
    ctx = make_context("dynamodb", moto_url)
    world = World(ctx)
    group = world.make_group("Burst")
    fields = [world.account_data(group_id=group.id, username=f"burst{n}", phone_number=f"+39349{n:07d}")
              for n in range(PHONES)]  # fmt: skip
    phones = [accounts.create_account(ctx, world.admin, data).account for data in fields]
    registrations.record_events(ctx, [_event(phone, "registered") for phone in phones])
    assert len(registrations.online_in_group(ctx, world.admin, group.id, 100, None).items) == PHONES
    url = create_queue(moto_url, "eu-west-1", f"sip-burst-{uuid.uuid4().hex[:6]}", SIP_EVENTS_VISIBILITY_SECONDS)
    sqs = boto3.client("sqs", region_name="eu-west-1", endpoint_url=moto_url)
    for start in range(0, PHONES, 10):
        entries = [{"Id": str(n), "MessageBody": json.dumps(_event(phone, "unregistered"))}
                   for n, phone in enumerate(phones[start : start + 10])]  # fmt: skip
        sqs.send_message_batch(QueueUrl=url, Entries=entries)
    bootstrap.use(ctx)
    bridge = QueueBridge(moto_url, "eu-west-1", url, app.record_sip_events, batch=10,
                         concurrency=SIP_EVENTS_CONSUMERS).start()  # fmt: skip
    try:
        assert wait_until(lambda: bridge.delivered >= PHONES, 60)
        assert registrations.online_in_group(ctx, world.admin, group.id, 100, None).items == []
    finally:
        bridge.stop()
        bootstrap.use(None)
    assert (bridge.delivered, bridge.failures) == (PHONES, 0)  # none handed out twice
