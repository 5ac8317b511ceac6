"""Call records (CDR): one record per call attempt, merged from the SIP edge's call events (docs/calls.md).

Events arrive at least once and in any order; `merge` makes the record from any of them and lets each of the
others add what it knows, so duplicates and reordering end in the same record."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

MAX_EVENT_IDS = 20  # a call has three or four events; duplicates beyond this many are still harmless


class CallResult(StrEnum):
    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    UNAVAILABLE = "unavailable"
    NOT_FOUND = "not_found"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    FAILED = "failed"


class MediaSecurity(StrEnum):
    SDES = "sdes"
    ZRTP = "zrtp"
    NONE = "none"


class Direction(StrEnum):
    PLACED = "placed"
    RECEIVED = "received"


CALL_EVENT_KINDS = ("call_started", "call_answered", "call_ended")


@dataclass(frozen=True, kw_only=True)
class CallFacts:
    """What every call event repeats and the record keeps (declared once for both)."""

    dialled: str = ""
    edge: str = ""
    caller_account_id: str = ""
    caller_username: str = ""
    caller_transport: str = ""
    caller_address: str = ""
    callee_account_id: str = ""
    callee_username: str = ""
    callee_transport: str = ""
    callee_address: str = ""
    media_security: str = ""  # sdes, zrtp or none once known (the edge knows it after both accounts are found)


_FACTS = tuple(f.name for f in fields(CallFacts))


@dataclass(frozen=True, kw_only=True)
class CallEvent(CallFacts):
    """One call event from the edge (docs/sip-events.md, "Call events")."""

    id: str
    kind: str
    at: datetime
    call_id: str
    sip_code: int = 0
    result: str = ""
    reason: str = ""

    @classmethod
    def parse(cls, data: dict[str, Any]) -> CallEvent:
        try:
            kind, call_id = str(data["kind"]), str(data["call_id"])
            at = datetime.fromisoformat(str(data["at"]))
        except (KeyError, ValueError) as exc:
            raise ValueError(f"not a call event: {exc}") from exc
        if kind not in CALL_EVENT_KINDS or not call_id or at.tzinfo is None:
            raise ValueError("not a call event")
        text = {name: str(data.get(name) or "") for name in (*_FACTS, "result", "reason")}
        return cls(id=str(data.get("id") or ""), kind=kind, at=at, call_id=call_id,
                   sip_code=int(data.get("sip_code") or 0), **text)  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class CallRecord(CallFacts):
    call_id: str
    started_at: datetime
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    result: str = ""  # empty while the call goes on
    sip_code: int = 0
    event_ids: tuple[str, ...] = field(default=())
    version: int = 0  # 0: not stored yet

    @property
    def duration_seconds(self) -> int:
        if self.answered_at is None or self.ended_at is None:
            return 0
        return max(0, int((self.ended_at - self.answered_at).total_seconds()))

    @property
    def in_progress(self) -> bool:
        return self.ended_at is None


def _earliest(first: datetime | None, second: datetime) -> datetime:
    return second if first is None else min(first, second)


def _parties(record: CallRecord, event: CallEvent) -> dict[str, Any]:
    """Each text field: what the record knows, else what the event says."""
    known = {name: getattr(record, name) or getattr(event, name) for name in _FACTS}
    if record.media_security == MediaSecurity.NONE.value and event.media_security:
        known["media_security"] = event.media_security  # "none" came from an event before the accounts were known
    return known


def merge(record: CallRecord | None, event: CallEvent) -> CallRecord | None:
    """The record with this event in it, or None when the event is in it already (a duplicate)."""
    if record is not None and event.id and event.id in record.event_ids:
        return None
    base = record or CallRecord(call_id=event.call_id, started_at=event.at)
    # every event is at or after the start: the earliest seen dates the call until its call_started arrives
    merged = replace(base, started_at=min(base.started_at, event.at), **_parties(base, event))
    if event.kind == "call_answered":
        merged = replace(merged, answered_at=_earliest(merged.answered_at, event.at))
    if event.kind == "call_ended":
        merged = _ended(merged, event)
    ids = (*merged.event_ids, event.id)[-MAX_EVENT_IDS:] if event.id else merged.event_ids
    return replace(merged, event_ids=ids)


def _ended(record: CallRecord, event: CallEvent) -> CallRecord:
    """The first end wins (a BYE and the dialog's end may both be reported); an end before any start still
    dates the attempt."""
    if record.ended_at is not None and record.ended_at <= event.at:
        return record
    return replace(record, ended_at=event.at, result=event.result, sip_code=event.sip_code)
