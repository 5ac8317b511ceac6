"""Domain dataclasses: accounts, groups, provisioning profiles, operators, sessions, timeline."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Generic, TypeVar

T = TypeVar("T")


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a trailing Z, millisecond precision."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class AccountType(StrEnum):
    PGSM = "PGSM"
    SNOM = "SNOM"


class SecurityModel(StrEnum):
    SDES = "SDES"  # PrivateGSM Enterprise (end-to-site)
    ZRTP = "ZRTP"  # PrivateGSM Professional (end-to-end)


class Language(StrEnum):
    """The language of the SIP edge's announcements to a group's accounts (docs/calls.md)."""

    EN = "en"
    IT = "it"
    FR = "fr"
    ES = "es"
    DE = "de"


class AccountStatus(StrEnum):
    CREATED = "created"
    INSTALLATION_SMS_SENT = "installation_sms_sent"
    INSTALLED = "installed"
    ACTIVATION_SMS_SENT = "activation_sms_sent"
    ACTIVATED = "activated"
    CONNECTED = "connected"

    @property
    def label(self) -> str:
        """The manual's wording, as the console shows it."""
        return STATUS_LABELS[self]


STATUS_LABELS = {
    AccountStatus.CREATED: "Created",
    AccountStatus.INSTALLATION_SMS_SENT: "Installation SMS sent",
    AccountStatus.INSTALLED: "Installed",
    AccountStatus.ACTIVATION_SMS_SENT: "Activation SMS sent",
    AccountStatus.ACTIVATED: "Activated",
    AccountStatus.CONNECTED: "Connected",
}


class CreationMode(StrEnum):
    PLAIN = "plain"
    WIZARD = "wizard"
    BATCH = "batch"


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    VIEWER = "viewer"


class Transport(StrEnum):
    TLS = "tls"
    TCP = "tcp"
    UDP = "udp"


DEFAULT_OBFUSCATION_KEY = "9"


@dataclass(frozen=True)
class SipCredentials:
    """SIP digest secrets for one realm; the plain password is never kept."""

    realm: str
    ha1: str  # MD5(username:realm:password)
    ha1b: str  # MD5(username@realm:realm:password), for clients that send user@domain
    ha1_sha256: str  # SHA-256(username:realm:password), RFC 8760


@dataclass(frozen=True)
class Account:
    id: str
    username: str
    group_id: str
    provisioning_profile_id: str
    phone_number: str
    secondary_phone_number: str | None
    account_type: AccountType
    security_model: SecurityModel
    obfuscation_enabled: bool
    obfuscation_key: str | None
    keep_alive: bool
    permit: tuple[str, ...]
    deny: tuple[str, ...]
    full_name: str
    email: str
    description: str
    enabled: bool
    status: AccountStatus
    status_changed_at: datetime
    created_at: datetime
    updated_at: datetime
    creation_mode: CreationMode
    credentials: SipCredentials | None
    version: int = 1
    sms_problem: str = ""  # the last text message's failure, until a later one gets through
    # the SIP edge's per-account lockout (docs/sip-events.md): until when it said the account is locked out, and
    # when an operator last lifted a lockout (the edge reads this and ignores locks that began before it)
    sip_locked_until: datetime | None = None
    sip_lock_lifted_at: datetime | None = None

    def sip_locked(self, now: datetime) -> bool:
        return self.sip_locked_until is not None and self.sip_locked_until > now

    @property
    def numbers(self) -> tuple[str, ...]:
        if self.secondary_phone_number:
            return (self.phone_number, self.secondary_phone_number)
        return (self.phone_number,)

    @property
    def has_international_number(self) -> bool:
        """Only international (+) numbers can use automatic activation."""
        return self.phone_number.startswith("+")

    def with_status(self, status: AccountStatus, at: datetime) -> Account:
        """The account moved to `status` at `at` (manual 1.1.4: the list shows the last status and its date).
        Re-sending an SMS may move it back along the flow, so any status may follow any other; an unchanged
        status keeps its date."""
        if status is self.status:
            return self
        return replace(self, status=status, status_changed_at=at, updated_at=at, version=self.version + 1)


@dataclass(frozen=True)
class Group:
    id: str
    name: str
    it_email: str
    provisioning_profile_id: str
    enabled: bool
    account_count: int
    created_at: datetime
    updated_at: datetime
    version: int = 1
    language: Language = Language.EN  # the edge's announcements to the group's accounts


@dataclass(frozen=True)
class ProvisioningProfile:
    id: str
    name: str
    sip_domain: str
    sip_host: str
    tls_port: int | None
    tcp_port: int | None
    udp_port: int | None
    default_transport: Transport
    android_url: str
    ios_url: str
    other_url: str
    created_at: datetime
    updated_at: datetime
    version: int = 1
    installation_sms_template: str = "Install PrivateGSM for secure calls: {link}"
    activation_sms_template: str = "Configure PrivateGSM on this phone: {link}"
    # The transports the SIP edge accepts registrations over; empty: the edge's default (TLS only in production).
    transports: tuple[Transport, ...] = ()
    # ISO 3166 region of the numbers typed without + (the console offers their E.164 spelling); empty: none
    default_country: str = ""

    def download_url(self, platform: str) -> str:
        return {"android": self.android_url, "ios": self.ios_url}.get(platform) or self.other_url

    def port_for(self, transport: Transport) -> int | None:
        return {Transport.TLS: self.tls_port, Transport.TCP: self.tcp_port, Transport.UDP: self.udp_port}[transport]


@dataclass(frozen=True)
class Operator:
    id: str
    username: str
    role: Role
    group_ids: frozenset[str]
    enabled: bool
    password_hash: str
    created_at: datetime
    updated_at: datetime
    version: int = 1
    sessions_valid_after: datetime | None = None  # set when the password changes: older sessions end

    def can_read_group(self, group_id: str) -> bool:
        return self.role is Role.ADMIN or group_id in self.group_ids

    def can_write_group(self, group_id: str) -> bool:
        return self.role is Role.ADMIN or (self.role is Role.OPERATOR and group_id in self.group_ids)


@dataclass(frozen=True)
class Session:
    token_hash: str
    operator_id: str
    created_at: datetime
    expires_at: datetime
    idle_seconds: int = 0  # > 0: a console session whose expiry slides with use, up to the absolute lifetime


@dataclass(frozen=True)
class TimelineEvent:
    account_id: str
    at: datetime
    kind: str
    actor: str
    detail: dict[str, str] = field(default_factory=dict)
    # Set for events that arrive from outside and may arrive twice (SIP session events): the same id is
    # stored once.
    event_id: str = ""


@dataclass(frozen=True)
class LoginAttempt:
    at: datetime
    username: str
    source_ip: str
    outcome: str  # "success", "bad_credentials", "rate_limited", "disabled"
    user_agent: str


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None
    total: int | None = None  # how many there are in all, when the store counts them (the search index does)
