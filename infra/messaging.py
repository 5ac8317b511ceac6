"""SQS work queues, each with its dead-letter queue: encrypted (SSE-SQS), TLS-only; optionally FIFO."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_sqs as sqs
from constructs import Construct

MAX_RECEIVES = 5  # docs/architecture.md: after five receives a message moves to the dead-letter queue
FIFO_SUFFIX = ".fifo"  # SQS requires it on every FIFO queue's name


class WorkQueue(Construct):
    """`name` is the queue's name without the `.fifo` suffix; `self.name` is its full name (what the app's
    `@app.on_sqs_message(queue=...)` gets). A FIFO queue's dead-letter queue is FIFO too (SQS requires it);
    deduplication is by the `MessageDeduplicationId` the sender gives, not by content (two identical texts to
    the same phone are two SMS)."""

    def __init__(
        self, scope: Construct, construct_id: str, *, name: str, visibility_timeout: cdk.Duration, fifo: bool = False
    ) -> None:
        super().__init__(scope, construct_id)
        suffix = FIFO_SUFFIX if fifo else ""
        self.name = f"{name}{suffix}"
        self.fifo = fifo
        self.dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            queue_name=f"{name}-dlq{suffix}",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
            fifo=fifo or None,
            content_based_deduplication=False if fifo else None,
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            queue_name=self.name,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=visibility_timeout,
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dead_letters, max_receive_count=MAX_RECEIVES),
            fifo=fifo or None,
            content_based_deduplication=False if fifo else None,
        )


def failure_queue(scope: Construct, construct_id: str, *, name: str) -> sqs.Queue:
    """Where Lambda puts what an event source gave up on (the stream's batches, failed S3 notifications): a
    dead-letter queue in effect, read by the operator (infra/README.md, runbook), kept 14 days."""
    return sqs.Queue(
        scope,
        construct_id,
        queue_name=name,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=cdk.Duration.days(14),
    )
