"""Call records: the CallStore contract on memory and moto's DynamoDB, and the merging of the edge's call
events (duplicated, reordered) into one record, through the service."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.calls import CallRecord, Direction
from chalicelib.domain.errors import NotFound, ValidationFailed
from chalicelib.services import accounts, calls
from chalicelib.services.context import Context
from tests.conftest import World

T0 = datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC)


def _event(kind: str, call_id: str, seconds: float, **fields: Any) -> dict[str, Any]:
    return {"id": uuid.uuid4().hex, "kind": kind, "at": (T0 + timedelta(seconds=seconds)).isoformat(),
            "call_id": call_id, "edge": "edge-1", "dialled": "bob", "caller_account_id": "acc-a",
            "caller_username": "alice", "callee_account_id": "acc-b", "callee_username": "bob",
            "media_security": "sdes", **fields}  # fmt: skip


def _call(call_id: str) -> list[dict[str, Any]]:
    return [
        _event("call_started", call_id, 0),
        _event("call_answered", call_id, 3, sip_code=200),
        _event("call_ended", call_id, 63, sip_code=200, result="answered", reason="bye"),
    ]


class TestCallStoreContract:
    def test_put_is_conditional_on_the_version(self, ctx: Context) -> None:
        record = CallRecord(call_id=uuid.uuid4().hex, started_at=T0, caller_account_id="acc-a", version=1)
        assert ctx.calls.put(record)
        assert not ctx.calls.put(record)  # version 1 again: someone wrote first
        assert ctx.calls.put(CallRecord(**{**record.__dict__, "version": 2, "result": "busy", "sip_code": 486}))
        stored = ctx.calls.get(record.call_id)
        assert stored is not None and (stored.version, stored.result, stored.sip_code) == (2, "busy", 486)
        assert ctx.calls.get("no-such-call") is None

    def test_lists_per_account_and_direction_newest_first_with_paging(self, ctx: Context) -> None:
        caller, callee = f"acc-{uuid.uuid4().hex[:8]}", f"acc-{uuid.uuid4().hex[:8]}"
        for minute in range(5):
            ctx.calls.put(CallRecord(call_id=f"c{minute}-{caller}", started_at=T0 + timedelta(minutes=minute),
                                     caller_account_id=caller, callee_account_id=callee, version=1))  # fmt: skip
        ctx.calls.put(CallRecord(call_id=f"nobody-{caller}", started_at=T0, caller_account_id=caller, version=1))
        first = ctx.calls.for_account(caller, Direction.PLACED, 4, None)
        assert [r.call_id for r in first.items] == [f"c{m}-{caller}" for m in (4, 3, 2, 1)]
        assert first.next_cursor
        rest = ctx.calls.for_account(caller, Direction.PLACED, 4, first.next_cursor)
        assert len(rest.items) == 2 and rest.next_cursor is None
        received = ctx.calls.for_account(callee, Direction.RECEIVED, 10, None)
        assert [r.call_id for r in received.items] == [f"c{m}-{caller}" for m in (4, 3, 2, 1, 0)]
        assert ctx.calls.for_account(callee, Direction.PLACED, 10, None).items == []


class TestCallEventsMerge:
    @pytest.mark.parametrize("order", list(itertools.permutations(range(3)))[:4])
    def test_any_order_and_duplicates_make_one_record(self, ctx: Context, order: tuple[int, ...]) -> None:
        call_id = uuid.uuid4().hex
        events = _call(call_id)
        calls.record_events(ctx, [events[i] for i in order] + events)  # every event twice
        record = ctx.calls.get(call_id)
        assert record is not None
        assert (record.started_at, record.answered_at, record.ended_at) == (
            T0, T0 + timedelta(seconds=3), T0 + timedelta(seconds=63))  # fmt: skip
        assert (record.duration_seconds, record.result, record.sip_code) == (60, "answered", 200)
        assert (record.caller_username, record.callee_username, record.media_security) == ("alice", "bob", "sdes")
        assert record.version == 3  # three events changed it; the duplicates did not

    def test_an_attempt_the_edge_refused_is_one_event(self, ctx: Context) -> None:
        call_id = uuid.uuid4().hex
        calls.record_events(ctx, [_event("call_ended", call_id, 1, callee_account_id="", callee_username="",
                                         dialled="nobody", sip_code=404, result="not_found")])  # fmt: skip
        record = ctx.calls.get(call_id)
        assert record is not None and (record.result, record.sip_code, record.duration_seconds) == ("not_found", 404, 0)
        assert record.ended_at == record.started_at

    def test_a_malformed_event_is_dropped(self, ctx: Context) -> None:
        assert (
            calls.record_events(ctx, [{"kind": "call_started"}, {"kind": "call_ended", "call_id": "x", "at": "no"}])
            == 0
        )


def test_listing_checks_the_account_and_the_query(world: World) -> None:
    account = accounts.create_account(world.ctx, world.admin, world.account_data(username="calls1")).account
    events = [_event("call_started", "c-1", 0, caller_account_id=account.id)]
    calls.record_events(world.ctx, events)
    page = calls.list_calls(world.ctx, world.admin, account.id, "placed", 10, None)
    assert [r.call_id for r in page.items] == ["c-1"]
    assert page.items[0].in_progress
    with pytest.raises(ValidationFailed):
        calls.list_calls(world.ctx, world.admin, account.id, "sideways", 10, None)
    with pytest.raises(NotFound):
        calls.list_calls(world.ctx, world.admin, "no-such-account", "placed", 10, None)
