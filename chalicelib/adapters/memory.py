"""In-memory fakes of every storage port, with the same atomicity as the DynamoDB transactions.

One `MemoryDatabase` holds all state behind one lock; each repository checks every condition of a write
before applying any of it, exactly like a DynamoDB transaction.
"""

from __future__ import annotations

import hashlib
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

from chalicelib.adapters.cursor import decode_cursor, encode_cursor
from chalicelib.domain.audit import AuditEvent
from chalicelib.domain.calls import CallRecord, Direction
from chalicelib.domain.errors import ConcurrentModification, Conflict, FileMissing, NotFound, StaleReference
from chalicelib.domain.import_job import ImportJob
from chalicelib.domain.licensing import CachedLicence
from chalicelib.domain.model import (
    Account,
    Group,
    LoginAttempt,
    Operator,
    Page,
    ProvisioningProfile,
    Session,
    TimelineEvent,
)
from chalicelib.domain.provisioning import MessageStatus, ProvisioningToken, Purpose, QueuedSms, SmsMessage
from chalicelib.domain.registration import Registration
from chalicelib.services import guards
from chalicelib.services.ports import StoredFile, StoredResponse

T = TypeVar("T")


@dataclass
class MemoryDatabase:
    lock: threading.RLock = field(default_factory=threading.RLock)
    accounts: dict[str, Account] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    profiles: dict[str, ProvisioningProfile] = field(default_factory=dict)
    operators: dict[str, Operator] = field(default_factory=dict)
    uniques: dict[str, str] = field(default_factory=dict)
    timeline: dict[str, list[TimelineEvent]] = field(default_factory=dict)
    sessions: dict[str, Session] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    idempotency: dict[str, tuple[StoredResponse, datetime, datetime]] = field(default_factory=dict)
    logins: list[LoginAttempt] = field(default_factory=list)
    audit: list[AuditEvent] = field(default_factory=list)
    tokens: dict[str, ProvisioningToken] = field(default_factory=dict)
    latest_tokens: dict[tuple[str, str], str] = field(default_factory=dict)
    messages: dict[str, SmsMessage] = field(default_factory=dict)
    licences: dict[str, CachedLicence] = field(default_factory=dict)
    leases: dict[str, datetime] = field(default_factory=dict)
    imports: dict[str, ImportJob] = field(default_factory=dict)
    registrations: dict[tuple[str, str], Registration] = field(default_factory=dict)
    calls: dict[str, CallRecord] = field(default_factory=dict)

    def claim(self, entries: Iterable[tuple[str, str, str]]) -> None:
        """Check that every (guard key, owner, field) is free or already the owner's; raise on the first
        that is not. Callers apply their writes only after this returns."""
        for key, owner, field_name in entries:
            holder = self.uniques.get(key)
            if holder is not None and holder != owner:
                raise Conflict(guards.conflict_message(field_name), field=field_name, code="duplicate")


def _page(items: list[T], key: Callable[[T], str], limit: int, cursor: str | None) -> Page[T]:
    """A page after the cursor's position; cursors are `{"after": key}`, anything else is malformed (as a crafted
    cursor is on DynamoDB)."""
    ordered = sorted(items, key=key)
    if cursor:
        position = decode_cursor(cursor)
        after = position.get("after") if isinstance(position, dict) and set(position) == {"after"} else None
        if not isinstance(after, str) or not after:
            raise ValueError("malformed cursor")
        ordered = [item for item in ordered if key(item) > after]
    chunk = ordered[:limit]
    more = len(ordered) > limit
    return Page(chunk, encode_cursor({"after": key(chunk[-1])}) if more and chunk else None)


def _recent(items: list[T], at: Callable[[T], datetime], limit: int, now: datetime) -> list[T]:
    """Newest first, from the month of `now` and the one before: what DynamoDB's month indexes return."""
    previous = (now.year, now.month - 1) if now.month > 1 else (now.year - 1, 12)
    months = {(now.year, now.month), previous}
    kept = [item for item in items if (at(item).year, at(item).month) in months]
    return sorted(kept, key=at, reverse=True)[:limit]


