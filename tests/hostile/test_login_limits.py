"""Hostile logins: parallel guessing against the limit, lock-outs an attacker elsewhere could cause, the slow-down."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import pytest

from chalicelib.domain.errors import RateLimited, Unauthorized
from chalicelib.services import operators
from chalicelib.services.context import Context
from tests.api.helpers import Api, as_problem
from tests.conftest import FAST_HASHER, World

pytestmark = pytest.mark.both_backends  # the database is where these broke

RIGHT = {"username": "admin", "password": "admin-password-1"}
WRONG = {"username": "admin", "password": "wrong-password"}


@dataclass
class SlowCountingHasher:
    """The real hasher, slowed so that parallel logins are all inside the check at once, counting checks."""

    checks: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def hash(self, password: str) -> str:
        return FAST_HASHER.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        with self.lock:
            self.checks += 1
        time.sleep(0.2)
        return FAST_HASHER.verify(password_hash, password)


def _outcome(ctx: Context, data: dict[str, str], source: str = "203.0.113.5") -> int:
    try:
        operators.login(ctx, data, source, "pytest")
    except RateLimited:
        return 429
    except Unauthorized:
        return 401
    return 200


def test_sixteen_parallel_logins_check_at_most_the_limit(world: World) -> None:
    hasher = SlowCountingHasher()
    ctx = replace(world.ctx, hasher=hasher, settings=replace(world.ctx.settings, login_max_failures_per_user=5))
    with ThreadPoolExecutor(max_workers=16) as pool:
        codes = list(pool.map(lambda i: _outcome(ctx, RIGHT if i == 15 else WRONG), range(16)))
    assert hasher.checks <= 5, codes
    assert codes.count(401) + codes.count(200) <= 5 and codes.count(429) >= 11, codes


def test_failures_from_one_source_do_not_lock_the_user_out_elsewhere(world: World) -> None:
    for _ in range(5):
        assert _outcome(world.ctx, WRONG, "198.51.100.66") == 401
    assert _outcome(world.ctx, RIGHT, "198.51.100.66") == 429
    assert _outcome(world.ctx, RIGHT, "192.0.2.10") == 200  # the real user, from their own address


def test_successful_logins_do_not_use_the_limits_up(world: World) -> None:
    for _ in range(12):
        assert _outcome(world.ctx, RIGHT) == 200


def test_guessing_from_many_sources_slows_the_username_down_for_a_minute_only(world: World) -> None:
    for n in range(10):
        assert _outcome(world.ctx, WRONG, f"198.51.100.{n}") == 401
    with pytest.raises(RateLimited) as limited:
        operators.login(world.ctx, RIGHT, "192.0.2.10", "pytest")
    assert 1 <= limited.value.retry_after <= 60
    assert "Try again in" in limited.value.message


def test_the_api_answers_429_with_the_time_left(anonymous: Api) -> None:
    for _ in range(3):
        as_problem(anonymous.call("POST", "/auth/login", WRONG), 401, "invalid_credentials")
    limited = anonymous.call("POST", "/auth/login", RIGHT)
    body = as_problem(limited, 429, "rate_limited")
    assert 1 <= int(limited.headers["Retry-After"]) <= 900
    assert "Try again in" in body["detail"]
