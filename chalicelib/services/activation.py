"""Automatic activation (manual 1.1.4): installation and activation SMS, the links they carry, delivery.

Links carry a 128-bit random token; only its SHA-256 is stored, bound to one account and one purpose, with an
expiry; issuing a new one invalidates the previous one; activation tokens work once. A GET never redeems:
pages only show a button or hand over to the app, which POSTs. Every kind of bad token gets the same answer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from chalicelib.domain.digest import sip_credentials
from chalicelib.domain.errors import (
    ConcurrentModification,
    Conflict,
    Forbidden,
    InvalidLink,
    NotFound,
    ProviderError,
)
from chalicelib.domain.listing import RECENT_WINDOW, YES_NO, Filter, Table, yes_no
from chalicelib.domain.model import (
    Account,
    AccountStatus,
    AccountType,
    CreationMode,
    Operator,
    Page,
    ProvisioningProfile,
    TimelineEvent,
)
from chalicelib.domain.provisioning import (
    MessageStatus,
    ProvisioningToken,
    Purpose,
    QueuedSms,
    SmsMessage,
    explain,
    new_token,
    platform_of,
    render,
    token_hash,
)
from chalicelib.services import accounts as account_service
from chalicelib.services import audit, limits
from chalicelib.services.context import Context

LINK_PATHS = {Purpose.INSTALL: "m/i", Purpose.ACTIVATE: "m/a"}
SENT_STATUS = {
    Purpose.INSTALL: AccountStatus.INSTALLATION_SMS_SENT,
    Purpose.ACTIVATE: AccountStatus.ACTIVATION_SMS_SENT,
}
DEVICE_TOKEN_LIFETIME = timedelta(days=3650)  # until the next activation replaces it
SMS, EMAIL = "sms", "email"
SUBJECTS = {Purpose.INSTALL: "Install PrivateGSM", Purpose.ACTIVATE: "Configure PrivateGSM"}
SIP_PASSWORD_BYTES = 18
# Delivery states only move forward; a late "sent" callback never overwrites "delivered".
_RANK = {
    MessageStatus.QUEUED: 0,
    MessageStatus.SENT: 1,
    MessageStatus.DELIVERED: 2,
    MessageStatus.UNDELIVERED: 2,
    MessageStatus.FAILED: 2,
}

log = logging.getLogger(__name__)


class RetryLater(Exception):
    """The provider failed in a way worth retrying: the queue delivers the message again later."""


def link(ctx: Context, purpose: Purpose, token: str) -> str:
    return f"{ctx.settings.public_base_url}/{LINK_PATHS[purpose]}/{token}"


def redacted_link(ctx: Context, purpose: Purpose) -> str:
    return f"{ctx.settings.public_base_url}/{LINK_PATHS[purpose]}/…"


def _check_can_activate(ctx: Context, account: Account, channel: str) -> ProvisioningProfile:
    if account.account_type is AccountType.SNOM:
        raise Conflict(
            "SNOM devices are configured by hand; automatic activation is for PrivateGSM.",
            code="activation_not_for_snom",
        )
    if channel == EMAIL and not account.email:
        raise Conflict("The account has no e-mail address.", field="email", code="email_missing")
    if channel == SMS and not account.has_international_number:
        raise Conflict(
            "The virtual number is not international (+country code): no SMS can reach it.",
            field="phone_number",
            code="number_not_international",
        )
    group = ctx.groups.get(account.group_id)
    if group is None or not group.enabled:
        raise Conflict("The account's group is disabled.", code="group_disabled")
    profile = ctx.profiles.get(account.provisioning_profile_id)
    if profile is None:
        raise NotFound("The account's provisioning profile is missing.", field="provisioning_profile_id")
    return profile


@dataclass(frozen=True)
class Sent:
    message: SmsMessage
    account: Account
    link: str  # shown once (e.g. as a QR code); only its hash is stored
    text: str  # the text as sent (its segments are what the provider bills); stored only without the link


def send_link(ctx: Context, actor: Operator, account_id: str, purpose: Purpose, channel: str = "sms") -> Sent:
    """Issue a fresh link for the account and queue the SMS (or, for devices without SMS, the e-mail) that
    carries it."""
    account = account_service.get_account(ctx, actor, account_id)
    if not actor.can_write_group(account.group_id):
        raise Forbidden("You may not change accounts of this group.")
    profile = _check_can_activate(ctx, account, channel)
    now = ctx.clock()
    message_id = str(uuid.uuid4())
    # The account's status and timeline first (a conditional write): if it fails, nothing else happened and
    # the previous link still works. Then the new link (which supersedes the old one), the message, the queue.
    updated = account.with_status(SENT_STATUS[purpose], now)
    kind = f"{'installation' if purpose is Purpose.INSTALL else 'activation'}_{channel}_queued"
    event = TimelineEvent(account.id, now, kind, actor.username, {"message_id": message_id})
    if updated is account:
        ctx.accounts.append_event(event)
    else:
        ctx.accounts.replace(account, updated, event)
    token, hashed = new_token()
    ttl = timedelta(hours=ctx.settings.link_ttl_hours)
    ctx.tokens.issue(ProvisioningToken(hashed, account.id, purpose, now, now + ttl))
    url = link(ctx, purpose, token)
    template = profile.installation_sms_template if purpose is Purpose.INSTALL else profile.activation_sms_template
    message = SmsMessage(
        id=message_id,
        account_id=account.id,
        to=account.email if channel == EMAIL else account.phone_number,
        # stored without the token (only its hash is kept); the full text travels in the queue only
        body=render(template, redacted_link(ctx, purpose), account.full_name),
        purpose=purpose,
        status=MessageStatus.QUEUED,
        created_at=now,
        updated_at=now,
        channel=channel,
    )
    ctx.messages.add(message)
    text = render(template, url, account.full_name)
    ctx.sms_queue.enqueue(QueuedSms(message.id, text))
    audit.record(ctx, actor.username, f"account.send_{kind.removesuffix('_queued')}", "account", account.id,
                 {"to": message.to, "message_id": message.id})  # fmt: skip
    return Sent(message, updated, url, text)


def callback_key(key: str, message_id: str) -> str:
    """The capability that a message's status callback URL carries: HMAC-SHA256 of the message id under the
    callback key (the provider gets the URL with the message; nobody else can make a valid one)."""
    digest = hmac.new(key.encode(), f"sms-status:{message_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def status_callback_url(ctx: Context, message_id: str) -> str:
    base = f"{ctx.settings.public_base_url}/api/v1/sms/status/{message_id}"
    return f"{base}?key={callback_key(ctx.settings.sms_callback_key, message_id)}"


def valid_callback(ctx: Context, message_id: str, key: str) -> bool:
    """Whether a status callback carries its message's capability (never with an unset callback key)."""
    key_set = bool(ctx.settings.sms_callback_key)
    return key_set and hmac.compare_digest(
        key.encode(), callback_key(ctx.settings.sms_callback_key, message_id).encode()
    )


