"""The Idempotency-Key header on POSTs: same key, same answer; another body, 422; a bad key, 422."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.api import idempotency
from tests.api.helpers import Api, as_problem
from tests.conftest import World

pytestmark = pytest.mark.both_backends  # the database is where these broke


def test_the_same_key_gets_the_same_answer_and_creates_once(api: Api, http_world: World) -> None:
    body = http_world.account_data(phone_number="+393471230001")
    first = api.call("POST", "/accounts", body, **{"Idempotency-Key": "order-17"})
    second = api.call("POST", "/accounts", body, **{"Idempotency-Key": "order-17"})
    assert first.status_code == second.status_code == 201
    assert first.json_body == second.json_body and second.headers["Idempotent-Replayed"] == "true"
    assert http_world.ctx.groups.get(http_world.group_a.id).account_count == 1  # type: ignore[union-attr]


def test_refusals_are_answers_too(api: Api, http_world: World) -> None:
    body = {"name": ""}
    first = api.call("POST", "/groups", body, **{"Idempotency-Key": "g-1"})
    second = api.call("POST", "/groups", body, **{"Idempotency-Key": "g-1"})
    as_problem(first, 422, "validation_failed")
    assert second.body == first.body and second.headers["Idempotent-Replayed"] == "true"


def test_a_key_reused_for_another_body_is_refused(api: Api, http_world: World) -> None:
    api.call("POST", "/accounts", http_world.account_data(phone_number="+393471230002"), **{"Idempotency-Key": "x"})
    other = api.call("POST", "/accounts", http_world.account_data(phone_number="+393471230003"),
                     **{"Idempotency-Key": "x"})  # fmt: skip
    body = as_problem(other, 422, "validation_failed")
    assert body["errors"][0]["code"] == "idempotency_key_reused"


def test_keys_are_per_operator_and_checked(api: Api, http_world: World) -> None:
    as_problem(api.call("POST", "/groups", {}, **{"Idempotency-Key": "ä" * 3}), 422, "validation_failed")
    as_problem(api.call("POST", "/groups", {}, **{"Idempotency-Key": "k" * 256}), 422, "validation_failed")


def test_a_running_request_holds_its_key_until_its_lease_ends(http_world: World) -> None:
    store, now = http_world.ctx.idempotency, http_world.ctx.clock()
    kept = now + idempotency.KEPT
    assert store.claim("scope", "fp", now, now + idempotency.LEASE, kept) is None
    running = store.claim("scope", "fp", now, now + idempotency.LEASE, kept)
    assert running is not None and running.status == 0
    later = now + idempotency.LEASE + timedelta(seconds=1)
    assert store.claim("scope", "fp", later, later + idempotency.LEASE, kept) is None  # the first run died
