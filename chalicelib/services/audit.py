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
from collections.abc import Iterable, Iterator, Mapping
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
    if errors:
        raise ValidationFailed(errors)
    return since, until, before


def events(
    ctx: Context, actor: Operator, filters: Mapping[str, str], limit: int, cursor: str | None
) -> Page[AuditEvent]:
    """The trail newest first, for administrators: by operator (`operator`), target id (`target`) and time
    (`since`, `until`, ISO 8601); the cursor is the seq to continue below. A page looks through at most
    SCAN_LIMIT entries (then it ends with a cursor to look further)."""
    if actor.role is not Role.ADMIN:
        raise Forbidden("Only administrators may read the audit trail.")
    since, until, before = _filters(filters, cursor)
    who, target = filters.get("operator", ""), filters.get("target", "")

    def wanted(event: AuditEvent) -> bool:
        in_time = not until or event.at <= until
        return in_time and (not who or event.actor == who) and (not target or event.target_id == target)

    found: list[AuditEvent] = []
    looked = 0
    while len(found) < limit and looked < SCAN_LIMIT:
        batch = ctx.audit.newest(min(200, SCAN_LIMIT - looked), before)
        looked += len(batch)
        if not batch:
            return Page(found, None)
        for event in batch:
            before = event.seq
            if since and event.at < since:
                return Page(found, None)  # newest first: everything further is older
            if wanted(event):
                found.append(event)
            if len(found) == limit:
                break
    return Page(found, str(before) if before is not None and before > 1 else None)


def check(ctx: Context) -> ChainCheck:
    """Verify the whole chain (the `check-audit` command)."""
    return verify(ctx.audit.in_order())
