"""The ports the services need: each has an in-memory fake and a DynamoDB adapter.

Every write that must keep an invariant (unique username and numbers, group account counts) is one atomic
call here, so the adapters can implement it as a single DynamoDB transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from chalicelib.domain.audit import AuditEvent
from chalicelib.domain.calls import CallRecord, Direction
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


@dataclass(frozen=True)
class StoredFile:
    key: str
    size: int
    etag: str
    version: str  # empty when the bucket is not versioned
    metadata: dict[str, str]


class AccountRepository(Protocol):
    def add(self, account: Account, event: TimelineEvent) -> None:
        """Store a new account with its guards. Raises Conflict(field="username" | "phone_number" |
        "secondary_phone_number") on a taken value, Conflict(field="id") on an existing id,
        NotFound(field="group_id") on a missing group, StaleReference(field="provisioning_profile_id") when the
        profile is missing or its SIP domain is not the one the digests were made for."""

    def add_many(self, accounts: Sequence[Account], events: Sequence[TimelineEvent]) -> None:
        """Store new accounts (batch accounts without SIP credentials) all together or none: one transaction.
        Raises what `add` raises for the first account in the way."""

    def get(self, account_id: str) -> Account | None: ...

    def get_by_username(self, username: str) -> Account | None: ...

    def get_by_number(self, number: str) -> Account | None:
        """The account whose primary or secondary number this is."""

    def list_by_group(self, group_id: str, limit: int, cursor: str | None) -> Page[Account]:
        """Accounts of one group ordered by username. Raises ValueError on a malformed cursor."""

    def replace(self, previous: Account, updated: Account, event: TimelineEvent) -> None:
        """Write `updated` if the stored version is still `previous.version` (else ConcurrentModification);
        moves the username guard and the group counters when they change."""

    def remove(self, account: Account, event: TimelineEvent) -> None:
        """Delete the account and its guards if unchanged since read (else ConcurrentModification)."""

    def append_event(self, event: TimelineEvent) -> None: ...

    def timeline(self, account_id: str, limit: int) -> list[TimelineEvent]:
        """Newest first."""

    def profile_in_use(self, profile_id: str) -> bool: ...

    def taken_keys(self, keys: Sequence[str]) -> set[str]:
        """Which of these guard keys (guards.username_key / number_key) are taken: one batched read."""

    def get_many(self, account_ids: Sequence[str]) -> dict[str, Account]:
        """The accounts of these ids that exist: one batched read."""


class GroupRepository(Protocol):
    def add(self, group: Group) -> None:
        """Raises Conflict(field="name" | "id"), NotFound(field="provisioning_profile_id")."""

    def get(self, group_id: str) -> Group | None: ...

    def list(self, limit: int, cursor: str | None) -> Page[Group]: ...

    def replace(self, previous: Group, updated: Group) -> None: ...

    def remove(self, group: Group) -> None:
        """Raises Conflict(code="group_not_empty") while the group has accounts, NotFound when it is gone."""

    def profile_in_use(self, profile_id: str) -> bool: ...


class ProfileRepository(Protocol):
    def add(self, profile: ProvisioningProfile) -> None: ...

    def get(self, profile_id: str) -> ProvisioningProfile | None: ...

    def list(self, limit: int, cursor: str | None) -> Page[ProvisioningProfile]: ...

    def replace(self, previous: ProvisioningProfile, updated: ProvisioningProfile) -> None: ...

    def remove(self, profile: ProvisioningProfile) -> None: ...


class OperatorRepository(Protocol):
    def add(self, operator: Operator) -> None: ...

    def get(self, operator_id: str) -> Operator | None: ...

    def get_by_username(self, username: str) -> Operator | None: ...

    def list(self, limit: int, cursor: str | None) -> Page[Operator]: ...

    def replace(self, previous: Operator, updated: Operator) -> None: ...

    def remove(self, operator: Operator) -> None: ...


class SessionStore(Protocol):
    def add(self, session: Session) -> None: ...

    def get(self, token_hash: str) -> Session | None:
        """The stored session, expired or not: callers check `expires_at` (DynamoDB TTL deletes lazily)."""

    def remove(self, token_hash: str) -> None: ...

    def extend(self, token_hash: str, expires_at: datetime) -> None:
        """Move a session's expiry, only if the session still exists (a logout is never undone)."""

    def take(self, key: str, window_seconds: int, now: datetime, limit: int) -> bool:
        """Count one event for `key` in the current fixed window if fewer than `limit` are counted there, in one
        atomic step (a conditional update): concurrent callers never pass the limit. False when it is reached."""

    def give_back(self, key: str, window_seconds: int, now: datetime) -> None:
        """Uncount one event taken in this window (an attempt that turned out to be legitimate)."""


@dataclass(frozen=True)
class StoredResponse:
    """What a POST with an Idempotency-Key answered (status 0: still running), with its request's fingerprint."""

    fingerprint: str
    status: int = 0
    content_type: str = ""
    body: str = ""


class IdempotencyStore(Protocol):
    def claim(
        self, key: str, fingerprint: str, now: datetime, lease_until: datetime, expires: datetime
    ) -> StoredResponse | None:
        """Start the request of this key: None when this caller may run it (the key is new, or an earlier run's
        lease ran out without an answer), else what is stored (an answer, or a run in progress)."""

    def complete(self, key: str, response: StoredResponse, expires: datetime) -> None: ...

    def release(self, key: str) -> None:
        """Forget the key (its run failed with no answer worth repeating): the next request runs again."""


