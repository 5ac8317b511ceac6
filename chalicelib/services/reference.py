"""A short-lived read cache of groups and profiles for the account-creation path.

Creating an account needs its group (for the default profile) and its profile (for the SIP realm). Reading
both from DynamoDB for every account would triple the requests of a batch. The cache is safe because the
creating transaction re-checks what it relied on: the group must still exist (its counter update is
conditional) and the profile must still exist with the same SIP domain (a condition check). When a check
fails the caller drops the cache entry and tries once more with fresh reads.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from chalicelib.domain.model import Group, ProvisioningProfile
from chalicelib.services.ports import GroupRepository, ProfileRepository

T = TypeVar("T")


class ReferenceCache:
    def __init__(
        self,
        groups: GroupRepository,
        profiles: ProfileRepository,
        clock: Callable[[], datetime],
        ttl_seconds: float,
    ) -> None:
        self._groups = groups
        self._profiles = profiles
        self._clock = clock
        self._ttl = timedelta(seconds=ttl_seconds)
        self._entries: dict[str, tuple[datetime, object]] = {}

    def _lookup(self, key: str, fetch: Callable[[str], T | None], item_id: str) -> T | None:
        entry = self._entries.get(key)
        if entry is not None and entry[0] > self._clock():
            return entry[1]  # type: ignore[return-value]  # stored under a key of its own kind
        value = fetch(item_id)
        if value is not None and self._ttl:  # misses are not cached: a new group is usable at once
            self._entries[key] = (self._clock() + self._ttl, value)
        return value

    def group(self, group_id: str) -> Group | None:
        return self._lookup(f"g:{group_id}", self._groups.get, group_id)

    def profile(self, profile_id: str) -> ProvisioningProfile | None:
        return self._lookup(f"p:{profile_id}", self._profiles.get, profile_id)

    def forget(self) -> None:
        self._entries.clear()
