"""Lambda's partial batch responses (`ReportBatchItemFailures`, set on every queue and stream event source by
infra/application.py): a handler says which records failed, and only those come again; the others are done.

SQS: each message is handled on its own; one that raises is reported by its message id (and, on a FIFO queue,
so is every message after it: they must not overtake it). DynamoDB Streams: the batch is reported from its
first failed record on (Lambda checkpoints before that sequence number and retries from there)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

log = logging.getLogger(__name__)

BatchResponse = dict[str, list[dict[str, str]]]
FAILURES = "batchItemFailures"


def response(failed_ids: Sequence[str]) -> BatchResponse:
    return {FAILURES: [{"itemIdentifier": item} for item in failed_ids]}


def message_id(record: Any) -> str:
    """A Chalice SQSRecord's message id (Chalice keeps it only in the record's dict)."""
    return str(record.to_dict()["messageId"])


def each_message(records: Iterable[Any], handle: Callable[[Any], object], *, ordered: bool = False) -> BatchResponse:
    """`handle(record)` for every message; those that raised are reported. `ordered` (FIFO): after the first
    failure the rest are not handled but reported, to come again in their order."""
    failed: list[str] = []
    for record in records:
        if ordered and failed:
            failed.append(message_id(record))
            continue
        try:
            handle(record)
        except Exception:  # any failure: this message comes again, up to the queue's receive limit, then the DLQ
            log.exception("message %s failed; SQS delivers it again", message_id(record))
            failed.append(message_id(record))
    return response(failed)
