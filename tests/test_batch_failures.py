"""Partial batch responses: the stream handler reports the record the search engine refused (and the ones after
it stay for the retry), the queue handlers report the messages that failed, and the local event bridges act on
those reports as Lambda does (a reported message stays in its queue, the others are deleted)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import boto3
import pytest
from chalice.app import SQSEvent

import app
from chalicelib import bootstrap
from chalicelib.adapters.dynamo import _account_to_model
from chalicelib.adapters.dynamo_models import AccountModel
from chalicelib.domain.model import Page
from chalicelib.domain.search import Query
from chalicelib.handlers.batch import each_message
from chalicelib.services import accounts, search
from chalicelib.services.search_port import (
    BY_USERNAME,
    IndexChange,
    Listing,
    SearchDocument,
    SearchIndex,
    SearchUnavailable,
)
from devstack.events import QueueBridge, wait_until
from tests.conftest import World, make_context
from tests.events import load_event


@dataclass
class RefusingIndex:
    """A real index that refuses every request holding a document of the `refused` accounts (as OpenSearch
    refuses a document its mapping cannot take)."""

    inner: SearchIndex
    refused: set[str] = field(default_factory=set)

    def apply(self, changes: Sequence[IndexChange]) -> None:
        if any(change.account_id in self.refused for change in changes):
            raise SearchUnavailable("The search engine refused a document (status 400).")
        self.inner.apply(changes)

    def search(
        self, group_id: str, query: Query | None, limit: int, cursor: str | None, listing: Listing = BY_USERNAME
    ) -> Page[SearchDocument]:
        return self.inner.search(group_id, query, limit, cursor, listing)

    def clear(self) -> None:
        self.inner.clear()


def _insert(image: dict[str, Any], sequence_number: int) -> dict[str, Any]:
    record = load_event("dynamodb_stream_record")
    record["eventName"] = "INSERT"
    record["dynamodb"].update(Keys={"id": image["id"]}, NewImage=image, SequenceNumber=str(sequence_number))
    return record


def test_the_stream_handler_reports_the_refused_record_and_indexes_the_ones_before_it() -> None:
    base = make_context("memory", None)
    index = RefusingIndex(base.search)
    ctx = replace(base, search=index)
    bootstrap.use(ctx)
    try:
        world = World(ctx)
        made = [
            accounts.create_account(ctx, world.admin, world.account_data(phone_number=f"+3934755500{i}",
                                                                         full_name=f"Person {i}")).account
            for i in range(3)
        ]  # fmt: skip
        records = [_insert(_account_to_model(AccountModel, a).serialize(), 100 + i) for i, a in enumerate(made)]
        index.refused = {made[1].id}
        assert app.index_accounts({"Records": records}, None) == {"batchItemFailures": [{"itemIdentifier": "101"}]}

        def found() -> list[str]:
            page = search.search_accounts(ctx, world.admin, world.group_a.id, "Person", 10, None)
            return sorted(d.full_name for d in page.items)

        assert found() == ["Person 0"]  # the record after the refused one waits for the retry from 101
        index.refused = set()
        assert app.index_accounts({"Records": records[1:]}, None) == {"batchItemFailures": []}
        assert found() == ["Person 0", "Person 1", "Person 2"]
    finally:
        bootstrap.use(None)


def _sqs_event(*bodies: str) -> SQSEvent:
    records = [{"messageId": f"m{i}", "receiptHandle": f"r{i}", "body": body} for i, body in enumerate(bodies)]
    return SQSEvent({"Records": records}, None)


def _handle(record: Any) -> None:
    if record.body == "bad":
        raise RuntimeError("provider down")


def test_queue_handlers_report_only_the_messages_that_failed() -> None:
    assert each_message(_sqs_event("ok", "bad", "ok"), _handle) == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    handled: list[str] = []
    ordered = each_message(_sqs_event("ok", "bad", "ok"), lambda r: (handled.append(r.body), _handle(r)), ordered=True)
    assert ordered == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}]}
    assert handled == ["ok", "bad"]  # FIFO: nothing after a failed message overtakes it


def test_an_import_step_that_fails_is_reported_by_the_queue_consumer(monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.services import imports

    def process(ctx: Any, task: dict[str, Any]) -> None:
        if task.get("fail"):
            raise RuntimeError("storage down")

    monkeypatch.setattr(imports, "process", process)
    bootstrap.use(make_context("memory", None))
    try:
        event = {"Records": [{"messageId": "a", "receiptHandle": "r", "body": json.dumps({"fail": True})},
                             {"messageId": "b", "receiptHandle": "r", "body": json.dumps({})}]}  # fmt: skip
        assert app.run_import_chunk(event, None) == {"batchItemFailures": [{"itemIdentifier": "a"}]}
    finally:
        bootstrap.use(None)


def test_the_local_queue_bridge_keeps_the_reported_messages_and_deletes_the_others(moto_url: str) -> None:
    sqs = boto3.client("sqs", region_name="eu-west-1", endpoint_url=moto_url)
    url = sqs.create_queue(QueueName=f"batch-{uuid.uuid4().hex[:8]}", Attributes={"VisibilityTimeout": "60"})[
        "QueueUrl"
    ]
    for body in ("ok", "bad"):
        sqs.send_message(QueueUrl=url, MessageBody=body)

    def handler(event: dict[str, Any], context: Any) -> Any:
        return each_message(SQSEvent(event, context), _handle)

    bridge = QueueBridge(moto_url, "eu-west-1", url, handler, batch=10).start()
    try:
        assert wait_until(lambda: bridge.delivered + bridge.failures == 2)
    finally:
        bridge.stop()
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (bridge.delivered, bridge.failures) == (1, 1)
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"  # "bad" comes back after the timeout
    assert attributes["ApproximateNumberOfMessages"] == "0"
