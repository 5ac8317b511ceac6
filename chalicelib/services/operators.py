"""Operators (admin-managed) and authentication: login, bearer sessions, rate limits, audit."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain import resources, rules
from chalicelib.domain.errors import Conflict, NotFound, RateLimited, Unauthorized
from chalicelib.domain.fields import MISSING, _Missing
from chalicelib.domain.listing import YES_NO, Filter, Table, yes_no
from chalicelib.domain.model import LoginAttempt, Operator, Page, Role, Session
from chalicelib.services import audit, limits, retries
from chalicelib.services.context import Context
from chalicelib.services.groups import _cursor_error, require_admin
from chalicelib.services.preconditions import Expected, check_version

BOOTSTRAP_ADMIN = "admin"
OPERATOR_PASSWORD_MIN = resources.OPERATOR_PASSWORD_MIN
LOGIN_SLOWDOWN_SECONDS = 60


def _read_operator(ctx: Context, data: Mapping[str, Any], creating: bool) -> dict[str, Any]:
    shape = resources.OPERATOR_INPUT if creating else resources.OPERATOR_PATCH
    reader = shape.reader(data)
    values = {"username": MISSING, **shape.read_into(reader)}  # limits, types and required fields declared
    username = values["username"]
    if isinstance(username, str) and not reader.has_error("username"):
        try:
            rules.check_username("username", username)
        except rules.InvalidField as exc:
            reader.errors.append(exc.error)
    password = values["password"]
    if isinstance(password, str) and len(password) < OPERATOR_PASSWORD_MIN and not reader.has_error("password"):
        reader.fail("password", "password_too_short", f"Operator passwords need {OPERATOR_PASSWORD_MIN} characters.")
    group_ids = values["group_ids"]
    if isinstance(group_ids, list):
        for index, group_id in enumerate(group_ids):
            if ctx.groups.get(group_id) is None:
                reader.fail(f"group_ids[{index}]", "not_found", f"No group has id '{group_id}'.")
    reader.raise_if_errors()
    return {k: v for k, v in values.items() if not isinstance(v, _Missing)}


def create_operator(ctx: Context, actor: Operator, data: Mapping[str, Any]) -> Operator:
    require_admin(actor)
    values = _read_operator(ctx, data, creating=True)
    added = _add_operator(
        ctx,
        values["username"],
        values["password"],
        values["role"],
        values.get("group_ids", []),
        values.get("enabled", True),
    )
    detail = {"username": added.username, "role": added.role.value, "group_ids": ",".join(sorted(added.group_ids))}
    audit.record(ctx, actor.username, "operator.create", "operator", added.id, detail)
    return added


def _add_operator(
    ctx: Context, username: str, password: str, role: Role, group_ids: list[str], enabled: bool
) -> Operator:
    now = ctx.clock()
    operator = Operator(
        id=ctx.new_id(),
        username=username,
        role=role,
        group_ids=frozenset(group_ids),
        enabled=enabled,
        password_hash=ctx.hasher.hash(password),
        created_at=now,
        updated_at=now,
    )
    return retries.add_once(ctx.operators.add, ctx.operators.get, operator)


def get_operator(ctx: Context, actor: Operator, operator_id: str) -> Operator:
    if actor.id != operator_id:
        require_admin(actor)
    operator = ctx.operators.get(operator_id)
    if operator is None:
        raise NotFound("Operator not found.")
    return operator


def list_operators(ctx: Context, actor: Operator, limit: int, cursor: str | None) -> Page[Operator]:
    require_admin(actor)
    try:
        return ctx.operators.list(limit, cursor)
    except ValueError as exc:
        raise _cursor_error(exc) from exc


OPERATORS = Table[Operator](
    sorts={"username": lambda o: o.username, "role": lambda o: (o.role.value, o.username),
           "enabled": lambda o: (not o.enabled, o.username)},
    filters={"role": Filter(tuple(r.value for r in Role), lambda o, v: o.role.value == v),
             "enabled": Filter(YES_NO, lambda o, v: yes_no(o.enabled, v))},
    default_sort="username",
)  # fmt: skip


def operator_listing(
    ctx: Context, actor: Operator, params: Mapping[str, str], size: int, cursor: str | None
) -> Page[Operator]:
    """The console's Operators: every operator sorted, filtered (role, enabled) and a page of them with the
    total (see domain/listing.py)."""
    everyone: list[Operator] = []
    store_cursor: str | None = None
    while True:
        found = list_operators(ctx, actor, 200, store_cursor)
        everyone.extend(found.items)
        store_cursor = found.next_cursor
        if not store_cursor:
            return OPERATORS.page(everyone, params, size, cursor)


def update_operator(
    ctx: Context,
    actor: Operator,
    operator_id: str,
    data: Mapping[str, Any],
    *,
    current_token: str = "",
    expected: Expected = None,
) -> Operator:
    """Change an operator. A new password ends the operator's sessions; changing your own keeps the session
    of `current_token` (the request's own login), which is renewed as of the change."""
    require_admin(actor)
    current = get_operator(ctx, actor, operator_id)
    check_version(current.version, expected)
    values = _read_operator(ctx, data, creating=False)
    if current.id == actor.id and (values.get("role", Role.ADMIN) is not Role.ADMIN or values.get("enabled") is False):
        raise Conflict("You cannot demote or disable yourself.", code="self_lockout")
    changes: dict[str, Any] = {}
    now = ctx.clock()
    if "password" in values:
        changes["password_hash"] = ctx.hasher.hash(values["password"])
        changes["sessions_valid_after"] = now  # a new password ends the operator's sessions, but for this one:
    if "role" in values:
        changes["role"] = values["role"]
    if "group_ids" in values:
        changes["group_ids"] = frozenset(values["group_ids"])
    if "enabled" in values:
        changes["enabled"] = values["enabled"]
    updated = replace(current, **changes, updated_at=now, version=current.version + 1)
    ctx.operators.replace(current, updated)
    audit.record(ctx, actor.username, "operator.update", "operator", current.id, audit.diff(current, updated, values))
    if "password" in values and current.id == actor.id and current_token:
        _renew_session(ctx, current_token, now)
    return updated


def _renew_session(ctx: Context, token: str, at: datetime) -> None:
    session = ctx.sessions.get(_token_hash(token))
    if session is not None:
        ctx.sessions.add(replace(session, created_at=at))  # not older than the new password: still valid


def delete_operator(ctx: Context, actor: Operator, operator_id: str, expected: Expected = None) -> None:
    require_admin(actor)
    operator = get_operator(ctx, actor, operator_id)
    check_version(operator.version, expected)
    if operator.id == actor.id:
        raise Conflict("You cannot delete yourself.", code="self_lockout")
    ctx.operators.remove(operator)
    audit.record(ctx, actor.username, "operator.delete", "operator", operator.id, {"username": operator.username})


def ensure_admin(ctx: Context, password: str | None) -> tuple[Operator, str | None]:
    """Create the bootstrap operator `admin` if missing. Returns it and the password when one was generated."""
    existing = ctx.operators.get_by_username(BOOTSTRAP_ADMIN)
    if existing is not None:
        if password:
            updated = replace(
                existing,
                password_hash=ctx.hasher.hash(password),
                sessions_valid_after=ctx.clock(),
                version=existing.version + 1,
            )
            ctx.operators.replace(existing, updated)
            return updated, None
        return existing, None
    generated = None if password else secrets.token_urlsafe(12)
    admin = _add_operator(ctx, BOOTSTRAP_ADMIN, password or generated or "", Role.ADMIN, [], True)
    return admin, generated


# --- authentication ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginResult:
    token: str
    expires_at: datetime
    operator: Operator


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


_DUMMY_HASH: dict[int, str] = {}


def login(
    ctx: Context, data: Mapping[str, Any], source_ip: str, user_agent: str, *, idle_seconds: int = 0
) -> LoginResult:
    """Check credentials (rate-limited, audited) and open a session. With `idle_seconds` (the console) the
    session ends after that much inactivity, and in any case after the absolute session lifetime."""
    values = resources.LOGIN.read(data)
    username, password = values["username"], values["password"]
    assert isinstance(username, str) and isinstance(password, str)
    now = ctx.clock()

    def attempt(outcome: str) -> None:
        ctx.login_audit.record(LoginAttempt(now, username, source_ip, outcome, user_agent[:300]))
        audit.record(ctx, username, f"login.{outcome}", "session", "", {"user_agent": user_agent[:300]})

    try:
        with limits.counting_failures(ctx, _login_limits(ctx, username, source_ip), (Unauthorized,)):
            operator = _check_credentials(ctx, username, password, attempt)
    except RateLimited:
        attempt("rate_limited")
        raise
    s = ctx.settings
    token = secrets.token_urlsafe(32)
    lifetime = min(idle_seconds, s.session_ttl_seconds) if idle_seconds else s.session_ttl_seconds
    expires = now + timedelta(seconds=lifetime)
    ctx.sessions.add(Session(_token_hash(token), operator.id, now, expires, idle_seconds))
    attempt("success")
    return LoginResult(token, expires, operator)


def _login_limits(ctx: Context, username: str, source_ip: str) -> list[limits.Limit]:
    """Failures per username from one source (the lock-out an attacker elsewhere cannot cause), per source (one
    client trying many usernames) and per username from anywhere in a short window (a slow-down of distributed
    guessing that the real user waits out in seconds)."""
    s = ctx.settings
    user = username.lower()
    wait = "Too many failed logins; wait before trying again."
    return [
        limits.Limit(f"login-pair:{user}|{source_ip}", s.login_window_seconds, s.login_max_failures_per_user, wait),
        limits.Limit(f"login-source:{source_ip}", s.login_window_seconds, s.login_max_failures_per_source, wait),
        limits.Limit(f"login-user:{user}", LOGIN_SLOWDOWN_SECONDS, s.login_max_failures_per_user_per_minute, wait),
    ]


def _check_credentials(ctx: Context, username: str, password: str, attempt: Callable[[str], None]) -> Operator:
    operator = ctx.operators.get_by_username(username)
    if operator is None:
        # Spend the same time as a real check so that response times do not reveal usernames.
        ctx.hasher.verify(_dummy_hash(ctx), password)
        valid = False
    else:
        valid = ctx.hasher.verify(operator.password_hash, password)
    if operator is None or not valid or not operator.enabled:
        attempt("disabled" if operator is not None and valid else "bad_credentials")
        raise Unauthorized("Invalid username or password.", code="invalid_credentials")
    return operator


def _dummy_hash(ctx: Context) -> str:
    key = id(ctx.hasher)
    if key not in _DUMMY_HASH:
        _DUMMY_HASH[key] = ctx.hasher.hash(secrets.token_hex(16))
    return _DUMMY_HASH[key]


SLIDE_GRANULARITY = timedelta(seconds=60)  # write a sliding expiry at most once a minute


def authenticate(ctx: Context, token: str) -> Operator:
    session = ctx.sessions.get(_token_hash(token)) if token else None
    now = ctx.clock()
    if session is None or session.expires_at <= now:
        raise Unauthorized("Log in first: the token is missing, unknown or expired.", code="unauthenticated")
    operator = ctx.operators.get(session.operator_id)
    if operator is None or not operator.enabled:
        raise Unauthorized("This operator no longer has access.", code="unauthenticated")
    if operator.sessions_valid_after is not None and session.created_at < operator.sessions_valid_after:
        raise Unauthorized("The password changed since this login; log in again.", code="unauthenticated")
    if session.idle_seconds:
        absolute = session.created_at + timedelta(seconds=ctx.settings.session_ttl_seconds)
        slid = min(now + timedelta(seconds=session.idle_seconds), absolute)
        if slid - session.expires_at >= SLIDE_GRANULARITY:
            ctx.sessions.extend(session.token_hash, slid)
    return operator


def logout(ctx: Context, token: str) -> None:
    ctx.sessions.remove(_token_hash(token))


def recent_logins(ctx: Context, actor: Operator, limit: int) -> list[LoginAttempt]:
    require_admin(actor)
    return ctx.login_audit.recent(limit, ctx.clock())
