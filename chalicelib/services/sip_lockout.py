"""The SIP edge's per-account lockout as the control plane sees it: the marker a `locked_out` event sets, and the
operator's lift (console and API), which the edges read from the account (`sip_lock_lifted_at`) within
SIP_ACCOUNT_CACHE_SECONDS and which clears every lockout that began before it."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from chalicelib.domain.errors import Forbidden
from chalicelib.domain.model import Account, Operator, TimelineEvent
from chalicelib.domain.registration import SipEvent
from chalicelib.services import audit
from chalicelib.services.accounts import get_account
from chalicelib.services.context import Context


def locked(account: Account, event: SipEvent) -> Account:
    """The account as a `locked_out` event leaves it: locked until the event's time plus its cool-down."""
    until = event.at + timedelta(seconds=event.expires)
    if account.sip_locked_until is not None and account.sip_locked_until >= until:
        return account  # a duplicate or an older lockout
    if account.sip_lock_lifted_at is not None and account.sip_lock_lifted_at >= event.at:
        return account  # lifted after it began (the event arrived late)
    return replace(account, sip_locked_until=until, version=account.version + 1)


def lift(ctx: Context, actor: Operator, account_id: str) -> Account:
    """Lifts the account's SIP lockout now (idempotent: lifting an account that is not locked records nothing)."""
    current = get_account(ctx, actor, account_id)
    if not actor.can_write_group(current.group_id):
        raise Forbidden("You may not change accounts of this group.")
    now = ctx.clock()
    if not current.sip_locked(now):
        return current
    updated = replace(current, sip_locked_until=None, sip_lock_lifted_at=now, updated_at=now,
                      version=current.version + 1)  # fmt: skip
    ctx.accounts.replace(current, updated, TimelineEvent(current.id, now, "sip_lockout_lifted", actor.username))
    audit.record(ctx, actor.username, "account.sip_lockout_lift", "account", current.id)
    return updated
