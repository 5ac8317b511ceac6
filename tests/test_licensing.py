"""The licence proxy against a simulated vendor on loopback with injected faults."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from chalice.test import Client

from app import app
from chalicelib import bootstrap
from chalicelib.adapters.licence_upstream import HttpLicenceUpstream
from chalicelib.domain.errors import Forbidden, LicenceUnavailable, Unauthorized
from chalicelib.domain.model import Account
from chalicelib.domain.provisioning import ProvisioningToken, Purpose, new_token
from chalicelib.services import accounts, groups, licensing
from devstack.licence_upstream import LicenceSimulator, new_keypair
from tests.conftest import World, make_context

SERVER_TOKEN = "server-credentials"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["memory", "dynamodb"])
def env(request: pytest.FixtureRequest) -> Iterator[tuple[World, LicenceSimulator, Clock]]:
    url = request.getfixturevalue("moto_url") if request.param == "dynamodb" else None
    private, public = new_keypair()
    simulator = LicenceSimulator(private, SERVER_TOKEN).start()
    simulator.slow_seconds = 3.0
    clock = Clock()
    ctx = make_context(
        request.param, url, licence_upstream_url=simulator.url, licence_upstream_token=SERVER_TOKEN,
        licence_upstream_public_key=public, licence_cache_seconds=3600, licence_grace_seconds=86400,
        licence_upstream_timeout=1.0,
    )  # fmt: skip
    ctx = replace(ctx, clock=clock, licence_upstream=HttpLicenceUpstream(simulator.url, SERVER_TOKEN, 1.0))
    bootstrap.use(ctx)
    yield World(ctx), simulator, clock
    bootstrap.use(None)
    simulator.stop()


def device(world: World, **fields: Any) -> tuple[Account, str]:
    """An automatically activated account and its licence token (as activation hands it to the app)."""
    account = accounts.create_account(world.ctx, world.admin, world.account_data(**fields)).account
    token, hashed = new_token()
    now = world.ctx.clock()
    world.ctx.tokens.issue(ProvisioningToken(hashed, account.id, Purpose.DEVICE, now, now + timedelta(days=3650)))
    return account, token


def past_the_memory(world: World, clock: Clock) -> None:
    """Time goes past the bound of this instance's memory of recent validations (LICENCE_AUTH_CACHE_SECONDS)."""
    clock.now += timedelta(seconds=world.ctx.settings.licence_auth_cache_seconds, milliseconds=1)


def test_fresh_cache_then_expiry(env: tuple[World, LicenceSimulator, Clock]) -> None:
    world, simulator, clock = env
    _, token = device(world)
    first = licensing.licence_for_device(world.ctx, token)
    assert (first.source, first.stale, first.licence.status) == ("upstream", False, "valid")
    assert "secure-calls" in first.licence.features
    second = licensing.licence_for_device(world.ctx, token)
    assert (second.source, simulator.calls) == ("cache", 1)
    clock.now += timedelta(seconds=3601)  # the cached answer is no longer fresh
    third = licensing.licence_for_device(world.ctx, token)
    assert (third.source, simulator.calls) == ("upstream", 2)


@pytest.mark.parametrize("fault", ["down", "slow", "error", "garbage", "bad_signature", "wrong_nonce"])
def test_vendor_faults_serve_the_cache_within_grace_then_503(
    env: tuple[World, LicenceSimulator, Clock], fault: str
) -> None:
    world, simulator, clock = env
    account, token = device(world)
    licensing.licence_for_device(world.ctx, token)
    simulator.fault = fault
    clock.now += timedelta(hours=2)
    started = datetime.now(UTC)
    stale = licensing.licence_for_device(world.ctx, token)
    assert (datetime.now(UTC) - started).total_seconds() < 2.5  # bounded by the upstream timeout (1 s)
    assert (stale.source, stale.stale, stale.licence.status) == ("cache", True, "valid")
    cached = world.ctx.licences.get(account.id)
    assert cached is not None and cached.last_error and cached.failures == 1
    calls = simulator.calls
    licensing.licence_for_device(world.ctx, token)  # inside the back-off: the vendor is not asked again
    assert simulator.calls == calls
    clock.now += timedelta(days=2)  # past the grace period
    with pytest.raises(LicenceUnavailable) as exc:
        licensing.licence_for_device(world.ctx, token)
    assert exc.value.retry_after >= 1


