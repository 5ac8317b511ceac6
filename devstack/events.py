"""The local event bridge: delivers what AWS would deliver to the app's event handlers.

`chalice local` serves HTTP only. In AWS, Lambda polls the accounts table's DynamoDB Stream and calls the
`@app.on_dynamodb_record` handler with batches of records; here a thread polls moto's DynamoDB Streams API the
same way and calls the same handler object with a Lambda-shaped event. A failing batch is retried after a
pause, as Lambda retries a stream batch, so the search index catches up when the engine is back.
(SQS messages and S3 notifications join here when their handlers arrive.)
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import boto3
from botocore.exceptions import ClientError

log = logging.getLogger(__name__)
Handler = Callable[[dict[str, Any], Any], Any]


class StreamPositions:
    """Where a stream bridge is, kept in a JSON file so a restarted local stack neither misses nor repeats
    changes: per shard, the sequence number and event id of the last record the handler took (written, by a
    rename, after each delivered batch; a kill between the handler and the write repeats that one batch, which
    the versioned index ignores)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.shards: dict[str, dict[str, str]] = json.loads(path.read_text()) if path.exists() else {}

    def advance(self, shard: str, record: dict[str, Any]) -> None:
        self.shards[shard] = {"sequence": record["dynamodb"]["SequenceNumber"], "event": record["eventID"]}
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.shards))
        os.replace(temporary, self.path)

    def matches(self, endpoint: str, region: str, table: str) -> bool:
        """Whether the table's stream still holds each shard's last taken record (not when a kill -9 lost the
        table's last moments while the consumer had already taken them)."""
        dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, region_name=region)
        streams = boto3.client("dynamodbstreams", endpoint_url=endpoint, region_name=region)
        arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        shards = {s["ShardId"] for s in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]}
        for shard, last in self.shards.items():
            if shard not in shards:
                return False
            iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="AT_SEQUENCE_NUMBER",
                                                  SequenceNumber=last["sequence"])["ShardIterator"]  # fmt: skip
            found = streams.get_records(ShardIterator=iterator, Limit=1).get("Records", [])
            if not found or found[0]["eventID"] != last["event"]:
                return False
        return True


def reported_failures(answer: Any) -> list[str]:
    """The ids a handler's partial batch response names (`batchItemFailures`, as Lambda reads it)."""
    if not isinstance(answer, dict):
        return []
    return [str(item["itemIdentifier"]) for item in answer.get("batchItemFailures") or []]


class StreamBridge:
    def __init__(
        self, endpoint: str, region: str, table: str, handler: Handler, poll_seconds: float = 0.2, batch: int = 100,
        positions: StreamPositions | None = None,
    ) -> None:  # fmt: skip
        self.dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, region_name=region)
        self.streams = boto3.client("dynamodbstreams", endpoint_url=endpoint, region_name=region)
        self.table = table
        self.handler = handler
        self.poll_seconds = poll_seconds
        self.batch = batch
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"stream-bridge-{table}", daemon=True)
        self.delivered = 0
        self.failures = 0
        self.stream_arn = ""
        self.positions = positions

    def start(self) -> StreamBridge:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _iterators(self) -> dict[str, str]:
        arn = self.stream_arn = self.dynamodb.describe_table(TableName=self.table)["Table"]["LatestStreamArn"]
        shards = self.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
        known = self.positions.shards if self.positions else {}

        def start(shard: str) -> dict[str, str]:
            if shard in known:  # where the last run stopped
                return {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": known[shard]["sequence"]}
            return {"ShardIteratorType": "TRIM_HORIZON"}

        return {
            shard["ShardId"]: self.streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard["ShardId"], **start(shard["ShardId"])
            )["ShardIterator"]
            for shard in shards
        }

    def _run(self) -> None:
        iterators = self._iterators()
        while not self._stop.is_set():
            idle = True
            for shard, iterator in list(iterators.items()):
                answer = self.streams.get_records(ShardIterator=iterator, Limit=self.batch)
                records = answer.get("Records", [])
                if records and not self._deliver(records):
                    continue  # keep the same iterator: the batch is delivered again
                if records and self.positions:
                    self.positions.advance(shard, records[-1])
                iterators[shard] = answer["NextShardIterator"]
                idle = idle and not records
            if idle:
                self._stop.wait(self.poll_seconds)

    def _deliver(self, records: list[dict[str, Any]]) -> bool:
        """A batch that raised or reported failed records comes again (Lambda would retry from the first failed
        record; here from the batch's start: the records before it are applied twice, harmlessly)."""
        try:
            answer = self.handler({"Records": [lambda_shaped(r, self.stream_arn) for r in records]}, None)
            if reported_failures(answer):
                raise RuntimeError(f"the handler reported failed records: {reported_failures(answer)}")
        except Exception:
            self.failures += 1
            log.warning("stream handler failed; the batch is retried", exc_info=True)
            self._stop.wait(min(5.0, 0.5 * self.failures))
            return False
        self.delivered += len(records)
        return True


