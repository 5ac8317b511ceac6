"""The audit trail's use cases: record an operator's action (chained, append-only), list the trail for an
administrator (by operator, target and time), check the chain.

Where an action comes from (the request's source address) is known at the edges (API routes, console pages);
they put it in `origin` for the request's duration, and every `record` below reads it."""

from __future__ import annotations

import contextlib
import contextvars
import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime

from chalicelib.domain.audit import AuditEvent, ChainCheck, chained, verify
from chalicelib.domain.errors import ConcurrentModification, FieldError, Forbidden, ValidationFailed
from chalicelib.domain.model import Operator, Page, Role
from chalicelib.services.context import Context

log = logging.getLogger(__name__)
_origin: contextvars.ContextVar[str] = contextvars.ContextVar("audit_origin", default="")
_ATTEMPTS = 25
_BACKOFF_CAP_SECONDS = 0.05
SCAN_LIMIT = 2000  # entries a filtered listing looks through for one page
AUDIT_KINDS = ("account", "group", "profile", "operator", "import", "login")  # an action's first word


@contextlib.contextmanager
def origin(source: str) -> Iterator[None]:
    """The source address of the request being served (API route or console page)."""
    token = _origin.set(source)
    try:
        yield
    finally:
        _origin.reset(token)


def record(
    ctx: Context, actor: str, action: str, target_kind: str, target_id: str, detail: Mapping[str, str] | None = None
) -> AuditEvent:
    """Append the action to the chain (the head is re-read when another writer extended it first)."""
    entry = AuditEvent(0, ctx.clock(), actor, _origin.get() or "internal", action, target_kind, target_id,
                       {k: str(v) for k, v in (detail or {}).items()})  # fmt: skip
    for attempt in range(_ATTEMPTS):
        sealed = chained(entry, ctx.audit.head())
        if ctx.audit.append(sealed):
            return sealed
        # another writer took this place in the chain: back off a random while (full jitter, capped), so that
        # a burst of parallel writers (16 logins at once) spreads out instead of colliding again and again
        time.sleep(random.uniform(0, min(_BACKOFF_CAP_SECONDS, 0.002 * 2**attempt)))  # noqa: S311 (not crypto)
    raise ConcurrentModification("The audit trail kept moving; try again.")


SECRETS = ("password", "password_hash", "credentials")


def diff(before: object, after: object, names: Iterable[str]) -> dict[str, str]:
    """The fields an update changed, `<field>.before` / `<field>.after` (a secret is named, never shown)."""
    out: dict[str, str] = {}
    changed: list[str] = []
    for name in sorted(names):
        if name in SECRETS:
            changed.append(name)
            continue
        old, new = _shown(getattr(before, name, "")), _shown(getattr(after, name, ""))
        if old != new:
            changed.append(name)
            out[f"{name}.before"], out[f"{name}.after"] = old, new
    return {"fields": ",".join(changed), **out}


def _shown(value: object) -> str:
    if isinstance(value, frozenset | set | tuple | list):
        return ",".join(sorted(str(getattr(v, "value", v)) for v in value))
    return str(getattr(value, "value", value) if value is not None else "")


def _parse_time(name: str, value: str, errors: list[FieldError]) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        errors.append(FieldError(name, "invalid_time", f"'{name}' is a time such as 2026-12-01T10:00:00Z."))
        return None
    if moment.tzinfo is None:
        errors.append(FieldError(name, "invalid_time", f"'{name}' needs its time zone (Z for UTC)."))
        return None
    return moment


def _filters(filters: Mapping[str, str], cursor: str | None) -> tuple[datetime | None, datetime | None, int | None]:
    errors: list[FieldError] = []
    since = _parse_time("since", filters.get("since", ""), errors)
    until = _parse_time("until", filters.get("until", ""), errors)
    before = int(cursor) if cursor and cursor.isdigit() else None
    if cursor and before is None:
        errors.append(FieldError("cursor", "invalid_cursor", "The cursor is not valid."))
    for name, allowed in (("kind", AUDIT_KINDS), ("sort", ("at",)), ("dir", ("asc", "desc"))):
        if filters.get(name, "") not in ("", *allowed):
            errors.append(FieldError(name, "invalid_choice", f"'{name}' must be one of: {', '.join(allowed)}."))
    if errors:
        raise ValidationFailed(errors)
    return since, until, before


