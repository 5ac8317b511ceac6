"""Call records (CDR): the SIP edge's call events merged into one record per call, and the account's calls
placed and received (docs/calls.md)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.calls import CALL_EVENT_KINDS, CallEvent, CallRecord, Direction, merge
from chalicelib.domain.errors import ConcurrentModification, FieldError, ValidationFailed
from chalicelib.domain.model import Operator, Page
from chalicelib.services import accounts
from chalicelib.services.context import Context

log = logging.getLogger(__name__)
_ATTEMPTS = 8  # concurrent events of one call (start and answer in one batch) retry the read-merge-write


def is_call_event(raw: Any) -> bool:
    return isinstance(raw, dict) and raw.get("kind") in CALL_EVENT_KINDS


def record_events(ctx: Context, events: Iterable[Any]) -> int:
    """Merge the edge's call events (parsed JSON bodies) into their records; returns how many changed a record.
    Duplicates and reordered events are harmless; storage errors propagate so that the queue redelivers."""
    changed = 0
    for raw in events:
        try:
            event = CallEvent.parse(raw)
        except (ValueError, TypeError) as exc:
            log.warning("dropped a malformed call event: %s", exc)
            continue
        changed += int(_apply(ctx, event))
    return changed


def _apply(ctx: Context, event: CallEvent) -> bool:
    for _ in range(_ATTEMPTS):
        stored = ctx.calls.get(event.call_id)
        merged = merge(stored, event)
        if merged is None:
            return False  # this event is in the record already
        if ctx.calls.put(_next_version(merged, stored)):
            return True
    raise ConcurrentModification("The call record kept changing; the event will be delivered again.")


def _next_version(record: CallRecord, stored: CallRecord | None) -> CallRecord:
    return replace(record, version=(stored.version if stored else 0) + 1)


def list_calls(
    ctx: Context, actor: Operator, account_id: str, direction: str, limit: int, cursor: str | None
) -> Page[CallRecord]:
    """The account's calls placed or received, newest first (the permissions of the account itself)."""
    accounts.get_account(ctx, actor, account_id)
    try:
        wanted = Direction(direction or Direction.PLACED.value)
    except ValueError as exc:
        raise ValidationFailed([FieldError("direction", "invalid_choice", "Use placed or received.")]) from exc
    try:
        return ctx.calls.for_account(account_id, wanted, limit, cursor)
    except ValueError as exc:
        raise ValidationFailed([FieldError("cursor", "invalid_cursor", "The cursor is not valid.")]) from exc


IN_PROGRESS_HOURS = 4  # a record still without its end after this long lost its last event: not "on a call"


def in_progress(ctx: Context, actor: Operator, account_id: str) -> CallRecord | None:
    """The account's call going on now: its newest record (placed or received) that has a start and no end,
    started within the last few hours (a record whose end event was lost is not shown as a call for ever)."""
    accounts.get_account(ctx, actor, account_id)
    since = ctx.clock() - timedelta(hours=IN_PROGRESS_HOURS)
    newest = [ctx.calls.for_account(account_id, d, 5, None).items for d in Direction]
    going = [r for page in newest for r in page if r.in_progress and r.started_at >= since]
    return max(going, key=_started) if going else None


def _started(record: CallRecord) -> datetime:
    return record.started_at