def _check_version(stored: Account | Group | ProvisioningProfile | Operator | None, expected_version: int) -> None:
    if stored is None or stored.version != expected_version:
        raise ConcurrentModification("The item changed since it was read; reload and retry.")


class MemoryAccounts:
    def __init__(self, db: MemoryDatabase) -> None:
        self.db = db

    def add(self, account: Account, event: TimelineEvent) -> None:
        with self.db.lock:
            group = self.db.groups.get(account.group_id)
            if group is None:
                raise NotFound("Group not found.", field="group_id", code="group_not_found")
            self._check_profile(account)
            if account.id in self.db.accounts:
                raise guards.id_taken("an account")
            entries = guards.account_guards(account)
            self.db.claim(entries)
            for key, owner, _ in entries:
                self.db.uniques[key] = owner
            self.db.accounts[account.id] = account
            self.db.groups[group.id] = replace(group, account_count=group.account_count + 1)
            self._append(event)

    def add_many(self, accounts: Sequence[Account], events: Sequence[TimelineEvent]) -> None:
        with self.db.lock:
            timeline = {key: list(events) for key, events in self.db.timeline.items()}
            snapshot = (dict(self.db.accounts), dict(self.db.uniques), dict(self.db.groups), timeline)
            try:
                for account, event in zip(accounts, events, strict=True):
                    self.add(account, event)
            except Exception:
                self.db.accounts, self.db.uniques, self.db.groups, self.db.timeline = snapshot
                raise

    def _check_profile(self, account: Account) -> None:
        profile = self.db.profiles.get(account.provisioning_profile_id)
        realm = account.credentials.realm if account.credentials else None
        if profile is None or (realm is not None and profile.sip_domain != realm):
            raise StaleReference(
                "The provisioning profile was deleted or its SIP domain changed meanwhile.",
                field="provisioning_profile_id",
            )

    def get(self, account_id: str) -> Account | None:
        return self.db.accounts.get(account_id)

    def get_by_username(self, username: str) -> Account | None:
        owner = self.db.uniques.get(guards.username_key(username))
        return self.db.accounts.get(owner) if owner else None

    def get_by_number(self, number: str) -> Account | None:
        owner = self.db.uniques.get(guards.number_key(number))
        return self.db.accounts.get(owner) if owner else None

    def list_by_group(self, group_id: str, limit: int, cursor: str | None) -> Page[Account]:
        with self.db.lock:
            members = [a for a in self.db.accounts.values() if a.group_id == group_id]
        return _page(members, lambda a: a.username, limit, cursor)

    def replace(self, previous: Account, updated: Account, event: TimelineEvent) -> None:
        with self.db.lock:
            _check_version(self.db.accounts.get(previous.id), previous.version)
            moving = previous.group_id != updated.group_id
            if moving and updated.group_id not in self.db.groups:
                raise NotFound("Group not found.", field="group_id", code="group_not_found")
            self._check_profile(updated)
            old_entries = guards.account_guards(previous)
            new_entries = guards.account_guards(updated)
            self.db.claim(new_entries)
            for key, _, _ in old_entries:
                self.db.uniques.pop(key, None)
            for key, owner, _ in new_entries:
                self.db.uniques[key] = owner
            if moving:
                self._count(previous.group_id, -1)
                self._count(updated.group_id, +1)
            self.db.accounts[updated.id] = updated
            self._append(event)

    def _count(self, group_id: str, delta: int) -> None:
        group = self.db.groups.get(group_id)
        if group is not None:
            self.db.groups[group_id] = replace(group, account_count=group.account_count + delta)

    def remove(self, account: Account, event: TimelineEvent) -> None:
        with self.db.lock:
            _check_version(self.db.accounts.get(account.id), account.version)
            for key, _, _ in guards.account_guards(account):
                self.db.uniques.pop(key, None)
            del self.db.accounts[account.id]
            self._count(account.group_id, -1)
            self._append(event)

    def append_event(self, event: TimelineEvent) -> None:
        with self.db.lock:
            self._append(event)

    def _append(self, event: TimelineEvent) -> None:
        events = self.db.timeline.setdefault(event.account_id, [])
        if not event.event_id or all(e.event_id != event.event_id for e in events):
            events.append(event)

    def timeline(self, account_id: str, limit: int) -> list[TimelineEvent]:
        events = sorted(self.db.timeline.get(account_id, []), key=lambda e: e.at, reverse=True)
        return events[:limit]

    def profile_in_use(self, profile_id: str) -> bool:
        with self.db.lock:
            return any(a.provisioning_profile_id == profile_id for a in self.db.accounts.values())

    def taken_keys(self, keys: Sequence[str]) -> set[str]:
        with self.db.lock:
            return {key for key in keys if key in self.db.uniques}

    def get_many(self, account_ids: Sequence[str]) -> dict[str, Account]:
        with self.db.lock:
            return {i: self.db.accounts[i] for i in account_ids if i in self.db.accounts}