def deliver(ctx: Context, queued: QueuedSms) -> SmsMessage | None:
    """The queue consumer: hand one queued message to the provider. A redelivered message that already left
    is skipped; a retryable provider error raises RetryLater; a permanent one marks the message failed."""
    message = ctx.messages.get(queued.message_id)
    if message is None or message.status is not MessageStatus.QUEUED:
        return message
    callback = status_callback_url(ctx, message.id)
    now = ctx.clock()
    try:
        if message.channel == EMAIL:
            provider_id = ctx.email.send(message.to, SUBJECTS[message.purpose], queued.text)
        else:
            provider_id = ctx.sms.send(message.to, queued.text, callback)
    except ProviderError as exc:
        attempts = message.attempts + 1
        if exc.retryable:
            ctx.messages.update(
                replace(message, attempts=attempts, updated_at=now, error_message=exc.message), MessageStatus.QUEUED
            )
            raise RetryLater(exc.message) from exc
        failed = replace(
            message,
            status=MessageStatus.FAILED,
            attempts=attempts,
            updated_at=now,
            error_code=exc.provider_code,
            error_message=explain(exc.provider_code, exc.message),
        )
        if ctx.messages.update(failed, MessageStatus.QUEUED):
            _record(ctx, failed, "sms_failed")
        return failed
    sent = replace(
        message, status=MessageStatus.SENT, provider_id=provider_id, attempts=message.attempts + 1, updated_at=now
    )
    if ctx.messages.update(sent, MessageStatus.QUEUED):
        _record(ctx, sent, "sms_sent")
    return sent


