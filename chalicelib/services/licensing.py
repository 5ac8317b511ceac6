"""The licence proxy (manual 1.1.7): automatically activated clients validate their licence through us; we
ask the vendor, cache the signed answer in DynamoDB and keep answering from the cache when the vendor does not.

- Fresh cache (validated less than LICENCE_CACHE_SECONDS ago, licence not past its own expiry): served as is.
- Otherwise one caller per account asks the vendor (an in-process lock plus a lease item in the cache table
  coalesce concurrent misses across Lambda instances); the others wait briefly for its result.
- Vendor down, slow, erroring or unsigned: the cached licence is served (marked stale) while it is within
  LICENCE_GRACE_SECONDS of its last validation, else 503 with Retry-After. Failures back off exponentially
  (up to 5 minutes), so a dead vendor is not hammered.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from chalicelib.domain.errors import Forbidden, LicenceUnavailable, Unauthorized, UpstreamUnavailable
from chalicelib.domain.licensing import BadLicence, CachedLicence, Licence, parse_answer, public_key_from
from chalicelib.domain.model import Account, AccountStatus, Operator
from chalicelib.domain.provisioning import Purpose, token_hash
from chalicelib.services import accounts as account_service
from chalicelib.services.context import Context

LEASE = timedelta(seconds=5)
MAX_BACKOFF_SECONDS = 300
WAIT_FOR_OTHER_SECONDS = 1.5
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


@dataclass(frozen=True)
class Served:
    licence: Licence
    source: str  # "cache" or "upstream"
    stale: bool  # served from the cache past its freshness, inside the grace period
    validated_at: datetime | None


def _lock(account_id: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(account_id, threading.Lock())


def _hash_of(device_token: str) -> str | None:
    return token_hash(device_token) if 10 <= len(device_token) <= 64 else None


def authenticate_device(ctx: Context, device_token: str) -> Account:
    """The activated app's bearer token (issued at activation, replaced by the next one)."""
    hashed = _hash_of(device_token)
    found = ctx.tokens.get(hashed) if hashed else None
    unusable = found is None or not found[1] or found[0].purpose is not Purpose.DEVICE
    if found is None or unusable or found[0].expires_at <= ctx.clock():
        raise Unauthorized("Unknown device credentials; activate the app again.", code="invalid_device_token")
    account = ctx.accounts.get(found[0].account_id)
    if account is None:
        raise Unauthorized("Unknown device credentials; activate the app again.", code="invalid_device_token")
    group = ctx.groups.get(account.group_id)
    if not account.enabled or group is None or not group.enabled:
        raise Forbidden("This account is disabled.", code="account_disabled")
    return account


def licence_for_device(ctx: Context, device_token: str) -> Served:
    """The phone's validation. A token that validated less than LICENCE_AUTH_CACHE_SECONDS ago on this instance,
    with its licence still fresh, is answered from memory (services/recent_devices.py states the bound)."""
    hashed = _hash_of(device_token)
    recent = ctx.recent_devices.get(hashed) if hashed else None
    if recent is not None and recent.licence is not None and _fresh(ctx, recent, ctx.clock()):
        return Served(recent.licence, "cache", False, recent.validated_at)
    account = authenticate_device(ctx, device_token)
    served = current_licence(ctx, account)
    if hashed and not served.stale:
        ctx.recent_devices.remember(hashed, CachedLicence(account.id, served.licence, served.validated_at))
    return served


def _trusted(ctx: Context, cached: CachedLicence | None, account: Account) -> CachedLicence | None:
    """The cache entry with its licence re-verified for this account's username; an edited (poisoned) entry,
    or one for another username (after a rename), loses its licence."""
    if cached is None or cached.licence is None:
        return cached
    try:
        key = public_key_from(ctx.settings.licence_upstream_public_key)
        answer = {"licence": _signed_body(cached.licence), "signature": cached.licence.signature}
        parse_answer(answer, key, account.username, None)
    except (BadLicence, ValueError):
        return replace(cached, licence=None, last_error="the cached licence failed its signature check")
    return cached


def _signed_body(licence: Licence) -> dict[str, object]:
    body: dict[str, object] = json.loads(licence.raw)
    return body


def _fresh(ctx: Context, cached: CachedLicence | None, now: datetime) -> bool:
    if cached is None or cached.licence is None or cached.validated_at is None:
        return False
    age = now - cached.validated_at
    return age < timedelta(seconds=ctx.settings.licence_cache_seconds) and now < cached.licence.expires_at