class LoginAudit(Protocol):
    def record(self, attempt: LoginAttempt) -> None: ...

    def recent(self, limit: int, now: datetime) -> list[LoginAttempt]:
        """Newest first, from the month of `now` and the month before (the month index the tables keep)."""


class AuditTrail(Protocol):
    """The audit chain (domain/audit.py): appended to, never changed."""

    def head(self) -> AuditEvent | None:
        """The last entry (strongly consistent), None when the chain is empty."""

    def append(self, event: AuditEvent) -> bool:
        """Store the entry if its seq is still free (False: another writer took it; re-read the head)."""

    def newest(self, limit: int, before_seq: int | None) -> list[AuditEvent]:
        """Entries newest first, below `before_seq` when given."""

    def in_order(self) -> Iterator[AuditEvent]:
        """Every entry, oldest first (the chain check)."""


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool: ...


class TokenStore(Protocol):
    def issue(self, token: ProvisioningToken) -> None:
        """Store the token and make it the account's only valid one for its purpose."""

    def get(self, token_hash: str) -> tuple[ProvisioningToken, bool] | None:
        """The token and whether it is still the latest of its account and purpose."""

    def consume(self, token_hash: str, at: datetime) -> None:
        """Mark a single-use token used; Conflict if it already was (a race between two redemptions)."""

    def revoke(self, account_id: str, purposes: Sequence[Purpose]) -> None:
        """No token of these purposes works any more for the account (until a new one is issued)."""


class MessageStore(Protocol):
    def add(self, message: SmsMessage) -> None:
        """Raises Conflict(field="id") when a message with this id is stored already."""

    def get(self, message_id: str) -> SmsMessage | None: ...

    def update(self, message: SmsMessage, expected: MessageStatus) -> bool:
        """Write `message` if the stored status is still `expected`; False when another delivery won."""

    def recent(self, limit: int, now: datetime) -> list[SmsMessage]:
        """Newest first, from the month of `now` and the month before (the console's Outbox page)."""

    def for_account(self, account_id: str, limit: int) -> list[SmsMessage]: ...


class SmsQueue(Protocol):
    def enqueue(self, sms: QueuedSms) -> None: ...


class EmailSender(Protocol):
    def send(self, to: str, subject: str, body: str) -> str:
        """Send an e-mail; returns the provider's message id. Raises ProviderError."""


class SmsSender(Protocol):
    def send(self, to: str, body: str, status_callback: str) -> str:
        """Hand the text to the provider; returns its message id. Raises ProviderError."""


class LicenceCache(Protocol):
    def get(self, account_id: str) -> CachedLicence | None: ...

    def put(self, cached: CachedLicence) -> None: ...

    def acquire_lease(self, account_id: str, until: datetime, now: datetime) -> bool:
        """Become the one caller that refreshes this account's licence (until `until`); False if another
        caller holds an unexpired lease."""

    def release_lease(self, account_id: str) -> None: ...


class LicenceUpstream(Protocol):
    def validate(self, account: str, nonce: str) -> object:
        """The vendor's decoded JSON answer. Raises UpstreamUnavailable (down, slow, 5xx, not JSON)."""


class FileStore(Protocol):
    """Import files, staged chunks and result files (S3 in AWS and locally on moto; memory in unit tests)."""

    def read(self, key: str) -> Iterator[bytes]:
        """The object's bytes as a stream of chunks. Raises FileMissing."""

    def write(self, key: str, chunks: Iterable[bytes], content_type: str = "text/csv") -> None: ...

    def info(self, key: str) -> StoredFile | None: ...

    def upload_form(self, key: str, max_bytes: int, expires_seconds: int) -> dict[str, Any]:
        """A presigned POST (url and form fields) that lets a browser or script upload one object."""

    def delete_prefix(self, prefix: str) -> None: ...


class TaskQueue(Protocol):
    """The import pipeline's work queue (SQS): one message per step of a job."""

    def send(self, task: Mapping[str, Any]) -> None: ...


class RegistrationStore(Protocol):
    def put(self, registration: Registration) -> bool:
        """Store this state of the account's contact unless a state from a later event is stored already
        (events arrive unordered). True when written."""

    def for_account(self, account_id: str) -> list[Registration]:
        """Every stored contact of the account, ended ones included."""

    def online_in_group(self, group_id: str, limit: int, cursor: str | None) -> Page[Registration]:
        """Active registrations of a group by username (callers still check `expires_at`). Raises ValueError
        on a malformed cursor."""


class ImportStore(Protocol):
    def add(self, job: ImportJob) -> bool:
        """Store a new job; False (and nothing written) when a job with this id exists already."""

    def replace(self, previous: ImportJob, updated: ImportJob) -> bool:
        """Write `updated` if the stored job is still `previous` (same version); False when another worker
        got there first."""

    def get(self, job_id: str) -> ImportJob | None: ...

    def recent(self, limit: int, now: datetime) -> list[ImportJob]:
        """Newest first, from the month of `now` and the month before (the month index the tables keep)."""


class CallStore(Protocol):
    """Call records (docs/calls.md): one per call attempt, listed per account and direction, newest first."""

    def get(self, call_id: str) -> CallRecord | None: ...

    def put(self, record: CallRecord) -> bool:
        """Write `record` if the stored one still has version `record.version - 1` (none stored for version 1);
        False when another writer got there first (the caller reads again and merges again)."""

    def for_account(self, account_id: str, direction: Direction, limit: int, cursor: str | None) -> Page[CallRecord]:
        """The account's calls placed or received, newest first. Raises ValueError on a malformed cursor."""