class MemoryGroups:
    def __init__(self, db: MemoryDatabase) -> None:
        self.db = db

    def add(self, group: Group) -> None:
        with self.db.lock:
            if group.provisioning_profile_id not in self.db.profiles:
                raise NotFound(
                    "Provisioning profile not found.", field="provisioning_profile_id", code="profile_not_found"
                )
            if group.id in self.db.groups:
                raise guards.id_taken("a group")
            entries = [guards.group_name_guard(group)]
            self.db.claim(entries)
            self.db.uniques[entries[0][0]] = group.id
            self.db.groups[group.id] = group

    def get(self, group_id: str) -> Group | None:
        return self.db.groups.get(group_id)

    def list(self, limit: int, cursor: str | None) -> Page[Group]:
        with self.db.lock:
            groups = list(self.db.groups.values())
        return _page(groups, lambda g: g.id, limit, cursor)

    def replace(self, previous: Group, updated: Group) -> None:
        with self.db.lock:
            stored = self.db.groups.get(previous.id)
            _check_version(stored, previous.version)
            if updated.provisioning_profile_id not in self.db.profiles:
                raise NotFound(
                    "Provisioning profile not found.", field="provisioning_profile_id", code="profile_not_found"
                )
            new_entry = guards.group_name_guard(updated)
            self.db.claim([new_entry])
            self.db.uniques.pop(guards.group_name_guard(previous)[0], None)
            self.db.uniques[new_entry[0]] = updated.id
            # The account counter is owned by account writes: keep the stored one.
            assert stored is not None
            self.db.groups[updated.id] = replace(updated, account_count=stored.account_count)

    def remove(self, group: Group) -> None:
        with self.db.lock:
            stored = self.db.groups.get(group.id)
            if stored is None:
                raise NotFound("Group not found.")
            if stored.account_count > 0:
                raise Conflict("The group still has accounts; delete or move them first.", code="group_not_empty")
            self.db.uniques.pop(guards.group_name_guard(group)[0], None)
            del self.db.groups[group.id]

    def profile_in_use(self, profile_id: str) -> bool:
        with self.db.lock:
            return any(g.provisioning_profile_id == profile_id for g in self.db.groups.values())


class MemoryProfiles:
    def __init__(self, db: MemoryDatabase) -> None:
        self.db = db

    def add(self, profile: ProvisioningProfile) -> None:
        with self.db.lock:
            if profile.id in self.db.profiles:
                raise guards.id_taken("a profile")
            entry = guards.profile_name_guard(profile)
            self.db.claim([entry])
            self.db.uniques[entry[0]] = profile.id
            self.db.profiles[profile.id] = profile

    def get(self, profile_id: str) -> ProvisioningProfile | None:
        return self.db.profiles.get(profile_id)

    def list(self, limit: int, cursor: str | None) -> Page[ProvisioningProfile]:
        with self.db.lock:
            profiles = list(self.db.profiles.values())
        return _page(profiles, lambda p: p.id, limit, cursor)

    def replace(self, previous: ProvisioningProfile, updated: ProvisioningProfile) -> None:
        with self.db.lock:
            _check_version(self.db.profiles.get(previous.id), previous.version)
            entry = guards.profile_name_guard(updated)
            self.db.claim([entry])
            self.db.uniques.pop(guards.profile_name_guard(previous)[0], None)
            self.db.uniques[entry[0]] = updated.id
            self.db.profiles[updated.id] = updated

    def remove(self, profile: ProvisioningProfile) -> None:
        with self.db.lock:
            _check_version(self.db.profiles.get(profile.id), profile.version)
            self.db.uniques.pop(guards.profile_name_guard(profile)[0], None)
            del self.db.profiles[profile.id]


