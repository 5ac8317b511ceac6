"""What every use case receives: the ports, a clock and the settings (wired by bootstrap.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from chalicelib.domain.model import utcnow
from chalicelib.services.ports import (
    AccountRepository,
    AuditTrail,
    CallStore,
    EmailSender,
    FileStore,
    GroupRepository,
    IdempotencyStore,
    ImportStore,
    LicenceCache,
    LicenceUpstream,
    LoginAudit,
    MessageStore,
    OperatorRepository,
    PasswordHasher,
    ProfileRepository,
    RegistrationStore,
    SessionStore,
    SmsQueue,
    SmsSender,
    TaskQueue,
    TokenStore,
)
from chalicelib.services.recent_devices import RecentDevices
from chalicelib.services.reference import ReferenceCache
from chalicelib.services.search_port import SearchIndex
from chalicelib.settings import Settings


@dataclass
class Context:
    accounts: AccountRepository
    groups: GroupRepository
    profiles: ProfileRepository
    operators: OperatorRepository
    sessions: SessionStore
    idempotency: IdempotencyStore
    login_audit: LoginAudit
    audit: AuditTrail
    search: SearchIndex
    tokens: TokenStore
    messages: MessageStore
    sms_queue: SmsQueue
    sms: SmsSender
    email: EmailSender
    licences: LicenceCache
    imports: ImportStore
    registrations: RegistrationStore
    calls: CallStore
    files: FileStore
    tasks: TaskQueue
    licence_upstream: LicenceUpstream
    hasher: PasswordHasher
    settings: Settings
    clock: Callable[[], datetime] = field(default=utcnow)
    # Ids of new items: random, or derived from the request's Idempotency-Key (a resent request finds its own write)
    new_id: Callable[[], str] = field(default=lambda: str(uuid.uuid4()))
    reference: ReferenceCache = field(init=False)
    recent_devices: RecentDevices = field(init=False)

    def __post_init__(self) -> None:
        self.reference = ReferenceCache(self.groups, self.profiles, self.clock, self.settings.reference_cache_seconds)
        self.recent_devices = RecentDevices(self.clock, self.settings.licence_auth_cache_seconds)
