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

from chalicelib.domain.model import Group, ProvisioningProfile
from chalicelib.services.ports import GroupRepository, ProfileRepository


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
        self._entries: dict[str, tuple[datetime, Group | ProvisioningProfile | None]] = {}

    def _cached(self, key: str) -> tuple[bool, Group | ProvisioningProfile | None]:
        entry = self._entries.get(key)
        if entry is not None and entry[0] > self._clock():
            return True, entry[1]
        return False, None

    def _store(self, key: str, value: Group | ProvisioningProfile | None) -> None:
        if value is not None and self._ttl:  # misses are not cached: a new group is usable at once
            self._entries[key] = (self._clock() + self._ttl, value)

    def group(self, group_id: str) -> Group | None:
        hit, value = self._cached(f"g:{group_id}")
        if hit:
            return value if isinstance(value, Group) else None
        group = self._groups.get(group_id)
        self._store(f"g:{group_id}", group)
        return group

    def profile(self, profile_id: str) -> ProvisioningProfile | None:
        hit, value = self._cached(f"p:{profile_id}")
        if hit:
            return value if isinstance(value, ProvisioningProfile) else None
        profile = self._profiles.get(profile_id)
        self._store(f"p:{profile_id}", profile)
        return profile

    def forget(self) -> None:
        self._entries.clear()
