"""Who is online: the SIP edge's session events applied to registrations, account status and history.

Events arrive at least once and in any order (docs/sip-events.md). Every step here is idempotent: the
registration write keeps the state of the newest event per contact, the account's status is recomputed from
the stored registrations, and the History entry carries the event's id, so a second delivery stores nothing new.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.errors import ConcurrentModification, InvalidCursor
from chalicelib.domain.listing import ANY, Filter, Table
from chalicelib.domain.model import Account, AccountStatus, Operator, Page, TimelineEvent, Transport
from chalicelib.domain.registration import (
    CONTACTLESS_KINDS,
    InvalidSipEvent,
    Registration,
    SipEvent,
    SipEventKind,
    history_detail,
    parse_sip_event,
    registration_from,
)
from chalicelib.services import sip_lockout
from chalicelib.services.accounts import check_group_readable
from chalicelib.services.context import Context

log = logging.getLogger(__name__)
EDGE_ACTOR = "sip-edge"
_ATTEMPTS = 3


@dataclass(frozen=True)
class Outcome:
    recorded: int = 0
    dropped: int = 0  # malformed events: logged, never retried (a retry cannot fix them)


def record_events(ctx: Context, events: Iterable[Any]) -> Outcome:
    """Apply the edge's events (parsed JSON bodies). Storage errors propagate so that the queue redelivers."""
    recorded = dropped = 0
    for raw in events:
        try:
            event = parse_sip_event(raw)
        except InvalidSipEvent as exc:
            log.warning("dropped a malformed SIP event: %s", exc)
            dropped += 1
            continue
        _record(ctx, event)
        recorded += 1
    return Outcome(recorded, dropped)


def _record(ctx: Context, event: SipEvent) -> None:
    account = _account_of(ctx, event)
    if account is None:
        # An unknown user has no history to write to; the edge's log has the attempt too.
        log.info("SIP %s for unknown user %r from %s (%s)", event.kind, event.username, event.source, event.reason)
        return
    if event.kind not in CONTACTLESS_KINDS and event.contact:
        ctx.registrations.put(registration_from(event, account.group_id))
    entry = TimelineEvent(
        account.id, event.at, f"sip_{event.kind.value}", EDGE_ACTOR, history_detail(event), event_id=event.id
    )
    for _ in range(_ATTEMPTS):
        try:
            _settle_status(ctx, account, entry, event)
            return
        except ConcurrentModification:
            fresh = ctx.accounts.get(account.id)
            if fresh is None:
                return  # deleted meanwhile: its history went with it
            account = fresh
    raise ConcurrentModification("The account kept changing while a SIP event was recorded.")


def _account_of(ctx: Context, event: SipEvent) -> Account | None:
    if event.account_id:
        return ctx.accounts.get(event.account_id)
    return ctx.accounts.get_by_username(event.username) if event.username else None


def _settle_status(ctx: Context, account: Account, entry: TimelineEvent, event: SipEvent) -> None:
    """Connected while any contact is online, back to Activated when the last one goes (and the lockout marker
    a `locked_out` event sets); the History entry is written with the change, in one write."""
    now = ctx.clock()
    online = any(r.online(now) for r in ctx.registrations.for_account(account.id))
    if online:
        updated = account.with_status(AccountStatus.CONNECTED, now)
    elif account.status is AccountStatus.CONNECTED:
        updated = account.with_status(AccountStatus.ACTIVATED, now)
    else:
        updated = account
    if event.kind is SipEventKind.LOCKED_OUT:
        updated = sip_lockout.locked(updated, event)
    if updated is account:
        ctx.accounts.append_event(entry)
    else:
        ctx.accounts.replace(account, updated, entry)


def online_in_group(ctx: Context, actor: Operator, group_id: str, limit: int, cursor: str | None) -> Page[Registration]:
    """The group's registrations that are online now, by username (one entry per contact)."""
    check_group_readable(ctx, actor, group_id)
    try:
        page = ctx.registrations.online_in_group(group_id, limit, cursor)
    except ValueError as exc:
        raise InvalidCursor() from exc
    now = ctx.clock()
    return Page([r for r in page.items if r.online(now)], page.next_cursor)


ONLINE_MAX = 10_000  # registrations one group's list reads (a group holds fewer accounts than that)
ONLINE = Table[Registration](
    sorts={"username": lambda r: (r.username, r.contact), "source": lambda r: r.source,
           "transport": lambda r: r.transport, "user_agent": lambda r: r.user_agent.lower(),
           "edge": lambda r: r.edge, "registered_at": lambda r: r.registered_at, "expires_at": lambda r: r.expires_at},
    filters={"transport": Filter(tuple(t.value for t in Transport), lambda r, v: r.transport == v),
             "edge": Filter(ANY, lambda r, v: r.edge == v),
             "username": Filter(ANY, lambda r, v: v.lower() in r.username.lower())},
    default_sort="username",
)  # fmt: skip


def online_listing(
    ctx: Context, actor: Operator, group_id: str, params: Mapping[str, str], size: int, cursor: str | None
) -> Page[Registration]:
    """The console's Registered accounts: the group's online registrations sorted, filtered (transport, edge,
    username) and a page of them with the total (see domain/listing.py)."""
    online: list[Registration] = []
    store_cursor: str | None = None
    while len(online) < ONLINE_MAX:
        found = online_in_group(ctx, actor, group_id, 500, store_cursor)
        online.extend(found.items)
        store_cursor = found.next_cursor
        if not store_cursor:
            break
    return ONLINE.page(online, params, size, cursor)


def for_account(ctx: Context, account: Account) -> list[Registration]:
    """The account's contacts online now (the caller has read the account, so it may see it)."""
    now = ctx.clock()
    return sorted((r for r in ctx.registrations.for_account(account.id) if r.online(now)), key=lambda r: r.contact)