def test_no_cache_and_vendor_down_is_503(env: tuple[World, LicenceSimulator, Clock]) -> None:
    world, simulator, _ = env
    _, token = device(world)
    simulator.fault = "error"
    with pytest.raises(LicenceUnavailable):
        licensing.licence_for_device(world.ctx, token)


def test_concurrent_misses_ask_the_vendor_once(env: tuple[World, LicenceSimulator, Clock]) -> None:
    world, simulator, _ = env
    _, token = device(world)
    simulator.fault = "slow"
    simulator.slow_seconds = 0.3
    ctx = replace(world.ctx, licence_upstream=HttpLicenceUpstream(simulator.url, SERVER_TOKEN, 2.0))
    results: list[str] = []
    barrier = threading.Barrier(8)

    def ask() -> None:
        barrier.wait()
        results.append(licensing.licence_for_device(ctx, token).licence.status)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["valid"] * 8
    assert simulator.calls == 1


def test_a_poisoned_cache_is_not_served(env: tuple[World, LicenceSimulator, Clock]) -> None:
    world, simulator, clock = env
    account, token = device(world)
    licensing.licence_for_device(world.ctx, token)
    cached = world.ctx.licences.get(account.id)
    assert cached is not None and cached.licence is not None
    forged = replace(cached.licence, raw=cached.licence.raw.replace('"valid"', '"revoked"'), status="revoked")
    world.ctx.licences.put(replace(cached, licence=forged))
    simulator.status = "revoked"  # the vendor's real answer now
    past_the_memory(world, clock)  # (this instance remembers the genuine answer for that long)
    served = licensing.licence_for_device(world.ctx, token)
    assert (served.source, served.licence.status) == ("upstream", "revoked")  # refetched, not the edited copy
    assert simulator.calls == 2


def test_wrong_credentials_and_a_disabled_account(env: tuple[World, LicenceSimulator, Clock]) -> None:
    world, _, clock = env
    account, token = device(world)
    with pytest.raises(Unauthorized):
        licensing.licence_for_device(world.ctx, "x" * 22)
    licensing.licence_for_device(world.ctx, token)
    accounts.set_enabled(world.ctx, world.admin, account.id, False)  # disabled mid-way
    past_the_memory(world, clock)
    with pytest.raises(Forbidden) as exc:
        licensing.licence_for_device(world.ctx, token)
    assert exc.value.code == "account_disabled"


