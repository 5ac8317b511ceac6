"""The control plane's side of an edge fleet and of the edge's lockout, on both storage backends: an end reported
by an edge the phone has left never removes the registration another edge holds; `locked_out` sets the account's
marker; an operator lifts it, and the edges read when (tests/api/test_sip_lockout_api.py: the same over HTTP)."""

from __future__ import annotations

from datetime import timedelta

from chalicelib.domain.errors import Forbidden
from chalicelib.domain.model import Account
from chalicelib.services import registrations, sip_lockout
from tests.conftest import World
from tests.test_registrations import T0, account, event, online, sip_history

__all__ = ["account"]  # the fixture, used by name

MOVED = {"contact": "sip:u@10.0.0.5:5062;transport=tcp"}


def test_a_stale_edges_expiry_does_not_remove_the_registration_another_edge_holds(
    world: World, account: Account
) -> None:
    registrations.record_events(world.ctx, [event(account, "registered", T0, edge="edge-a", **MOVED)])
    registrations.record_events(world.ctx, [event(account, "registered", T0 + timedelta(seconds=5), edge="edge-b")])
    registrations.record_events(world.ctx, [event(account, "expired", T0 + timedelta(seconds=60), edge="edge-a")])
    [live] = world.ctx.registrations.for_account(account.id)
    assert (live.active, live.edge) == (True, "edge-b")
    assert online(world) == [("1001", MOVED["contact"])]
    registrations.record_events(world.ctx, [event(account, "unregistered", T0 + timedelta(seconds=70), edge="edge-b")])
    assert online(world) == []  # the holder's own end does


def test_a_lockout_event_marks_the_account_and_a_lift_clears_it(world: World, account: Account) -> None:
    world.ctx.clock = lambda: T0 + timedelta(seconds=2)
    locked = event(account, "locked_out", T0, contact="", expires=900, reason="too_many_failures")
    registrations.record_events(world.ctx, [locked, locked])  # a duplicate changes nothing
    stored = world.ctx.accounts.get(account.id)
    assert stored is not None and stored.sip_locked_until == T0 + timedelta(seconds=900)
    assert stored.sip_locked(world.ctx.clock()) and world.ctx.registrations.for_account(account.id) == []
    assert [kind for kind, _ in sip_history(world, account)] == ["sip_locked_out"]
    try:
        sip_lockout.lift(world.ctx, world.viewer_a, account.id)
        raise AssertionError("a viewer lifted a lockout")
    except Forbidden:
        pass
    lifted = sip_lockout.lift(world.ctx, world.admin, account.id)
    assert lifted.sip_locked_until is None and lifted.sip_lock_lifted_at == T0 + timedelta(seconds=2)
    assert sip_lockout.lift(world.ctx, world.admin, account.id) == lifted  # idempotent
    registrations.record_events(world.ctx, [locked])  # the old lockout arriving late does not come back
    again = world.ctx.accounts.get(account.id)
    assert again is not None and not again.sip_locked(world.ctx.clock())
