"""A short per-instance memory of licence validations that succeeded, for the phones' warm path.

A validation needs the device token (and whether it is still the account's latest), the account, its group and
the cached licence: several reads for an answer that rarely changes. For `ttl_seconds` after a validation that
served a fresh licence, the same token is answered from this memory without reading anything. That is the bound:
a disabled account or group, a revoked or superseded device token, an account moved to a disabled group, a
renamed account or a forced refresh on another instance take effect on this instance at most `ttl_seconds`
later (LICENCE_AUTH_CACHE_SECONDS, 5 s by default; 0 turns the memory off). Failures are never remembered, and
a licence is served from here only while it is still fresh, so the vendor-down path is the uncached one.
At most `max_entries` tokens are kept (the oldest go first).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta

from chalicelib.domain.licensing import CachedLicence

MAX_ENTRIES = 10_000


class RecentDevices:
    def __init__(self, clock: Callable[[], datetime], ttl_seconds: float, max_entries: int = MAX_ENTRIES) -> None:
        self._clock = clock
        self._ttl = timedelta(seconds=ttl_seconds)
        self._max = max_entries
        self._entries: OrderedDict[str, tuple[datetime, CachedLicence]] = OrderedDict()
        self._guard = threading.Lock()

    def get(self, token_hash: str) -> CachedLicence | None:
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            with self._guard:
                self._entries.pop(token_hash, None)
            return None
        return entry[1]

    def remember(self, token_hash: str, cached: CachedLicence) -> None:
        if not self._ttl:
            return
        with self._guard:
            self._entries.pop(token_hash, None)
            self._entries[token_hash] = (self._clock() + self._ttl, cached)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
