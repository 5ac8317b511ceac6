"""The SIP events queue's consumer: each message body is one event of docs/sip-events.md.

A body that is not JSON is logged and dropped (a redelivery cannot fix it); a storage error raises, so SQS
delivers the batch again, which is harmless because recording an event is idempotent."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from chalicelib import bootstrap
from chalicelib.services import calls, registrations

log = logging.getLogger(__name__)


def _parsed(bodies: Iterable[str]) -> Iterable[Any]:
    for body in bodies:
        try:
            yield json.loads(body)
        except ValueError:
            log.warning("dropped a SIP event body that is not JSON (%d bytes)", len(body))


def record_records(records: Iterable[Any]) -> registrations.Outcome:
    """Session events go to the registrations, call events to the call records (docs/sip-events.md)."""
    ctx = bootstrap.context()
    events = list(_parsed(record.body for record in records))
    calls.record_events(ctx, [event for event in events if calls.is_call_event(event)])
    return registrations.record_events(ctx, [event for event in events if not calls.is_call_event(event)])


def record_record(record: Any) -> registrations.Outcome:
    """One message (app.py reports it failed if this raises: only it comes again)."""
    return record_records([record])
