"""Creations while DynamoDB stalls mid-write (moto's server holding TransactWriteItems back): a creation that was
written reports success, an unknown outcome is a 503, and a retry with the same Idempotency-Key finds its write."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from chalice.test import Client

from app import app
from chalicelib import bootstrap
from chalicelib.services import accounts
from chalicelib.services.context import Context
from devstack.moto_server import MotoServer
from tests.api.helpers import ADMIN, Api, as_problem
from tests.conftest import World, make_context

WRITES = ["TransactWriteItems"]


@pytest.fixture(scope="module")
def stalling_moto() -> Iterator[MotoServer]:
    server = MotoServer().start()
    yield server
    server.stop()


@pytest.fixture
def stalled(stalling_moto: MotoServer) -> Iterator[tuple[World, Api, MotoServer]]:
    # one call waits 1 s, botocore retries once: a client gives up after about 2-3 s
    ctx = make_context("dynamodb", stalling_moto.url, dynamodb_timeout_seconds=1.0, dynamodb_max_retries=1)
    bootstrap.use(ctx)
    world = World(ctx)
    with Client(app) as client:
        yield world, Api(client).login(*ADMIN), stalling_moto
    bootstrap.use(None)


def _in_background(call: Any) -> tuple[threading.Thread, list[Any]]:
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(call()))
    thread.start()
    return thread, result


def test_creations_in_flight_when_the_stall_ends_report_success(stalling_moto: MotoServer) -> None:
    # a longer timeout than the fixture's: released, the eight held writes run one after another on moto, and the
    # earliest retry must still be waiting when its turn comes (with 1 s, a loaded machine ran out of it)
    moto = stalling_moto
    ctx: Context = make_context("dynamodb", moto.url, dynamodb_timeout_seconds=3.0, dynamodb_max_retries=1)
    world = World(ctx)
    numbers = [f"+39347123450{i}" for i in range(4)]

    def create(number: str) -> Any:
        return accounts.create_account(ctx, world.admin, world.account_data(phone_number=number)).account

    with ThreadPoolExecutor(max_workers=4) as pool:
        with moto.freezer.frozen(WRITES):
            futures = [pool.submit(create, n) for n in numbers]
            # each first attempt timed out and botocore's retry is held too: released now, every retry has nearly
            # its whole timeout left (a fixed sleep released them late on a loaded machine)
            assert moto.freezer.wait_held(2 * len(numbers), timeout=30), moto.freezer.held
        created = [f.result() for f in futures]  # no Conflict: each retry found its own write
    for number, account in zip(numbers, created, strict=True):
        stored = ctx.accounts.get_by_number(number)
        assert stored is not None and stored.id == account.id
    assert ctx.groups.get(world.group_a.id).account_count == 4  # type: ignore[union-attr]


def test_an_unknown_outcome_is_503_and_the_same_key_then_reports_the_write(
    stalled: tuple[World, Api, MotoServer],
) -> None:
    world, api, moto = stalled
    body = world.account_data(phone_number="+393471239999")
    with moto.freezer.frozen(WRITES):
        thread, result = _in_background(lambda: api.call("POST", "/accounts", body, **{"Idempotency-Key": "k-1"}))
        thread.join(timeout=20)
    problem = as_problem(result[0], 503, "outcome_unknown")
    assert int(result[0].headers["Retry-After"]) >= 1 and "Idempotency-Key" in problem["detail"]
    time.sleep(0.5)  # the held writes run now: one of them lands
    landed = world.ctx.accounts.get_by_number("+393471239999")
    assert landed is not None
    again = api.call("POST", "/accounts", body, **{"Idempotency-Key": "k-1"})
    assert again.status_code == 201, again.body
    assert again.json_body["id"] == landed.id
    # without the key, the client's resend is told the truth about the number: it is taken
    as_problem(api.call("POST", "/accounts", body), 409, "duplicate")