def _record(ctx: Context, message: SmsMessage, kind: str) -> None:
    """The delivery event on the timeline; a failure also marks the account (the account list shows it) until
    a later message gets through. One JSON log line per outcome feeds the SMS failure-rate alarm (infra/)."""
    outcome = {"event": "sms_outcome", "outcome": message.status.value, "channel": message.channel,
               "purpose": message.purpose.value, "error_code": message.error_code}  # fmt: skip
    log.info(json.dumps(outcome))  # no number, no text: nothing personal in the logs
    detail = {"message_id": message.id, "purpose": message.purpose.value}
    if message.error_code or message.error_message:
        detail |= {"error_code": message.error_code, "error": message.error_message}
    event = TimelineEvent(message.account_id, message.updated_at, kind, "sms-provider", detail)
    failed = message.status in (MessageStatus.FAILED, MessageStatus.UNDELIVERED)
    what = "Installation" if message.purpose is Purpose.INSTALL else "Activation"
    medium = "e-mail" if message.channel == EMAIL else "SMS"
    problem = f"{what} {medium} {message.status.value}: {message.error_message}" if failed else ""
    for _attempt in range(3):
        account = ctx.accounts.get(message.account_id)
        if account is None or account.sms_problem == problem or (not failed and not account.sms_problem):
            ctx.accounts.append_event(event)
            return
        try:
            ctx.accounts.replace(account, replace(account, sms_problem=problem, version=account.version + 1), event)
            return
        except ConcurrentModification:
            continue
    ctx.accounts.append_event(event)


def record_delivery_status(ctx: Context, message_id: str, status: str, error_code: str) -> SmsMessage:
    """A provider status callback (already authenticated by the caller). Duplicates and late arrivals are
    harmless: states only move forward."""
    message = ctx.messages.get(message_id)
    if message is None:
        raise NotFound("Unknown message.")
    try:
        new = MessageStatus(status)
    except ValueError:
        return message  # accepted, queued, sending...: intermediate provider states we do not track
    if _RANK[new] <= _RANK[message.status]:
        return message
    updated = replace(
        message,
        status=new,
        updated_at=ctx.clock(),
        error_code=error_code,
        error_message=explain(error_code) if error_code else "",
    )
    if ctx.messages.update(updated, message.status):
        _record(ctx, updated, f"sms_{new.value}")
    return updated


# --- the phone's side -------------------------------------------------------------------------------------


def _valid(ctx: Context, token: str, purpose: Purpose, source: str) -> tuple[ProvisioningToken, Account]:
    """The link's token and account, within the per-source limit of invalid links."""
    with limits.counting_failures(ctx, limits.mobile(ctx, source), (InvalidLink,)):
        return _lookup(ctx, token, purpose)


def _lookup(ctx: Context, token: str, purpose: Purpose) -> tuple[ProvisioningToken, Account]:
    found = ctx.tokens.get(token_hash(token)) if 10 <= len(token) <= 64 else None
    if found is None:
        raise InvalidLink()
    record, latest = found
    unusable = record.purpose is not purpose or not latest or record.expires_at <= ctx.clock()
    if unusable or record.used_at is not None:
        raise InvalidLink()
    account = ctx.accounts.get(record.account_id)
    if account is None:
        raise InvalidLink()
    group = ctx.groups.get(account.group_id)
    if group is None or not group.enabled:
        raise InvalidLink()
    return record, account


@dataclass(frozen=True)
class InstallationPage:
    platform: str
    download_url: str
    owner: str


def _installation_step(ctx: Context, token: str, user_agent: str, source: str, kind: str) -> tuple[Account, str, str]:
    """Check an installation link, record the step on the timeline; the account, platform and download URL."""
    _, account = _valid(ctx, token, Purpose.INSTALL, source)
    profile = ctx.profiles.get(account.provisioning_profile_id)
    platform = platform_of(user_agent)
    ctx.accounts.append_event(TimelineEvent(account.id, ctx.clock(), kind, "phone", {"platform": platform}))
    return account, platform, profile.download_url(platform) if profile else ""


def open_installation_link(ctx: Context, token: str, user_agent: str, source: str) -> InstallationPage:
    """GET of the installation link: shows the download for the phone's platform; redeems nothing."""
    account, platform, url = _installation_step(ctx, token, user_agent, source, "installation_link_opened")
    return InstallationPage(platform, url, account.full_name)


def follow_download(ctx: Context, token: str, user_agent: str, source: str) -> str:
    """The download button: recorded as "Installation clicked", then on to the store."""
    return _installation_step(ctx, token, user_agent, source, "installation_clicked")[2]


