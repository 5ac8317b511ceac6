"""The accounts table's stream feeds the index end to end: moto's stream, the local event bridge, the app's
@app.on_dynamodb_record handler, tantivy. Also: redelivery, reordering, an engine that is down, the rebuild."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pytest

import app
from chalicelib import bootstrap, cli
from chalicelib.domain.model import Page
from chalicelib.domain.search import Query
from chalicelib.services import accounts, search
from chalicelib.services.context import Context
from chalicelib.services.search_port import (
    BY_USERNAME,
    IndexChange,
    Listing,
    SearchDocument,
    SearchIndex,
    SearchUnavailable,
)
from devstack.events import StreamBridge, wait_until
from tests.conftest import World, make_context
from tests.events import load_event


@dataclass
class FlakyIndex:
    """A real index behind a switch that makes it unreachable, like an OpenSearch outage."""

    inner: SearchIndex
    down: bool = False

    def apply(self, changes: Sequence[IndexChange]) -> None:
        if self.down:
            raise SearchUnavailable("down for the test")
        self.inner.apply(changes)

    def search(
        self, group_id: str, query: Query | None, limit: int, cursor: str | None, listing: Listing = BY_USERNAME
    ) -> Page[SearchDocument]:
        if self.down:
            raise SearchUnavailable("down for the test")
        return self.inner.search(group_id, query, limit, cursor, listing)

    def rebuild(self, batches: Callable[[], Iterable[Sequence[IndexChange]]]) -> None:
        if self.down:
            raise SearchUnavailable("down for the test")
        self.inner.rebuild(batches)

    def clear(self) -> None:
        self.inner.clear()


@pytest.fixture
def pipeline(moto_url: str) -> Iterator[tuple[World, FlakyIndex, StreamBridge]]:
    base = make_context("dynamodb", moto_url)
    flaky = FlakyIndex(base.search)
    ctx = replace(base, search=flaky)
    bootstrap.use(ctx)
    bridge = StreamBridge(moto_url, "eu-west-1", ctx.settings.table_name("accounts"), app.index_accounts)
    bridge.poll_seconds = 0.05
    bridge.start()
    yield World(ctx), flaky, bridge
    bridge.stop()
    bootstrap.use(None)


def names(ctx: Context, world: World, text: str) -> list[str]:
    return [d.full_name for d in search.search_accounts(ctx, world.admin, world.group_a.id, text, 50, None).items]


def test_creates_updates_and_deletes_reach_the_index(pipeline: tuple[World, FlakyIndex, StreamBridge]) -> None:
    world, _, _ = pipeline
    ctx = world.ctx
    account = accounts.create_account(ctx, world.admin, world.account_data(full_name="Marco Rossi")).account
    assert wait_until(lambda: names(ctx, world, "Marco") == ["Marco Rossi"])
    accounts.update_account(ctx, world.admin, account.id, {"full_name": "Marco Neri"})
    assert wait_until(lambda: names(ctx, world, "Neri") == ["Marco Neri"])
    assert names(ctx, world, "Rossi") == []
    accounts.delete_account(ctx, world.admin, account.id)
    assert wait_until(lambda: names(ctx, world, "Marco") == [])


def test_the_index_catches_up_after_an_outage(pipeline: tuple[World, FlakyIndex, StreamBridge]) -> None:
    world, flaky, bridge = pipeline
    flaky.down = True
    created = accounts.create_account(world.ctx, world.admin, world.account_data(full_name="Ada Lovelace"))
    assert created.account.enabled  # writes succeed while the engine is down
    with pytest.raises(SearchUnavailable):
        search.search_accounts(world.ctx, world.admin, world.group_a.id, "Ada", 10, None)
    assert wait_until(lambda: bridge.failures > 0)
    flaky.down = False
    assert wait_until(lambda: names(world.ctx, world, "Ada") == ["Ada Lovelace"], seconds=15)


def _record(name: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
    record = load_event("dynamodb_stream_record")
    record["eventName"] = name
    record["dynamodb"]["Keys"] = {"id": (new or old or {})["id"]}
    if old:
        record["dynamodb"]["OldImage"] = old
    if new:
        record["dynamodb"]["NewImage"] = new
    return record


def test_the_handler_ignores_redelivered_and_reordered_records(moto_url: str) -> None:
    from chalicelib.adapters.dynamo import _account_to_model
    from chalicelib.adapters.dynamo_models import AccountModel

    ctx = make_context("dynamodb", moto_url)
    bootstrap.use(ctx)
    try:
        world = World(ctx)
        v1 = accounts.create_account(ctx, world.admin, world.account_data(full_name="First Name")).account
        v2 = replace(v1, full_name="Second Name", version=2)
        image1, image2 = (_account_to_model(AccountModel, a).serialize() for a in (v1, v2))
        insert, modify = _record("INSERT", None, image1), _record("MODIFY", image1, image2)
        remove = _record("REMOVE", image2, None)
        app.index_accounts({"Records": [insert, modify]}, None)
        app.index_accounts({"Records": [insert]}, None)  # redelivered, older than what the index holds
        assert names(ctx, world, "Name") == ["Second Name"]
        app.index_accounts({"Records": [remove, modify, insert]}, None)  # reordered after the delete
        assert names(ctx, world, "Name") == []
    finally:
        bootstrap.use(None)


def test_the_rebuild_command_reindexes_the_table(moto_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    ctx = make_context("dynamodb", moto_url)
    bootstrap.use(ctx)
    try:
        world = World(ctx)
        for i in range(3):
            accounts.create_account(ctx, world.admin, world.account_data(phone_number=f"+39347500000{i}",
                                                                         full_name=f"Person {i}"))  # fmt: skip
        assert names(ctx, world, "Person") == []  # no stream delivery in this test
        assert cli.main(["rebuild-search"]) == 0
        assert "indexed 3 accounts" in capsys.readouterr().out
        assert sorted(names(ctx, world, "Person")) == ["Person 0", "Person 1", "Person 2"]
    finally:
        bootstrap.use(None)