def _within_grace(ctx: Context, cached: CachedLicence | None, now: datetime) -> bool:
    if cached is None or cached.licence is None or cached.validated_at is None:
        return False
    limit = cached.validated_at + timedelta(
        seconds=ctx.settings.licence_cache_seconds + ctx.settings.licence_grace_seconds
    )
    return now < limit


def _fallback(ctx: Context, cached: CachedLicence | None, now: datetime) -> Served:
    if cached is not None and cached.licence is not None and _within_grace(ctx, cached, now):
        return Served(cached.licence, "cache", True, cached.validated_at)
    wait = 30
    if cached is not None and cached.retry_after is not None:
        wait = max(1, int((cached.retry_after - now).total_seconds()))
    raise LicenceUnavailable("The licence server cannot be reached and no usable licence is cached.", wait)


def current_licence(ctx: Context, account: Account, *, force: bool = False) -> Served:
    now = ctx.clock()
    cached = _trusted(ctx, ctx.licences.get(account.id), account)
    if not force and _fresh(ctx, cached, now):
        assert cached is not None and cached.licence is not None
        return Served(cached.licence, "cache", False, cached.validated_at)
    if not force and cached is not None and cached.retry_after is not None and now < cached.retry_after:
        return _fallback(ctx, cached, now)
    lock = _lock(account.id)
    if not lock.acquire(blocking=False):  # this instance is already asking the vendor for this account
        return _wait_for_other(ctx, account, cached)
    try:
        cached = _trusted(ctx, ctx.licences.get(account.id), account)
        if not force and _fresh(ctx, cached, ctx.clock()):
            assert cached is not None and cached.licence is not None
            return Served(cached.licence, "cache", False, cached.validated_at)
        if not ctx.licences.acquire_lease(account.id, ctx.clock() + LEASE, ctx.clock()):
            return _wait_for_other(ctx, account, cached)  # another instance is
        try:
            return _refresh(ctx, account, cached)
        finally:
            ctx.licences.release_lease(account.id)
    finally:
        lock.release()


def _wait_for_other(ctx: Context, account: Account, cached: CachedLicence | None) -> Served:
    """Someone else is asking the vendor for this account. A licence still in its grace period is served at
    once (no client waits on the vendor for it); with nothing to serve, wait briefly for that answer."""
    if _within_grace(ctx, cached, ctx.clock()):
        return _fallback(ctx, cached, ctx.clock())
    deadline = time.monotonic() + WAIT_FOR_OTHER_SECONDS
    while time.monotonic() < deadline:
        time.sleep(0.05)
        latest = _trusted(ctx, ctx.licences.get(account.id), account)
        if _fresh(ctx, latest, ctx.clock()):
            assert latest is not None and latest.licence is not None
            return Served(latest.licence, "cache", False, latest.validated_at)
    return _fallback(ctx, cached, ctx.clock())


def _refresh(ctx: Context, account: Account, cached: CachedLicence | None) -> Served:
    now = ctx.clock()
    nonce = secrets.token_urlsafe(16)
    try:
        answer = ctx.licence_upstream.validate(account.username, nonce)
        licence = parse_answer(answer, public_key_from(ctx.settings.licence_upstream_public_key), account.username,
                               nonce)  # fmt: skip
    except (UpstreamUnavailable, BadLicence, ValueError) as exc:
        failures = (cached.failures if cached else 0) + 1
        backoff = timedelta(seconds=min(MAX_BACKOFF_SECONDS, 2**failures))
        failed = CachedLicence(
            account.id, cached.licence if cached else None, cached.validated_at if cached else None,
            last_error=str(exc) or type(exc).__name__, last_error_at=now, failures=failures, retry_after=now + backoff,
        )  # fmt: skip
        ctx.licences.put(failed)
        return _fallback(ctx, failed, now)
    ctx.licences.put(CachedLicence(account.id, licence, now))
    return Served(licence, "upstream", False, now)


# --- the console's view ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LicenceView:
    via_server: bool  # automatically activated: validates through us; otherwise directly with the vendor
    cached: CachedLicence | None


def licence_view(ctx: Context, actor: Operator, account_id: str) -> LicenceView:
    account = account_service.get_account(ctx, actor, account_id)
    activated = account.status in (AccountStatus.ACTIVATED, AccountStatus.CONNECTED)
    return LicenceView(activated, _trusted(ctx, ctx.licences.get(account.id), account))


def refresh_for_operator(ctx: Context, actor: Operator, account_id: str) -> Served:
    account = account_service.get_account(ctx, actor, account_id)
    if not actor.can_write_group(account.group_id):
        raise Forbidden("You may not change accounts of this group.")
    return current_licence(ctx, account, force=True)