class MemoryOperators:
    def __init__(self, db: MemoryDatabase) -> None:
        self.db = db

    def add(self, operator: Operator) -> None:
        with self.db.lock:
            if operator.id in self.db.operators:
                raise guards.id_taken("an operator")
            entry = guards.operator_guard(operator)
            self.db.claim([entry])
            self.db.uniques[entry[0]] = operator.id
            self.db.operators[operator.id] = operator

    def get(self, operator_id: str) -> Operator | None:
        return self.db.operators.get(operator_id)

    def get_by_username(self, username: str) -> Operator | None:
        owner = self.db.uniques.get(guards.operator_key(username))
        return self.db.operators.get(owner) if owner else None

    def list(self, limit: int, cursor: str | None) -> Page[Operator]:
        with self.db.lock:
            operators = list(self.db.operators.values())
        return _page(operators, lambda o: o.id, limit, cursor)

    def replace(self, previous: Operator, updated: Operator) -> None:
        with self.db.lock:
            _check_version(self.db.operators.get(previous.id), previous.version)
            self.db.operators[updated.id] = updated

    def remove(self, operator: Operator) -> None:
        with self.db.lock:
            _check_version(self.db.operators.get(operator.id), operator.version)
            self.db.uniques.pop(guards.operator_guard(operator)[0], None)
            del self.db.operators[operator.id]


class MemorySessions:
    def __init__(self, db: MemoryDatabase) -> None:
        self.db = db

    def add(self, session: Session) -> None:
        with self.db.lock:
            self.db.sessions[session.token_hash] = session

    def get(self, token_hash: str) -> Session | None:
        return self.db.sessions.get(token_hash)

    def remove(self, token_hash: str) -> None:
        with self.db.lock:
            self.db.sessions.pop(token_hash, None)

    def extend(self, token_hash: str, expires_at: datetime) -> None:
        with self.db.lock:
            session = self.db.sessions.get(token_hash)
            if session is not None:
                self.db.sessions[token_hash] = replace(session, expires_at=expires_at)

    def take(self, key: str, window_seconds: int, now: datetime, limit: int) -> bool:
        slot = f"{key}#{int(now.timestamp()) // window_seconds}"
        with self.db.lock:
            if self.db.counters.get(slot, 0) >= limit:
                return False
            self.db.counters[slot] = self.db.counters.get(slot, 0) + 1
            return True

    def give_back(self, key: str, window_seconds: int, now: datetime) -> None:
        slot = f"{key}#{int(now.timestamp()) // window_seconds}"
        with self.db.lock:
            if self.db.counters.get(slot, 0) > 0:
                self.db.counters[slot] -= 1


class MemoryIdempotency:
    def __init__(self, db: MemoryDatabase) -> None:
        self.db = db

    def claim(
        self, key: str, fingerprint: str, now: datetime, lease_until: datetime, expires: datetime
    ) -> StoredResponse | None:
        with self.db.lock:
            stored = self.db.idempotency.get(key)
            if stored is not None and stored[2] > now and (stored[0].status or stored[1] > now):
                return stored[0]
            self.db.idempotency[key] = (StoredResponse(fingerprint), lease_until, expires)
            return None

    def complete(self, key: str, response: StoredResponse, expires: datetime) -> None:
        with self.db.lock:
            self.db.idempotency[key] = (response, expires, expires)

    def release(self, key: str) -> None:
        with self.db.lock:
            self.db.idempotency.pop(key, None)


class MemoryLoginAudit:
    def __init__(self, db: MemoryDatabase) -> None:
        self.db = db

    def record(self, attempt: LoginAttempt) -> None:
        with self.db.lock:
            self.db.logins.append(attempt)

    def recent(self, limit: int, now: datetime) -> list[LoginAttempt]:
        return _recent(self.db.logins, lambda a: a.at, limit, now)


