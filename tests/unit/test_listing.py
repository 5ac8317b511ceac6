"""The lists that are read whole and ordered in the service (domain/listing.py): a column each way, filters, a
page with the total, every refused parameter at once, a foreign cursor refused."""

from __future__ import annotations

import pytest

from chalicelib.domain.errors import InvalidCursor, ValidationFailed
from chalicelib.domain.model import Role
from chalicelib.services import operators
from tests.conftest import World


def test_operators_sort_filter_and_page_with_their_total(memory_world: World) -> None:
    world = memory_world
    for i in range(5):
        world.make_operator(f"staff{i}", Role.VIEWER if i % 2 else Role.OPERATOR, [])
    everyone = operators.operator_listing(world.ctx, world.admin, {}, 3, None)
    assert [o.username for o in everyone.items] == ["admin", "op-a", "staff0"] and everyone.total == 8
    rest = operators.operator_listing(world.ctx, world.admin, {}, 3, everyone.next_cursor)
    assert [o.username for o in rest.items] == ["staff1", "staff2", "staff3"] and rest.next_cursor == "6"
    viewers = operators.operator_listing(world.ctx, world.admin, {"role": "viewer", "dir": "desc"}, 10, None)
    assert [o.username for o in viewers.items] == ["viewer-a", "staff3", "staff1"] and viewers.total == 3
    assert viewers.next_cursor is None


def test_every_refused_parameter_is_reported_at_once_and_a_foreign_cursor_is_refused(memory_world: World) -> None:
    ctx, admin = memory_world.ctx, memory_world.admin
    with pytest.raises(ValidationFailed) as refused:
        operators.operator_listing(ctx, admin, {"sort": "password_hash", "role": "root", "enabled": "maybe"}, 10, None)
    assert {e.field for e in refused.value.errors} == {"sort", "role", "enabled"}
    with pytest.raises(InvalidCursor):
        operators.operator_listing(ctx, admin, {}, 10, "eyJrIjoxfQ")