def report_installed(ctx: Context, token: str, platform: str, app_version: str, source: str) -> Account:
    """The installed app reports itself with its installation link's token."""
    _, account = _valid(ctx, token, Purpose.INSTALL, source)
    now = ctx.clock()
    # a late or repeated report never moves an activated (or connected) account back
    later = account.status in (AccountStatus.ACTIVATED, AccountStatus.CONNECTED)
    updated = account if later else account.with_status(AccountStatus.INSTALLED, now)
    event = TimelineEvent(
        account.id, now, "installed", "phone", {"platform": platform[:20], "app_version": app_version[:40]}
    )
    if updated is account:
        ctx.accounts.append_event(event)
    else:
        ctx.accounts.replace(account, updated, event)
    return updated


def redeem_activation(ctx: Context, token: str, source: str) -> dict[str, Any]:
    """POST of the activation token: fresh SIP credentials (only their digests are kept), the client
    configuration, status Activated; wizard accounts become enabled. The token works once."""
    record, account = _valid(ctx, token, Purpose.ACTIVATE, source)
    profile = ctx.profiles.get(account.provisioning_profile_id)
    if profile is None:
        raise InvalidLink()
    now = ctx.clock()
    try:
        ctx.tokens.consume(record.token_hash, now)  # a concurrent second redemption fails here
    except Conflict as exc:
        raise InvalidLink() from exc  # the same answer as any other unusable link
    password = secrets.token_urlsafe(SIP_PASSWORD_BYTES)
    activated = account.with_status(AccountStatus.ACTIVATED, now)
    activated = replace(
        activated,
        credentials=sip_credentials(account.username, profile.sip_domain, password),
        enabled=True if account.creation_mode is not CreationMode.PLAIN else account.enabled,
        updated_at=now,
        version=account.version + 1,
    )
    ctx.accounts.replace(account, activated, TimelineEvent(account.id, now, "activated", "phone"))
    device_token, device_hash = new_token()  # the app's credential for the licence service; replaces the last one
    ctx.tokens.issue(ProvisioningToken(device_hash, account.id, Purpose.DEVICE, now, now + DEVICE_TOKEN_LIFETIME))
    transport = profile.default_transport
    return {
        "sip": {
            "username": account.username,
            "password": password,
            "domain": profile.sip_domain,
            "host": profile.sip_host,
            "port": profile.port_for(transport),
            "transport": transport.value,
        },
        "security_model": account.security_model.value,
        "obfuscation": {"enabled": account.obfuscation_enabled, "key": account.obfuscation_key},
        "keep_alive": account.keep_alive,
        "virtual_number": account.phone_number,
        "licence_service_url": f"{ctx.settings.public_base_url}/m/licence",
        "licence_token": device_token,
    }


def messages_of(ctx: Context, actor: Operator, account_id: str, limit: int = 20) -> list[SmsMessage]:
    account = account_service.get_account(ctx, actor, account_id)
    return ctx.messages.for_account(account.id, limit)


def outbox(ctx: Context, actor: Operator, limit: int) -> list[tuple[SmsMessage, Account]]:
    """Messages of the last weeks, newest first, with their accounts: only those of accounts in groups the
    operator may read (a message of a deleted account is left out)."""
    messages = ctx.messages.recent(limit, ctx.clock())
    owners = ctx.accounts.get_many([m.account_id for m in messages])  # one batched read
    found: list[tuple[SmsMessage, Account]] = []
    for message in messages:
        owner = owners.get(message.account_id)
        if owner is not None and actor.can_read_group(owner.group_id):
            found.append((message, owner))
    return found


Queued = tuple[SmsMessage, Account]
OUTBOX = Table[Queued](
    sorts={"created_at": lambda s: s[0].created_at, "username": lambda s: s[1].username, "to": lambda s: s[0].to,
           "status": lambda s: s[0].status.value, "updated_at": lambda s: s[0].updated_at},
    filters={"status": Filter(tuple(m.value for m in MessageStatus), lambda s, v: s[0].status.value == v),
             "kind": Filter((Purpose.INSTALL.value, Purpose.ACTIVATE.value), lambda s, v: s[0].purpose.value == v),
             "channel": Filter(("sms", "email"), lambda s, v: s[0].channel == v),
             "problem": Filter(YES_NO, lambda s, v: yes_no(bool(s[0].error_code or s[0].error_message), v))},
    default_sort="created_at",
    default_dir="desc",
)  # fmt: skip


def outbox_listing(
    ctx: Context, actor: Operator, params: Mapping[str, str], size: int, cursor: str | None
) -> Page[Queued]:
    """The console's Outbox: the readable messages of the last weeks sorted, filtered (delivery status, kind,
    channel, problem) and a page of them with the total (see domain/listing.py)."""
    return OUTBOX.page(outbox(ctx, actor, RECENT_WINDOW), params, size, cursor)
