"""SIP session events from the edge → registrations, account status and History (docs/sip-events.md).

Runs on both storage backends. The edge's own tests (tests/sip_edge/) send these events from real SIP traffic;
here each rule of the control plane's side is pinned down with hand-made events."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.errors import Forbidden, InvalidCursor
from chalicelib.domain.model import Account, AccountStatus
from chalicelib.domain.registration import InvalidSipEvent, parse_sip_event
from chalicelib.handlers import sip_events
from chalicelib.services import accounts, registrations
from tests.conftest import World

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def event(account: Account, kind: str, at: datetime = T0, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": uuid.uuid4().hex,
        "kind": kind,
        "at": at.isoformat(),
        "username": account.username,
        "account_id": account.id,
        "contact": "sip:u@10.0.0.5:5062;transport=tcp",
        "source": "10.0.0.5:5062",
        "transport": "tcp",
        "user_agent": "PrivateGSM 5.0",
        "expires": 600 if kind == "registered" else 0,
        "reason": "",
        "edge": "edge-1",
    }
    body.update(fields)
    return body


@pytest.fixture
def account(world: World) -> Account:
    world.ctx.clock = lambda: T0 + timedelta(seconds=1)
    created = accounts.create_account(world.ctx, world.admin, world.account_data(username="1001")).account
    assert created.status is AccountStatus.CREATED
    return created


def status_of(world: World, account: Account) -> AccountStatus:
    stored = world.ctx.accounts.get(account.id)
    assert stored is not None
    return stored.status


def sip_history(world: World, account: Account) -> list[tuple[str, dict[str, str]]]:
    events = world.ctx.accounts.timeline(account.id, 50)
    return [(e.kind, e.detail) for e in reversed(events) if e.kind.startswith("sip_")]


def online(world: World) -> list[tuple[str, str]]:
    page = registrations.online_in_group(world.ctx, world.admin, world.group_a.id, 50, None)
    return [(r.username, r.contact) for r in page.items]


def test_registration_makes_the_account_connected_and_listed(world: World, account: Account) -> None:
    registrations.record_events(world.ctx, [event(account, "registered")])
    assert status_of(world, account) is AccountStatus.CONNECTED
    assert online(world) == [("1001", "sip:u@10.0.0.5:5062;transport=tcp")]
    [(kind, detail)] = sip_history(world, account)
    assert kind == "sip_registered"
    assert detail == {
        "event": "Registered",
        "source": "10.0.0.5:5062",
        "transport": "TCP",
        "user_agent": "PrivateGSM 5.0",
        "expires": "600 s",
    }


def test_the_last_contact_going_away_moves_the_account_back_to_activated(world: World, account: Account) -> None:
    second = "sip:u@10.0.0.6:5060"
    registrations.record_events(
        world.ctx, [event(account, "registered"), event(account, "registered", contact=second, transport="udp")]
    )
    registrations.record_events(world.ctx, [event(account, "unregistered", T0 + timedelta(seconds=5))])
    assert status_of(world, account) is AccountStatus.CONNECTED  # the second contact is still online
    assert online(world) == [("1001", second)]
    later = T0 + timedelta(seconds=9)
    registrations.record_events(world.ctx, [event(account, "expired", later, contact=second, transport="udp")])
    assert status_of(world, account) is AccountStatus.ACTIVATED
    assert online(world) == []
    assert [kind for kind, _ in sip_history(world, account)] == [
        "sip_registered",
        "sip_registered",
        "sip_unregistered",
        "sip_expired",
    ]


def test_a_duplicate_event_is_recorded_once(world: World, account: Account) -> None:
    once = event(account, "registered")
    registrations.record_events(world.ctx, [once])
    version = world.ctx.accounts.get(account.id).version  # type: ignore[union-attr]
    registrations.record_events(world.ctx, [once, dict(once)])
    assert len(sip_history(world, account)) == 1
    assert world.ctx.accounts.get(account.id).version == version  # type: ignore[union-attr]
    assert online(world) == [("1001", "sip:u@10.0.0.5:5062;transport=tcp")]


@pytest.mark.both_backends
def test_an_older_registration_arriving_after_the_unregistration_does_not_bring_it_back(
    world: World, account: Account
) -> None:
    registrations.record_events(world.ctx, [event(account, "unregistered", T0 + timedelta(seconds=10))])
    registrations.record_events(world.ctx, [event(account, "registered", T0)])
    assert online(world) == []
    assert status_of(world, account) is AccountStatus.CREATED  # never seen online
    assert len(sip_history(world, account)) == 2  # both happened, in their own time order
    assert [kind for kind, _ in sip_history(world, account)] == ["sip_registered", "sip_unregistered"]


def test_an_expired_registration_is_not_listed_even_if_its_event_is_lost(world: World, account: Account) -> None:
    registrations.record_events(world.ctx, [event(account, "registered", expires=60)])
    assert online(world) != []
    world.ctx.clock = lambda: T0 + timedelta(seconds=61)
    assert online(world) == []
    assert registrations.for_account(world.ctx, account) == []


def test_refusals_are_on_the_history_with_their_reason_and_change_nothing_else(world: World, account: Account) -> None:
    registrations.record_events(
        world.ctx, [event(account, "refused", reason="denied", contact="", expires=0, source="203.0.113.9:5060")]
    )
    assert online(world) == []
    assert status_of(world, account) is AccountStatus.CREATED
    [(kind, detail)] = sip_history(world, account)
    assert kind == "sip_refused"
    assert detail["reason"] == "address in the Deny list"
    assert detail["source"] == "203.0.113.9:5060"


def test_malformed_events_are_dropped_and_counted_and_unknown_users_change_nothing(
    world: World, account: Account
) -> None:
    unknown = event(account, "refused", reason="unknown_user", account_id="", username="nobody")
    outcome = registrations.record_events(
        world.ctx, [{"kind": "registered"}, "not an object", event(account, "teleported"), unknown]
    )
    assert (outcome.recorded, outcome.dropped) == (1, 3)
    assert sip_history(world, account) == []


def test_the_queue_handler_drops_bodies_that_are_not_json_and_records_the_rest(
    world: World, account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sip_events.bootstrap, "context", lambda: world.ctx)

    class Record:
        def __init__(self, body: str) -> None:
            self.body = body

    outcome = sip_events.record_records([Record("{not json"), Record(json.dumps(event(account, "registered")))])
    assert (outcome.recorded, outcome.dropped) == (1, 0)
    assert status_of(world, account) is AccountStatus.CONNECTED


def test_operators_see_only_their_groups_registrations(world: World, account: Account) -> None:
    registrations.record_events(world.ctx, [event(account, "registered")])
    page = registrations.online_in_group(world.ctx, world.viewer_a, world.group_a.id, 50, None)
    assert [r.username for r in page.items] == ["1001"]
    with pytest.raises(Forbidden):
        registrations.online_in_group(world.ctx, world.operator_a, world.group_b.id, 50, None)
    with pytest.raises(InvalidCursor):
        registrations.online_in_group(world.ctx, world.admin, world.group_a.id, 50, "garbage")


def test_registrations_page_through_a_group(world: World, account: Account) -> None:
    contacts = [f"sip:u@10.0.0.{n}:5060" for n in range(1, 6)]
    registrations.record_events(world.ctx, [event(account, "registered", contact=c) for c in contacts])
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = registrations.online_in_group(world.ctx, world.admin, world.group_a.id, 2, cursor)
        seen += [r.contact for r in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(seen) == sorted(contacts)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"at": "yesterday"}, "ISO 8601"),
        ({"at": "2026-11-25T12:00:00"}, "time zone"),
        ({"transport": "sctp"}, "transport"),
        ({"expires": "600"}, "expires"),
        ({"contact": ""}, "contact"),
        ({"id": ""}, "'id' is required"),
        ({"user_agent": "x" * 600}, "user_agent"),
    ],
)
def test_parsing_says_what_is_wrong(change: dict[str, Any], message: str) -> None:
    body = {"id": "e1", "kind": "registered", "at": T0.isoformat(), "username": "1001", "contact": "sip:u@h"}
    body["expires"] = 600
    body.update(change)
    with pytest.raises(InvalidSipEvent, match=message):
        parse_sip_event(body)
