"""The SMS queue's consumer: one message per invocation, paced to the configured rate.

A provider error worth retrying raises; the message is then reported failed (app.py, handlers/batch.py), so SQS
delivers it again after its visibility timeout (and, after the queue's maximum receives, moves it to the
dead-letter queue). With the function's
concurrency limited to 1 (infra), the pacing is the global sending rate."""

from __future__ import annotations

import threading
import time
from typing import Any

from chalicelib import bootstrap
from chalicelib.adapters.sqs import queued_sms_of
from chalicelib.services import activation

_pace_lock = threading.Lock()
_next_slot = [0.0]


def _pace(rate_per_second: float) -> None:
    if rate_per_second <= 0:
        return
    with _pace_lock:
        now = time.monotonic()
        wait = _next_slot[0] - now
        _next_slot[0] = max(now, _next_slot[0]) + 1.0 / rate_per_second
    if wait > 0:
        time.sleep(wait)


def deliver_record(record: Any) -> None:
    """One queued SMS (a Chalice SQSRecord); raises when the provider should be tried again."""
    ctx = bootstrap.context()
    _pace(ctx.settings.sms_rate_per_second)
    activation.deliver(ctx, queued_sms_of(record.body))
