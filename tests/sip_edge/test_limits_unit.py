"""sipedge.limits over a dict store: the per-account lockout (and its lifting) and the per-source cost."""

from __future__ import annotations

from collections import defaultdict

from tests.sip_edge import conftest as _paths  # noqa: F401  # puts sip-edge on sys.path

from sipedge.limits import Limits, Settings  # isort: skip


class DictStore:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], int] = defaultdict(int)

    def get(self, table: str, key: str) -> int:
        return self.items.get((table, key), 0)

    def add(self, table: str, key: str, amount: int) -> int:
        self.items[(table, key)] += amount
        return self.items[(table, key)]

    def put(self, table: str, key: str, value: int) -> None:
        self.items[(table, key)] = value

    def remove(self, table: str, key: str) -> None:
        self.items.pop((table, key), None)


def _limits(now: list[float]) -> Limits:
    return Limits(DictStore(), Settings(lockout_failures=3, flood_limit=5, flood_window_seconds=10), lambda: now[0])


def test_the_third_failure_locks_the_account_and_only_that_account() -> None:
    limits = _limits([1000.0])
    assert [limits.failed("a") for _ in range(3)] == [False, False, True]
    assert limits.locked("a", lifted_at=0)
    assert not limits.locked("b", lifted_at=0)
    assert not limits.failed("b")


def test_a_lift_after_the_lock_clears_it_and_its_failures() -> None:
    now = [1000.0]
    limits = _limits(now)
    for _ in range(3):
        limits.failed("a")
    assert limits.locked("a", lifted_at=999.0)  # lifted before this lock began: still locked
    assert not limits.locked("a", lifted_at=1001.0)
    assert not limits.locked("a", lifted_at=0)  # cleared for good
    assert [limits.failed("a") for _ in range(3)] == [False, False, True]  # counting starts again


def test_costs_past_the_limit_ban_the_source_once() -> None:
    limits = _limits([1000.0])
    crossed = [limits.charge("192.0.2.1") for _ in range(8)]
    assert crossed == [False] * 5 + [True, False, False]
    assert limits.banned("192.0.2.1") and not limits.banned("192.0.2.2")


def test_refunded_challenges_cost_nothing_so_a_nat_of_many_phones_is_never_banned() -> None:
    limits = _limits([1000.0])
    assert not any(limits.charge("192.0.2.1", challenge=True) for _ in range(5 * 16))  # all challenged at once
    for _ in range(5 * 16):
        limits.refund("192.0.2.1")  # the valid digests that followed
    assert not limits.banned("192.0.2.1")
    assert [limits.charge("192.0.2.1") for _ in range(6)][-1]  # failures still count in full


def test_unauthenticated_requests_alone_are_cut_off_too() -> None:
    limits = _limits([1000.0])
    assert [limits.charge("192.0.2.1", challenge=True) for _ in range(5 * 16 + 1)][-1]


def test_each_window_counts_afresh() -> None:
    now = [1000.0]
    limits = _limits(now)
    for _ in range(5):
        limits.charge("192.0.2.1")
    now[0] += 10
    assert not limits.charge("192.0.2.1")
    limits.refund("192.0.2.9")  # nothing to refund: no negative credit
    assert limits._store.get("cost", "192.0.2.9|101") == 0
