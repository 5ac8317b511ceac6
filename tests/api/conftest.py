"""API fixtures: a context on each backend installed in the app, a small world, logged-in clients."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from chalice.test import Client

from app import app
from chalicelib import bootstrap
from chalicelib.services.context import Context
from tests.api.helpers import ADMIN, Api
from tests.conftest import World, make_context


@pytest.fixture(params=["memory", "dynamodb"])
def backend_ctx(request: pytest.FixtureRequest) -> Iterator[Context]:
    url = request.getfixturevalue("moto_url") if request.param == "dynamodb" else None
    ctx = make_context(request.param, url, login_max_failures_per_user=3)
    bootstrap.use(ctx)
    yield ctx
    bootstrap.use(None)


@pytest.fixture
def http_world(backend_ctx: Context) -> World:
    return World(backend_ctx)


@pytest.fixture
def api(http_world: World) -> Iterator[Api]:
    with Client(app) as client:
        yield Api(client).login(*ADMIN)


@pytest.fixture
def anonymous(http_world: World) -> Iterator[Api]:
    with Client(app) as client:
        yield Api(client)