TOTAL_SCAN = 5000  # entries a filtered total counts through (beyond: "more than")


def events(
    ctx: Context, actor: Operator, filters: Mapping[str, str], limit: int, cursor: str | None
) -> Page[AuditEvent]:
    """The trail for administrators, newest first (`dir=asc`: oldest first): by operator (`operator`), target id
    (`target`), kind of action (`kind`: the action's first word) and time (`since`, `until`, ISO 8601); the
    cursor is the seq to continue from. A page looks through at most SCAN_LIMIT entries (then it ends with a
    cursor to look further)."""
    if actor.role is not Role.ADMIN:
        raise Forbidden("Only administrators may read the audit trail.")
    since, until, start = _filters(filters, cursor)
    ascending = filters.get("dir", "") == "asc"
    wanted = _wanted(filters, since, until)
    total = _total(ctx, filters, wanted, since)
    found: list[AuditEvent] = []
    looked, last = 0, start
    while len(found) < limit and looked < SCAN_LIMIT:
        batch = _batch(ctx, min(200, SCAN_LIMIT - looked), last, ascending)
        looked += len(batch)
        if not batch:
            return Page(found, None, total)
        for event in batch:
            last = event.seq
            if (since and event.at < since and not ascending) or (until and event.at > until and ascending):
                return Page(found, None, total)  # everything further is outside the time asked for
            if wanted(event):
                found.append(event)
            if len(found) == limit:
                break
    more = last is not None and (ascending or last > 1)
    return Page(found, str(last) if more else None, total)


def _batch(ctx: Context, size: int, last: int | None, ascending: bool) -> list[AuditEvent]:
    """The next entries after `last` (None: from the start) in the order asked for. Oldest first reads the
    entries just above `last` (the chain's seqs are 1, 2, 3... without gaps)."""
    if not ascending:
        return ctx.audit.newest(size, last)
    after = last or 0
    return sorted((e for e in ctx.audit.newest(size, after + size + 1) if e.seq > after), key=lambda e: e.seq)


def _wanted(filters: Mapping[str, str], since: datetime | None, until: datetime | None) -> Callable[[AuditEvent], bool]:
    who, target, kind = filters.get("operator", ""), filters.get("target", ""), filters.get("kind", "")

    def wanted(event: AuditEvent) -> bool:
        in_time = (not until or event.at <= until) and (not since or event.at >= since)
        of_kind = not kind or event.action.split(".")[0] == kind
        return in_time and of_kind and (not who or event.actor == who) and (not target or event.target_id == target)

    return wanted


def _total(
    ctx: Context, filters: Mapping[str, str], wanted: Callable[[AuditEvent], bool], since: datetime | None
) -> int | None:
    """How many entries the filters keep: the chain's length when nothing narrows it, else counted through
    the newest TOTAL_SCAN entries (None when there are more to look through)."""
    head = ctx.audit.head()
    if head is None:
        return 0
    if not any(filters.get(name) for name in ("operator", "target", "kind", "since", "until")):
        return head.seq
    count, looked, last = 0, 0, None
    while looked < TOTAL_SCAN:
        batch = ctx.audit.newest(200, last)
        if not batch:
            return count
        looked += len(batch)
        count += sum(1 for e in batch if wanted(e))
        last = batch[-1].seq
        if since and batch[-1].at < since:
            return count  # newest first: everything further is older
    return None if last and last > 1 else count


def check(ctx: Context) -> ChainCheck:
    """Verify the whole chain (the `check-audit` command)."""
    return verify(ctx.audit.in_order())
