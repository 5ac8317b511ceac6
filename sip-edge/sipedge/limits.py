"""The edge's attack limits over a small shared counter store (Kamailio's htables in the edge, a dict in tests).

- Per-account lockout: `SIP_LOCKOUT_FAILURES` wrong digests for one account (the `authfail` table forgets an
  account after `SIP_LOCKOUT_WINDOW_SECONDS` without a failure) lock it for `SIP_LOCKOUT_SECONDS` (the
  `lockout` table, whose items expire on their own), from every address, even with the right password. An
  operator lifts it on the control plane, which writes `sip_lock_lifted_at` on the account: a lock that started
  before that time no longer counts.
- Per-source cost: what costs the edge is counted per source address in windows of `SIP_FLOOD_WINDOW_SECONDS`:
  a failed digest, a malformed or refused request costs one unit; a challenge costs 1/CHALLENGE_SHARE of a unit
  until a valid digest refunds it, so many phones behind one NAT, all challenged at once, cost nothing in the
  end and a burst of them stays far under the limit, while a flood of unauthenticated requests is still cut off.
  Past `SIP_FLOOD_LIMIT` units in one window the source is banned (dropped silently) for
  `SIP_FLOOD_BAN_SECONDS` (the `banned` table's expiry).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

AUTHFAIL = "authfail"
LOCKOUT = "lockout"
COST = "cost"
BANNED = "banned"
CHALLENGE_SHARE = 16  # points per unit: a challenge costs one point, a failure a whole unit


class Store(Protocol):
    """Integer items by table and key; absent items read as 0 (expiry is the store's: htable autoexpire)."""

    def get(self, table: str, key: str) -> int: ...

    def add(self, table: str, key: str, amount: int) -> int:
        """Adds `amount` (may be negative) atomically; returns the new value."""

    def put(self, table: str, key: str, value: int) -> None: ...

    def remove(self, table: str, key: str) -> None: ...


@dataclass(frozen=True)
class Settings:
    lockout_failures: int = 10
    flood_limit: int = 60
    flood_window_seconds: int = 10


class Limits:
    def __init__(self, store: Store, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock

    # per account ---------------------------------------------------------------------------------------------

    def locked(self, account_id: str, lifted_at: float) -> bool:
        """Whether the account is locked out now; a lock an operator lifted (after it started) is cleared."""
        since = self._store.get(LOCKOUT, account_id)
        if not since:
            return False
        if lifted_at >= since:
            self._store.remove(LOCKOUT, account_id)
            self._store.remove(AUTHFAIL, account_id)
            return False
        return True

    def failed(self, account_id: str) -> bool:
        """Counts a wrong digest; True when it locked the account (the caller reports the lockout)."""
        if self._store.add(AUTHFAIL, account_id, 1) < self._settings.lockout_failures:
            return False
        self._store.remove(AUTHFAIL, account_id)
        self._store.put(LOCKOUT, account_id, max(int(self._clock()), 1))
        return True

    # per source ----------------------------------------------------------------------------------------------

    def _window_key(self, ip: str) -> str:
        return f"{ip}|{int(self._clock() // max(self._settings.flood_window_seconds, 1))}"

    def banned(self, ip: str) -> bool:
        return bool(self._store.get(BANNED, ip))

    def charge(self, ip: str, challenge: bool = False) -> bool:
        """Counts a costly request from `ip` (a challenge: one point; anything else: a unit); True when it
        crossed the limit (the source is banned from now)."""
        points = self._store.add(COST, self._window_key(ip), 1 if challenge else CHALLENGE_SHARE)
        if points <= self._settings.flood_limit * CHALLENGE_SHARE or self.banned(ip):
            return False
        self._store.put(BANNED, ip, 1)
        return True

    def refund(self, ip: str) -> None:
        """A valid digest: the challenge that preceded it was not a cost."""
        key = self._window_key(ip)
        if self._store.get(COST, key) > 0:
            self._store.add(COST, key, -1)
