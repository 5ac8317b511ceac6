"""The registry timer process's view of who is registered here: keep-alive pings, the re-check that removes
accounts which may no longer register, and the events those produce.

SIP workers report facts (registered, unregistered, expired, keep-alive replies) through a Kamailio mqueue; one
timer process owns this object, so it needs no locks. usrloc stays the truth for routing; this is a mirror of
it with what usrloc does not hold (account id, keep-alive flag, ping state).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sipedge.config import EdgeConfig
from sipedge.directory import Account, Directory, DirectoryUnavailable
from sipedge.events import make_event
from sipedge.policy import standing_refusal

PING_FAILURE_CODES = frozenset({408, 477, 478})  # no answer, or the connection could not be used (tm's own codes)
RECHECK_BATCH = 100  # accounts read together (BatchGetItem's limit; the sidecar answers them in datagrams of 50)
EXPIRY_GRACE_SECONDS = 30.0  # usrloc's expiry callback normally comes first; this only bounds stale entries


@dataclass
class Registration:
    aor: str
    aor_uri: str
    username: str
    account_id: str
    contact: str
    source: str
    transport: str
    socket: str
    user_agent: str
    expires_at: float
    keep_alive: bool
    next_ping: float = 0.0
    ping_token: str | None = None
    ping_sent_at: float = 0.0
    seq: int = field(default=0)
    conid: str = ""  # the TCP/TLS connection's id in this task (empty over UDP)


class Actions(Protocol):
    """What the registry asks Kamailio to do (the KEMI script implements it; tests record it)."""

    def send_ping(self, registration: Registration, token: str) -> bool: ...

    def holds(self, registration: Registration) -> bool:
        """The fleet's location still has this contact as held by this task (the phone has not moved on)."""

    def drop(self, registration: Registration) -> bool:
        """Removes this task's contact from the fleet's location; False when it is no longer this task's."""

    def close(self, registration: Registration) -> None:
        """Closes the phone's TCP or TLS connection (so the phone notices and registers again)."""

    def emit(self, event: dict[str, Any]) -> None: ...


