"""The audit trail: every operator action, append-only, each entry chained to the one before by a hash, so that
a changed, removed or inserted entry breaks the chain (`verify`)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime

from chalicelib.domain.model import iso

GENESIS = "0" * 64  # the "previous hash" of the first entry


@dataclass(frozen=True)
class AuditEvent:
    seq: int  # 1, 2, 3...: the chain's order
    at: datetime
    actor: str  # the operator's username ("" for a failed login of an unknown user)
    source: str  # where from: the request's source address
    action: str  # e.g. account.update, account.bulk.disable, login.failure
    target_kind: str  # account, group, profile, operator, import, session
    target_id: str
    detail: dict[str, str] = field(default_factory=dict)  # what: field diffs, counts (never a secret)
    prev_hash: str = GENESIS
    hash: str = ""

    def body(self) -> str:
        """The entry's content as hashed: canonical JSON of every field but the hash itself."""
        content = {"seq": self.seq, "at": iso(self.at), "actor": self.actor, "source": self.source,
                   "action": self.action, "target_kind": self.target_kind, "target_id": self.target_id,
                   "detail": self.detail, "prev_hash": self.prev_hash}  # fmt: skip
        return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def sealed(self) -> AuditEvent:
        return replace(self, hash=hashlib.sha256(self.body().encode()).hexdigest())


def chained(event: AuditEvent, head: AuditEvent | None) -> AuditEvent:
    """`event` as the entry after `head` (the chain's last entry, None when empty), sealed."""
    return replace(event, seq=(head.seq + 1) if head else 1, prev_hash=head.hash if head else GENESIS).sealed()


@dataclass(frozen=True)
class ChainCheck:
    entries: int
    problems: list[str]

    @property
    def intact(self) -> bool:
        return not self.problems


def verify(events: Iterable[AuditEvent]) -> ChainCheck:
    """Walk the chain in order: every entry's hash matches its content, and names the hash before it."""
    problems: list[str] = []
    previous: AuditEvent | None = None
    count = 0
    for event in events:
        count += 1
        expected_seq = previous.seq + 1 if previous else 1
        if event.seq != expected_seq:
            problems.append(f"entry {event.seq}: expected entry {expected_seq} here (an entry is missing or added)")
        if event.prev_hash != (previous.hash if previous else GENESIS):
            problems.append(f"entry {event.seq}: does not name the hash of the entry before it")
        if event.sealed().hash != event.hash:
            problems.append(f"entry {event.seq}: its content does not match its hash (changed after it was written)")
        previous = event
    return ChainCheck(count, problems)