class QueueBridge:
    """Polls an SQS queue on moto and calls the `@app.on_sqs_message` handler with Lambda-shaped events; a
    message is deleted when the handler returns and otherwise comes back after the visibility timeout (and
    goes to the dead-letter queue after the queue's maximum receives), as with Lambda."""

    def __init__(
        self, endpoint: str, region: str, queue_url: str, handler: Handler, batch: int = 1, concurrency: int = 1
    ) -> None:
        self.sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=region)
        self.queue_url = queue_url
        self.arn = self.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        self.region = region
        self.handler = handler
        self.batch = batch
        self._stop = threading.Event()
        # Lambda's SQS poller runs several batches at once (its concurrency scales with the backlog): `concurrency`
        # pollers here, each receiving, handling and deleting its own batch
        name = f"queue-bridge-{queue_url.rsplit('/', 1)[-1]}"
        self._threads = [
            threading.Thread(target=self._run, name=f"{name}-{n}", daemon=True) for n in range(concurrency)
        ]
        self._count = threading.Lock()
        self.delivered = 0
        self.failures = 0

    def start(self) -> QueueBridge:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            answer = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=self.batch, WaitTimeSeconds=1,
                AttributeNames=["All"],
            )  # fmt: skip
            messages = answer.get("Messages", [])
            if not messages:
                continue
            event = {"Records": [self._record(m) for m in messages]}
            try:
                failed = set(reported_failures(self.handler(event, None)))
            except Exception:
                with self._count:
                    self.failures += 1
                log.info("queue handler failed; the message comes back after its visibility timeout")
                continue
            # as Lambda with ReportBatchItemFailures: the messages reported failed stay and come back
            done = [m for m in messages if m["MessageId"] not in failed]
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)]
            if entries:
                self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
            with self._count:
                self.failures += len(failed)
                self.delivered += len(done)

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {},
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.arn,
            "awsRegion": self.region,
        }


class S3DropBridge:
    """Delivers ObjectCreated notifications for the drop folder as S3 would: polls the bucket's `imports/`
    prefix and calls the `import_object_created` Lambda function with an S3-shaped event for each new object
    (key and ETag). Deployed, infra/ wires the bucket notification to the same function."""

    def __init__(self, endpoint: str, region: str, bucket: str, function: Handler, poll_seconds: float = 1.0) -> None:
        self.s3 = boto3.client("s3", endpoint_url=endpoint, region_name=region)
        self.bucket = bucket
        self.function = function
        self.poll_seconds = poll_seconds
        self.seen: set[tuple[str, str]] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="s3-drop-bridge", daemon=True)

    def start(self) -> S3DropBridge:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def poll(self) -> int:
        """Notify every object not notified yet; returns how many."""
        notified = 0
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix="imports/"):
            for item in page.get("Contents", []):
                key, etag = item["Key"], item["ETag"].strip('"')
                if (key, etag) in self.seen:
                    continue
                obj = {"key": quote_plus(key, safe="/"), "size": item["Size"], "eTag": etag}
                record = {"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                          "s3": {"bucket": {"name": self.bucket}, "object": obj}}  # fmt: skip
                self.function({"Records": [record]}, None)
                self.seen.add((key, etag))
                notified += 1
        return notified

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll()
            except Exception:  # the bridge outlives a failing handler, as S3 retries a failed invocation
                log.exception("drop-folder notification failed; retrying")
            self._stop.wait(self.poll_seconds)


def create_queue(endpoint: str, region: str, name: str, visibility_seconds: int = 2) -> str:
    """A queue and its dead-letter queue, as infra/ creates them in AWS (short timeouts locally)."""
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=region)
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"})
    attributes = {"VisibilityTimeout": str(visibility_seconds), "RedrivePolicy": redrive}
    return str(sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])


def create_import_resources(endpoint: str, region: str, bucket: str, queue_name: str) -> str:
    """The import bucket and work queue (with its dead-letter queue), as infra/ creates them; the queue's URL."""
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=region)
    try:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    except ClientError as exc:  # a restarted local stack finds its bucket
        if exc.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
            raise
    return create_queue(endpoint, region, queue_name, visibility_seconds=30)


def lambda_shaped(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A GetRecords record as Lambda hands it over: epoch seconds (boto3 parses them into a datetime) and the
    stream's ARN as eventSourceARN."""
    body = dict(record["dynamodb"])
    moment = body.get("ApproximateCreationDateTime")
    if isinstance(moment, datetime):
        body["ApproximateCreationDateTime"] = moment.timestamp()
    return {**record, "dynamodb": body, "eventSourceARN": stream_arn}


def wait_until(check: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()