class Registry:
    def __init__(
        self, config: EdgeConfig, directory: Directory, actions: Actions, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._config = config
        self._directory = directory
        self._actions = actions
        self._clock = clock
        self.entries: dict[str, Registration] = {}
        self._recheck_queue: list[str] = []
        self._recheck_round_started = 0.0
        self._per_tick = 1

    # facts from the SIP workers -------------------------------------------------------------------------------

    def registered(self, fact: dict[str, Any]) -> None:
        now = self._clock()
        aor = str(fact["aor"])
        previous = self.entries.get(aor)
        same = previous is not None and previous.contact == fact["contact"] and previous.source == fact["source"]
        entry = Registration(
            aor=aor,
            aor_uri=str(fact.get("aor_uri") or f"sip:{aor}@edge"),
            username=str(fact["username"]),
            account_id=str(fact["account_id"]),
            contact=str(fact["contact"]),
            source=str(fact["source"]),
            transport=str(fact["transport"]),
            socket=str(fact["socket"]),
            user_agent=str(fact.get("user_agent", "")),
            expires_at=now + float(fact["expires"]),
            keep_alive=bool(fact["keep_alive"]),
            conid=str(fact.get("conid") or ""),
            next_ping=previous.next_ping if same and previous else now + self._config.keepalive_seconds,
        )
        if same and previous:
            entry.ping_token, entry.ping_sent_at, entry.seq = previous.ping_token, previous.ping_sent_at, previous.seq
        elif previous is not None and previous.contact != entry.contact:
            # one contact per account (registrar save flag 0x04): the new contact replaced the old one
            self._emit("unregistered", previous)
        self.entries[aor] = entry

    def unregistered(self, fact: dict[str, Any]) -> None:
        entry = self.entries.pop(str(fact["aor"]), None)
        if fact.get("contact") == "*" and entry is not None:
            self._emit("unregistered", entry)  # the worker saw only the wildcard, not which contact went

    def expired(self, fact: dict[str, Any]) -> None:
        """usrloc dropped a contact whose expiry passed: report it with what the mirror knows."""
        aor = str(fact["aor"])
        entry = self.entries.get(aor)
        if entry is not None and entry.contact == fact.get("contact", entry.contact):
            del self.entries[aor]
        self._emit("expired", entry, username=aor, contact=str(fact.get("contact", "")))

    def ping_reply(self, token: str, code: int) -> None:
        aor = token.rsplit("|", 1)[0]
        entry = self.entries.get(aor)
        if entry is None or entry.ping_token != token:
            return  # a late answer to an older ping, or the contact is gone already
        if code in PING_FAILURE_CODES:
            self._keepalive_failed(entry)
        else:
            entry.ping_token = None

    # the timer ------------------------------------------------------------------------------------------------

    def tick(self) -> None:
        now = self._clock()
        for entry in list(self.entries.values()):
            if entry.expires_at + EXPIRY_GRACE_SECONDS < now:
                del self.entries[entry.aor]
            elif entry.keep_alive:
                self._keepalive(entry, now)
        self._recheck_some(now)

    def _keepalive(self, entry: Registration, now: float) -> None:
        if entry.ping_token is not None:
            if now - entry.ping_sent_at > self._config.keepalive_timeout_seconds:
                self._keepalive_failed(entry)
            return
        if now < entry.next_ping:
            return
        if not self._actions.holds(entry):  # the phone registered through another task since: its pings go there
            del self.entries[entry.aor]
            return
        entry.seq += 1
        token = f"{entry.aor}|{entry.seq}"
        entry.ping_token, entry.ping_sent_at = token, now
        entry.next_ping = now + self._config.keepalive_seconds
        if not self._actions.send_ping(entry, token):
            self._keepalive_failed(entry)

    def _keepalive_failed(self, entry: Registration) -> None:
        self.entries.pop(entry.aor, None)
        if self._actions.drop(entry):
            self._actions.close(entry)
            self._emit("keepalive_failed", entry)

    def _recheck_some(self, now: float) -> None:
        """Reads every registered account again once per `recheck_seconds`, spread over the first half of the
        round's ticks, in batches (BatchGetItem through the sidecar, not one GetItem after another)."""
        if not self._recheck_queue:
            if now - self._recheck_round_started < self._config.recheck_seconds:
                return
            self._recheck_round_started = now
            self._recheck_queue = sorted({entry.account_id for entry in self.entries.values()})
            self._per_tick = max(1, math.ceil(len(self._recheck_queue) / max(self._config.recheck_seconds / 2, 1)))
        batch, self._recheck_queue = self._recheck_queue[: self._per_tick], self._recheck_queue[self._per_tick :]
        for start in range(0, len(batch), RECHECK_BATCH):
            chunk = batch[start : start + RECHECK_BATCH]
            try:
                found = self._directory.by_ids(chunk)
            except DirectoryUnavailable:
                continue  # try again next round; never drop phones because the backend hiccupped
            for account_id in chunk:
                self._recheck(account_id, found.get(account_id))

    def _recheck(self, account_id: str, account: Account | None) -> None:
        if account is None:
            reason = "account_deleted"
        else:
            refusal = standing_refusal(account)
            if refusal is None:
                return
            reason = refusal.reason
        for entry in [e for e in self.entries.values() if e.account_id == account_id]:
            del self.entries[entry.aor]
            if self._actions.drop(entry):
                self._emit("removed", entry, reason=reason)

    def _emit(
        self, kind: str, entry: Registration | None, *, reason: str = "", username: str = "", contact: str = ""
    ) -> None:
        self._actions.emit(
            make_event(
                kind,
                edge=self._config.edge_id,
                username=entry.username if entry else username,
                account_id=entry.account_id if entry else "",
                contact=entry.contact if entry else contact,
                source=entry.source if entry else "",
                transport=entry.transport if entry else "",
                user_agent=entry.user_agent if entry else "",
                reason=reason,
            )
        )