class MemoryAuditTrail:
    def __init__(self, db: MemoryDatabase) -> None:
        self.db = db

    def head(self) -> AuditEvent | None:
        with self.db.lock:
            return self.db.audit[-1] if self.db.audit else None

    def append(self, event: AuditEvent) -> bool:
        with self.db.lock:
            if event.seq != len(self.db.audit) + 1:
                return False
            self.db.audit.append(event)
            return True

    def newest(self, limit: int, before_seq: int | None) -> list[AuditEvent]:
        with self.db.lock:
            chain = self.db.audit[: (before_seq - 1) if before_seq else None]
            return list(reversed(chain[-limit:])) if limit else []

    def in_order(self) -> Iterator[AuditEvent]:
        with self.db.lock:
            chain = list(self.db.audit)
        return iter(chain)


class MemoryTokens:
    def __init__(self, db: MemoryDatabase) -> None:
        self.db = db

    def issue(self, token: ProvisioningToken) -> None:
        with self.db.lock:
            self.db.tokens[token.token_hash] = token
            self.db.latest_tokens[(token.account_id, token.purpose.value)] = token.token_hash

    def get(self, token_hash: str) -> tuple[ProvisioningToken, bool] | None:
        token = self.db.tokens.get(token_hash)
        if token is None:
            return None
        return token, self.db.latest_tokens.get((token.account_id, token.purpose.value)) == token_hash

    def consume(self, token_hash: str, at: datetime) -> None:
        with self.db.lock:
            token = self.db.tokens.get(token_hash)
            if token is None or token.used_at is not None:
                raise Conflict("This link was used already.", code="link_used")
            self.db.tokens[token_hash] = replace(token, used_at=at)

    def revoke(self, account_id: str, purposes: Sequence[Purpose]) -> None:
        with self.db.lock:
            for purpose in purposes:
                self.db.latest_tokens.pop((account_id, purpose.value), None)


class MemoryMessages:
    def __init__(self, db: MemoryDatabase) -> None:
        self.db = db

    def add(self, message: SmsMessage) -> None:
        with self.db.lock:
            if message.id in self.db.messages:
                raise guards.id_taken("a message")
            self.db.messages[message.id] = message

    def get(self, message_id: str) -> SmsMessage | None:
        return self.db.messages.get(message_id)

    def update(self, message: SmsMessage, expected: MessageStatus) -> bool:
        with self.db.lock:
            stored = self.db.messages.get(message.id)
            if stored is None or stored.status is not expected:
                return False
            self.db.messages[message.id] = message
            return True

    def recent(self, limit: int, now: datetime) -> list[SmsMessage]:
        return _recent(list(self.db.messages.values()), lambda m: m.created_at, limit, now)

    def for_account(self, account_id: str, limit: int) -> list[SmsMessage]:
        mine = [m for m in self.db.messages.values() if m.account_id == account_id]
        return sorted(mine, key=lambda m: m.created_at, reverse=True)[:limit]


class MemoryQueue:
    """An in-process queue: `drain` hands every waiting message id to a consumer, like the SQS trigger."""

    def __init__(self) -> None:
        self.waiting: list[QueuedSms] = []
        self._lock = threading.Lock()

    def enqueue(self, sms: QueuedSms) -> None:
        with self._lock:
            self.waiting.append(sms)

    def drain(self, consumer: Callable[[QueuedSms], object]) -> int:
        with self._lock:
            batch, self.waiting = self.waiting, []
        for sms in batch:
            consumer(sms)
        return len(batch)


class MemoryLicences:
    def __init__(self, db: MemoryDatabase) -> None:
        self.db = db

    def get(self, account_id: str) -> CachedLicence | None:
        return self.db.licences.get(account_id)

    def put(self, cached: CachedLicence) -> None:
        with self.db.lock:
            self.db.licences[cached.account_id] = cached

    def acquire_lease(self, account_id: str, until: datetime, now: datetime) -> bool:
        with self.db.lock:
            held = self.db.leases.get(account_id)
            if held is not None and held > now:
                return False
            self.db.leases[account_id] = until
            return True

    def release_lease(self, account_id: str) -> None:
        with self.db.lock:
            self.db.leases.pop(account_id, None)


