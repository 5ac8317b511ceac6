"""SQS work queues, each with its dead-letter queue: encrypted (SSE-SQS), TLS-only."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_sqs as sqs
from constructs import Construct

MAX_RECEIVES = 5  # docs/architecture.md: after five receives a message moves to the dead-letter queue


class WorkQueue(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, name: str, visibility_timeout: cdk.Duration) -> None:
        super().__init__(scope, construct_id)
        self.name = name
        self.dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            queue_name=f"{name}-dlq",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            queue_name=name,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=visibility_timeout,
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dead_letters, max_receive_count=MAX_RECEIVES),
        )
