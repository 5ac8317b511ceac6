"""The SMS queue and the import work queue on SQS (boto3); the app's @app.on_sqs_message handlers consume them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.domain.errors import QueueUnavailable
from chalicelib.domain.provisioning import QueuedSms


class SqsQueue:
    def __init__(self, queue_url: str, region: str, endpoint: str | None = None) -> None:
        self.queue_url = queue_url
        self._client: Any = boto3.client("sqs", region_name=region, endpoint_url=endpoint)

    def enqueue(self, sms: QueuedSms) -> None:
        body = json.dumps({"message_id": sms.message_id, "text": sms.text})
        extra: dict[str, str] = {}
        if self.queue_url.endswith(".fifo"):  # one group: the consumer sends one message at a time, in order
            extra = {"MessageGroupId": "sms", "MessageDeduplicationId": sms.message_id}
        try:
            self._client.send_message(QueueUrl=self.queue_url, MessageBody=body, **extra)
        except (BotoCoreError, ClientError) as exc:
            raise QueueUnavailable("The SMS queue cannot be reached; try again in a moment.") from exc


def queued_sms_of(body: str) -> QueuedSms:
    value = json.loads(body)
    return QueuedSms(str(value["message_id"]), str(value["text"]))


class SqsTasks:
    """The import pipeline's work queue."""

    def __init__(self, queue_url: str, region: str, endpoint: str | None = None) -> None:
        self.queue_url = queue_url
        self._client: Any = boto3.client("sqs", region_name=region, endpoint_url=endpoint)

    def send(self, task: Mapping[str, Any]) -> None:
        try:
            self._client.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(dict(task)))
        except (BotoCoreError, ClientError) as exc:
            raise QueueUnavailable("The import queue cannot be reached; try again in a moment.") from exc
