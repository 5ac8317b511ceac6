"""The audit trail on both backends: operator actions recorded append-only with who, when, from where and what,
chained by hashes; the check finds a changed, removed or inserted entry; the listing filters."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from chalicelib import cli
from chalicelib.domain.audit import chained, verify
from chalicelib.domain.errors import Forbidden, ValidationFailed
from chalicelib.services import accounts, audit, bulk, operators
from chalicelib.services.context import Context
from tests.conftest import World


def test_operator_actions_are_chained_with_who_when_where_and_what(world: World) -> None:
    ctx = world.ctx
    with audit.origin("203.0.113.9"):
        account = accounts.create_account(ctx, world.admin, world.account_data(full_name="Ada")).account
        accounts.update_account(ctx, world.admin, account.id, {"full_name": "Ada King", "password": "sip-secret-2"})
        bulk.run(ctx, world.operator_a, {"action": "disable", "ids": [account.id]})
    trail = list(ctx.audit.in_order())
    mine = [e for e in trail if e.target_id == account.id or e.action.startswith("account.bulk")]
    assert [e.action for e in mine] == ["account.create", "account.update", "account.disable", "account.bulk.disable"]
    update = mine[1]
    assert (update.actor, update.source) == ("admin", "203.0.113.9")
    assert update.detail["full_name.before"] == "Ada" and update.detail["full_name.after"] == "Ada King"
    assert "password" in update.detail["fields"] and "sip-secret-2" not in str(update.detail)
    assert mine[3].actor == "op-a" and mine[3].detail["done"] == "1"
    check = audit.check(ctx)
    assert check.intact and check.entries == len(trail)
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(trail))


def test_the_check_finds_a_changed_a_removed_and_an_inserted_entry(world: World) -> None:
    ctx = world.ctx
    for name in ("a", "b", "c"):
        audit.record(ctx, "admin", "group.create", "group", name)
    trail = list(ctx.audit.in_order())
    changed = [*trail[:-2], replace(trail[-2], actor="someone-else"), trail[-1]]
    assert not verify(changed).intact and "does not match its hash" in verify(changed).problems[0]
    assert not verify([*trail[:-2], trail[-1]]).intact  # one removed
    forged = chained(replace(trail[0], action="forged"), trail[-3])
    assert not verify([*trail[:-2], forged, trail[-2], trail[-1]]).intact  # one inserted


def test_two_writers_never_extend_the_same_head(ctx: Context) -> None:
    first = audit.record(ctx, "admin", "group.create", "group", "g1")
    late = chained(replace(first, action="late"), None)  # built on an old head: seq 1 is taken
    assert ctx.audit.append(late) is False
    assert audit.record(ctx, "admin", "group.create", "group", "g2").seq == first.seq + 1


def test_the_listing_filters_by_operator_target_and_time_for_administrators(world: World) -> None:
    ctx = world.ctx
    account = accounts.create_account(ctx, world.operator_a, world.account_data()).account
    accounts.set_enabled(ctx, world.admin, account.id, False)
    by_op = audit.events(ctx, world.admin, {"operator": "op-a"}, 50, None).items
    assert [e.action for e in by_op] == ["account.create"]
    on_target = audit.events(ctx, world.admin, {"target": account.id}, 50, None).items
    assert [e.action for e in on_target] == ["account.disable", "account.create"]
    later = audit.events(ctx, world.admin, {"since": "2999-01-01T00:00:00Z"}, 50, None).items
    assert later == []
    page = audit.events(ctx, world.admin, {}, 1, None)
    assert len(page.items) == 1 and page.next_cursor
    assert audit.events(ctx, world.admin, {}, 1, page.next_cursor).items[0].seq == page.items[0].seq - 1
    with pytest.raises(Forbidden):
        audit.events(ctx, world.operator_a, {}, 50, None)


def test_the_listing_runs_oldest_first_filters_by_kind_and_counts_its_total(world: World) -> None:
    ctx = world.ctx
    for name in ("g1", "g2", "g3"):
        world.make_group(name)
    head = ctx.audit.head()
    assert head is not None
    newest = audit.events(ctx, world.admin, {}, 2, None)
    assert newest.total == head.seq and [e.seq for e in newest.items] == [head.seq, head.seq - 1]
    oldest = audit.events(ctx, world.admin, {"dir": "asc"}, 2, None)
    assert [e.seq for e in oldest.items] == [1, 2] and oldest.next_cursor == "2"
    after = audit.events(ctx, world.admin, {"dir": "asc"}, 2, oldest.next_cursor)
    assert [e.seq for e in after.items] == [3, 4]
    made = audit.events(ctx, world.admin, {"kind": "group", "dir": "asc"}, 50, None)
    assert [e.action for e in made.items] == ["group.create"] * 5 and made.total == 5  # Group A, B and g1-g3
    assert [e.seq for e in made.items] == sorted(e.seq for e in made.items)
    with pytest.raises(ValidationFailed) as refused:
        audit.events(ctx, world.admin, {"kind": "weather", "dir": "up"}, 50, None)
    assert {e.field for e in refused.value.errors} == {"kind", "dir"}  # every refusal at once


def test_logins_are_in_the_trail_and_the_check_command_reports(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    from chalicelib import bootstrap

    ctx = world.ctx
    with audit.origin("198.51.100.1"):
        operators.login(ctx, {"username": "admin", "password": "admin-password-1"}, "198.51.100.1", "ua")
    last = ctx.audit.head()
    assert last is not None and (last.action, last.actor, last.source) == ("login.success", "admin", "198.51.100.1")
    bootstrap.use(ctx)
    try:
        assert cli.main(["check-audit"]) == 0
        assert "the chain is intact" in capsys.readouterr().out
    finally:
        bootstrap.use(None)