class MemoryImports:
    def __init__(self, db: MemoryDatabase) -> None:
        self.db = db

    def add(self, job: ImportJob) -> bool:
        with self.db.lock:
            if job.id in self.db.imports:
                return False
            self.db.imports[job.id] = job
            return True

    def replace(self, previous: ImportJob, updated: ImportJob) -> bool:
        with self.db.lock:
            stored = self.db.imports.get(previous.id)
            if stored is None or stored.version != previous.version:
                return False
            self.db.imports[updated.id] = updated
            return True

    def get(self, job_id: str) -> ImportJob | None:
        return self.db.imports.get(job_id)

    def recent(self, limit: int, now: datetime) -> list[ImportJob]:
        return _recent(list(self.db.imports.values()), lambda j: j.created_at, limit, now)


class MemoryRegistrations:
    def __init__(self, db: MemoryDatabase) -> None:
        self.db = db

    def put(self, registration: Registration) -> bool:
        key = (registration.account_id, registration.contact)
        with self.db.lock:
            stored = self.db.registrations.get(key)
            if stored is not None and not registration.supersedes(stored):
                return False
            self.db.registrations[key] = registration
            return True

    def for_account(self, account_id: str) -> list[Registration]:
        with self.db.lock:
            return [r for (owner, _), r in self.db.registrations.items() if owner == account_id]

    def online_in_group(self, group_id: str, limit: int, cursor: str | None) -> Page[Registration]:
        with self.db.lock:
            found = [r for r in self.db.registrations.values() if r.active and r.group_id == group_id]
        return _page(found, lambda r: f"{r.username}#{r.contact}", limit, cursor)


class MemoryCalls:
    def __init__(self, db: MemoryDatabase) -> None:
        self.db = db

    def get(self, call_id: str) -> CallRecord | None:
        with self.db.lock:
            return self.db.calls.get(call_id)

    def put(self, record: CallRecord) -> bool:
        with self.db.lock:
            stored = self.db.calls.get(record.call_id)
            if (stored.version if stored else 0) != record.version - 1:
                return False
            self.db.calls[record.call_id] = record
            return True

    def for_account(self, account_id: str, direction: Direction, limit: int, cursor: str | None) -> Page[CallRecord]:
        party = "caller_account_id" if direction is Direction.PLACED else "callee_account_id"
        with self.db.lock:
            found = [r for r in self.db.calls.values() if getattr(r, party) == account_id]
        # newest first: the key sorts descending by start (inverted timestamp), then by call id
        return _page(found, lambda r: f"{9e12 - r.started_at.timestamp():020.6f}#{r.call_id}", limit, cursor)


class MemoryFiles:
    """The import bucket in memory (objects are bytes; the ETag is their MD5, as S3's for single-part puts)."""

    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, dict[str, str]]] = {}
        self.lock = threading.Lock()

    def read(self, key: str) -> Iterator[bytes]:
        with self.lock:
            found = self.objects.get(key)
        if found is None:
            raise FileMissing(f"No file {key}.")
        data = found[0]
        for start in range(0, len(data), 64 * 1024):
            yield data[start : start + 64 * 1024]

    def write(self, key: str, chunks: Iterable[bytes], content_type: str = "text/csv") -> None:
        self.put(key, b"".join(chunks))

    def put(self, key: str, data: bytes, metadata: dict[str, str] | None = None) -> None:
        with self.lock:
            self.objects[key] = (data, dict(metadata or {}))

    def info(self, key: str) -> StoredFile | None:
        with self.lock:
            found = self.objects.get(key)
        if found is None:
            return None
        etag = hashlib.md5(found[0], usedforsecurity=False).hexdigest()
        return StoredFile(key=key, size=len(found[0]), etag=etag, version="", metadata=found[1])

    def upload_form(self, key: str, max_bytes: int, expires_seconds: int) -> dict[str, Any]:
        return {"url": "memory://imports", "fields": {"key": key}}

    def delete_prefix(self, prefix: str) -> None:
        with self.lock:
            for key in [k for k in self.objects if k.startswith(prefix)]:
                del self.objects[key]


class MemoryTasks:
    """The import work queue in memory; whoever drives the pipeline (a test, the CLI) takes the tasks."""

    def __init__(self) -> None:
        self.tasks: deque[dict[str, Any]] = deque()

    def send(self, task: Mapping[str, Any]) -> None:
        self.tasks.append(dict(task))
