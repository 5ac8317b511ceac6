"""What every use case receives: the ports, a clock and the settings (wired by bootstrap.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from chalicelib.domain.model import utcnow
from chalicelib.services.ports import (
    AccountRepository,
    GroupRepository,
    LoginAudit,
    OperatorRepository,
    PasswordHasher,
    ProfileRepository,
    SessionStore,
)
from chalicelib.settings import Settings


@dataclass
class Context:
    accounts: AccountRepository
    groups: GroupRepository
    profiles: ProfileRepository
    operators: OperatorRepository
    sessions: SessionStore
    login_audit: LoginAudit
    hasher: PasswordHasher
    settings: Settings
    clock: Callable[[], datetime] = field(default=utcnow)