def test_the_mobile_endpoint(env: tuple[World, LicenceSimulator, Clock]) -> None:
    world, simulator, _ = env
    _, token = device(world, username="4242")
    with Client(app) as client:
        ok = client.http.get("/m/licence", headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200
        body = json.loads(ok.body)
        assert body["licence"]["account"] == "4242" and body["signature"] and body["source"] == "upstream"
        denied = client.http.get("/m/licence", headers={"Authorization": "Bearer nope-nope-nope"})
        assert denied.status_code == 401 and json.loads(denied.body)["code"] == "invalid_device_token"
        simulator.fault = "down"
        _, other = device(world, phone_number="+393470001234")
        unavailable = client.http.get("/m/licence", headers={"Authorization": f"Bearer {other}"})
        assert unavailable.status_code == 503 and int(unavailable.headers["Retry-After"]) >= 1


def test_a_renamed_account_does_not_get_the_old_usernames_licence(env: tuple[World, LicenceSimulator, Clock]) -> None:
    world, simulator, clock = env
    account, token = device(world, username="5001")
    assert licensing.licence_for_device(world.ctx, token).licence.account == "5001"
    accounts.update_account(world.ctx, world.admin, account.id, {"username": "5002", "password": "new-secret-1"})
    past_the_memory(world, clock)
    served = licensing.licence_for_device(world.ctx, token)
    assert (served.licence.account, served.source, simulator.calls) == ("5002", "upstream", 2)


def _disable_account(world: World, account: Account) -> None:
    accounts.set_enabled(world.ctx, world.admin, account.id, False)


def _revoke_device_token(world: World, account: Account) -> None:
    world.ctx.tokens.revoke(account.id, [Purpose.DEVICE])


def _supersede_device_token(world: World, account: Account) -> None:
    token, hashed = new_token()  # activating again hands out a new token; the old one stops working
    now = world.ctx.clock()
    world.ctx.tokens.issue(ProvisioningToken(hashed, account.id, Purpose.DEVICE, now, now + timedelta(days=1)))


def _disable_group(world: World, account: Account) -> None:
    groups.update_group(world.ctx, world.admin, account.group_id, {"enabled": False})


def _move_to_a_disabled_group(world: World, account: Account) -> None:
    other = groups.create_group(world.ctx, world.admin, {"name": "Closed", "it_email": "it@example.com",
                                                         "provisioning_profile_id": account.provisioning_profile_id,
                                                         "enabled": False})  # fmt: skip
    accounts.update_account(world.ctx, world.admin, account.id, {"group_id": other.id})


@pytest.mark.parametrize(
    "change",
    [_disable_account, _revoke_device_token, _supersede_device_token, _disable_group, _move_to_a_disabled_group],
    ids=lambda change: change.__name__.strip("_"),
)
def test_a_change_stops_the_validations_within_the_stated_bound(
    env: tuple[World, LicenceSimulator, Clock], change: Callable[[World, Account], None]
) -> None:
    world, simulator, clock = env
    account, token = device(world)
    assert licensing.licence_for_device(world.ctx, token).source == "upstream"
    change(world, account)
    # within LICENCE_AUTH_CACHE_SECONDS this instance may still answer from its memory of the last validation...
    clock.now += timedelta(seconds=world.ctx.settings.licence_auth_cache_seconds - 0.5)
    assert licensing.licence_for_device(world.ctx, token).source == "cache"
    past_the_memory(world, clock)  # ...and past it, the change holds (the memory was remembered 0.5 s after)
    clock.now += timedelta(seconds=0.5)
    with pytest.raises((Forbidden, Unauthorized)):
        licensing.licence_for_device(world.ctx, token)
    assert simulator.calls == 1


def test_the_memory_is_per_instance_and_can_be_turned_off(env: tuple[World, LicenceSimulator, Clock]) -> None:
    world, simulator, _ = env
    account, token = device(world)
    switched_off = replace(world.ctx, settings=replace(world.ctx.settings, licence_auth_cache_seconds=0))
    for ctx in (world.ctx, switched_off):
        licensing.licence_for_device(ctx, token)
    _disable_account(world, account)
    assert licensing.licence_for_device(world.ctx, token).licence.status == "valid"  # this instance remembers
    another_instance = replace(world.ctx)  # a new Lambda instance: its own, empty memory
    for ctx in (another_instance, switched_off):
        with pytest.raises(Forbidden):
            licensing.licence_for_device(ctx, token)
    assert simulator.calls == 1


def test_a_stale_licence_served_while_the_vendor_is_down_is_not_remembered(
    env: tuple[World, LicenceSimulator, Clock],
) -> None:
    world, simulator, clock = env
    account, token = device(world)
    licensing.licence_for_device(world.ctx, token)
    clock.now += timedelta(seconds=3601)  # no longer fresh; the vendor is down
    simulator.fault = "down"
    assert licensing.licence_for_device(world.ctx, token).stale
    _disable_account(world, account)
    with pytest.raises(Forbidden):  # at once: nothing was remembered from the stale answer
        licensing.licence_for_device(world.ctx, token)
