"""Shared fixtures: moto's server in-process, contexts wired by the composition root for each backend."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from chalicelib import bootstrap
from chalicelib.adapters.dynamo_models import create_tables
from chalicelib.adapters.passwords import Argon2Hasher
from chalicelib.domain.model import Group, Operator, ProvisioningProfile, Role
from chalicelib.services import groups, operators
from chalicelib.services.context import Context
from chalicelib.settings import Settings
from devstack.events import create_import_resources
from devstack.moto_server import MotoServer

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")

FAST_HASHER = Argon2Hasher(time_cost=1, memory_cost=1024)  # real argon2, test-sized cost
BACKENDS = ["memory", "dynamodb"]
BACKEND_FIXTURES = ("ctx", "backend_ctx", "setup", "env")  # the fixtures parametrised over BACKENDS
# The contract classes (tests/contract/) prove the fake a twin of DynamoDB port by port, so service and API tests
# run on the fake, and only a smoke set marked `both_backends` also runs end to end on moto.
BOTH_BACKENDS_DIRS = ("tests/contract/",)


def _on_moto_only_when_wanted(item: pytest.Item) -> bool:
    params = getattr(getattr(item, "callspec", None), "params", {})
    if all(params.get(name) != "dynamodb" for name in BACKEND_FIXTURES):
        return True
    path = str(item.path.relative_to(item.config.rootpath))
    return path.startswith(BOTH_BACKENDS_DIRS) or item.get_closest_marker("both_backends") is not None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    kept = [item for item in items if _on_moto_only_when_wanted(item)]
    dropped = [item for item in items if item not in kept]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    server = MotoServer().start()
    yield server.url
    server.stop()


def make_context(backend: str, moto_url: str | None, **overrides: Any) -> Context:
    prefix = f"t{uuid.uuid4().hex[:10]}"
    extra: dict[str, Any] = {}
    if backend == "dynamodb" and moto_url:
        queue_url = create_import_resources(moto_url, "eu-west-1", prefix, f"{prefix}-imports")
        extra = {"imports_bucket": prefix, "s3_endpoint": moto_url, "import_queue_url": queue_url,
                 "sqs_endpoint": moto_url}  # fmt: skip
    settings = Settings(
        storage=backend,
        dynamodb_endpoint=moto_url if backend == "dynamodb" else None,
        table_prefix=prefix,
        **{**extra, **overrides},
    )
    if backend == "dynamodb":
        create_tables(settings)
    return replace(bootstrap.build(settings), hasher=FAST_HASHER)


@pytest.fixture(params=BACKENDS)
def ctx(request: pytest.FixtureRequest) -> Context:
    """A context on each backend: tests using it form the contract suite that both must pass."""
    url = request.getfixturevalue("moto_url") if request.param == "dynamodb" else None
    return make_context(request.param, url)


@pytest.fixture
def memory_ctx() -> Context:
    return make_context("memory", None)


@pytest.fixture
def admin(ctx: Context) -> Operator:
    operator, _ = operators.ensure_admin(ctx, "admin-password-1")
    return operator


class World:
    """A small operator world: one profile, two groups, an admin, an operator of group A, a viewer of A."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.admin, _ = operators.ensure_admin(ctx, "admin-password-1")
        self.profile = self.make_profile("default")
        self.group_a = self.make_group("Group A")
        self.group_b = self.make_group("Group B")
        self.operator_a = self.make_operator("op-a", Role.OPERATOR, [self.group_a.id])
        self.viewer_a = self.make_operator("viewer-a", Role.VIEWER, [self.group_a.id])

    def make_profile(self, name: str, **fields: Any) -> ProvisioningProfile:
        data = {"name": name, "sip_domain": "voice.example.com", "sip_host": "sip.example.com", **fields}
        return groups.create_profile(self.ctx, self.admin, data)

    def make_group(self, name: str) -> Group:
        return groups.create_group(self.ctx, self.admin, self.group_data(name))

    def group_data(self, name: str) -> dict[str, Any]:
        return {"name": name, "it_email": "it@example.com", "provisioning_profile_id": self.profile.id}

    def make_operator(self, username: str, role: Role, group_ids: list[str]) -> Operator:
        data = {"username": username, "password": f"{username}-password", "role": role.value, "group_ids": group_ids}
        return operators.create_operator(self.ctx, self.admin, data)

    def account_data(self, **fields: Any) -> dict[str, Any]:
        return {"password": "sip-secret-1", "group_id": self.group_a.id, "phone_number": "+393471234567", **fields}


@pytest.fixture
def world(ctx: Context) -> World:
    return World(ctx)


@pytest.fixture
def memory_world(memory_ctx: Context) -> World:
    return World(memory_ctx)


def drain_imports(ctx: Context, steps: int = 10_000) -> int:
    """Run the import pipeline's queued steps until the queue is empty, as the queue's consumer would (the
    in-memory queue, or the context's SQS queue on moto). A step that raises stays queued: SQS delivers it
    again, here at once (its visibility is reset), and the exception goes to the caller. Returns the steps run."""
    import json

    import boto3

    from chalicelib.adapters.memory import MemoryTasks
    from chalicelib.services import imports

    done = 0
    if isinstance(ctx.tasks, MemoryTasks):
        while ctx.tasks.tasks and done < steps:
            imports.process(ctx, ctx.tasks.tasks[0])  # a crash leaves the step at the head
            ctx.tasks.tasks.popleft()
            done += 1
        return done
    sqs = boto3.client("sqs", endpoint_url=ctx.settings.sqs_endpoint, region_name=ctx.settings.region)
    url = ctx.settings.import_queue_url
    while done < steps:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            return done
        message = messages[0]
        try:
            imports.process(ctx, json.loads(message["Body"]))
        except BaseException:
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
            raise
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        done += 1
    return done


@pytest.fixture
def console_session() -> Iterator[tuple[Any, str]]:
    """The app's test client (in memory) and an administrator's console session token."""
    from chalice.test import Client

    from app import app

    ctx = make_context("memory", None)
    bootstrap.use(ctx)
    World(ctx)
    token = operators.login(ctx, {"username": "admin", "password": "admin-password-1"}, "10.0.0.1", "ua").token
    with Client(app) as client:
        yield client, token
    bootstrap.use(None)
