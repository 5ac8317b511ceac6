"""Where the edge finds accounts: the control plane's DynamoDB tables (read only), or a static credential table.

The DynamoDB reads follow docs/sip-events.md: uniques (username → account id) → accounts → groups → profiles.
Each read has a short timeout and at most one retry, and the whole lookup has a deadline, so a slow backend
costs a SIP worker a bounded time. `CachedDirectory` keeps answers per worker process for at most 30 s.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sipedge.config import EdgeConfig


class DirectoryUnavailable(Exception):
    """The account store did not answer in time (or answered an error); the REGISTER gets a 503."""


@dataclass(frozen=True)
class Account:
    id: str
    username: str
    group_id: str
    realm: str
    ha1: str | None = field(default=None, repr=False)  # a secret: never in logs, never in events
    enabled: bool = True
    group_enabled: bool = True
    account_type: str = "pgsm"
    keep_alive: bool = False
    permit: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    transports: tuple[str, ...] = ()  # the profile's list; empty means the edge's default
    lock_lifted_at: float = 0.0  # epoch seconds an operator last lifted a lockout (sipedge/limits.py)
    phone_number: str = ""  # the primary virtual number: how the account is shown to the callee
    security_model: str = "SDES"  # SDES (end-to-site SRTP, re-keyed by the edge) or ZRTP (end-to-end)
    language: str = ""  # the announcement's language (the group's or profile's), empty for the default

    @property
    def media_security(self) -> str:
        """sdes or zrtp: every SNOM account is SDES (docs/calls.md)."""
        if self.account_type.lower() == "snom":
            return "sdes"
        return "zrtp" if self.security_model.upper() == "ZRTP" else "sdes"


class Directory(Protocol):
    def find(self, username: str) -> Account | None:
        """The account registering as `username`, or None when there is none. Raises DirectoryUnavailable."""

    def by_ids(self, account_ids: list[str]) -> dict[str, Account | None]:
        """The accounts with these ids (None for one that is gone), read fresh and in batches: the re-check of
        registered accounts. Raises DirectoryUnavailable."""

    def find_number(self, number: str) -> Account | None:
        """The account with this primary or secondary virtual number (exactly as stored). Raises
        DirectoryUnavailable."""


def _value(attr: Mapping[str, Any] | None) -> Any:
    """A DynamoDB attribute value (low-level JSON form) as plain Python."""
    if not attr:
        return None
    kind, raw = next(iter(attr.items()))
    if kind == "L":
        return [_value(item) for item in raw]
    if kind == "SS":
        return list(raw)
    if kind == "NULL":
        return None
    return raw


def _text_list(attr: Mapping[str, Any] | None) -> tuple[str, ...]:
    items = _value(attr)
    return tuple(str(item) for item in items) if isinstance(items, list) else ()


BATCH_GET_LIMIT = 100  # BatchGetItem's keys per call


class DynamoDirectory:
    """Reads the control plane's tables with a low-level boto3 client (injected, so tests can hand one)."""

    def __init__(
        self,
        config: EdgeConfig,
        client: Any = None,
        clock: Callable[[], float] = time.monotonic,
        reference_ttl: float = 0.0,
    ) -> None:
        self._config = config
        self._client = client if client is not None else _dynamodb_client(config)
        self._clock = clock
        self._budget = max(config.backend_timeout_seconds * 2.5, 0.5)
        # groups and profiles are shared by many accounts: their items are kept `reference_ttl` seconds (the
        # same bound as account answers), so a cache miss on an account costs two reads, not four
        self._reference_ttl = reference_ttl
        self._references: dict[tuple[str, str], tuple[float, Mapping[str, Any] | None]] = {}
        self._lock = threading.Lock()

    def _get(self, table: str, key: dict[str, Any], deadline: float) -> Mapping[str, Any] | None:
        if self._clock() > deadline:
            raise DirectoryUnavailable("account lookup deadline passed")
        try:
            answer = self._client.get_item(TableName=self._config.table(table), Key=key)
        except Exception as exc:  # botocore's timeouts, throttling, connection errors: all the same to a worker
            raise DirectoryUnavailable(f"{table}: {type(exc).__name__}") from exc
        item: Mapping[str, Any] | None = answer.get("Item")
        return item

    def _reference(self, table: str, item_id: str, deadline: float, fresh: bool) -> Mapping[str, Any] | None:
        if not item_id:
            return None
        key = (table, item_id)
        now = self._clock()
        with self._lock:
            hit = self._references.get(key)
        if hit is not None and hit[0] > now and not fresh:
            return hit[1]
        item = self._get(table, {"id": {"S": item_id}}, deadline)
        if self._reference_ttl > 0:
            with self._lock:
                if len(self._references) > 10_000:
                    self._references.clear()
                self._references[key] = (now + self._reference_ttl, item)
        return item

    def _owned(self, unique_key: str) -> Account | None:
        """The account owning a uniques guard item (its username or one of its numbers)."""
        deadline = self._clock() + self._budget
        guard = self._get("uniques", {"key": {"S": unique_key}}, deadline)
        owner = _value(guard.get("owner_id")) if guard else None
        return self._account(str(owner), deadline, fresh=False) if owner else None

    def find(self, username: str) -> Account | None:
        return self._owned(f"account-username#{username.lower()}")

    def by_ids(self, account_ids: list[str]) -> dict[str, Account | None]:
        deadline = self._clock() + self._budget
        items = self._batch_get("accounts", account_ids, deadline)
        groups = self._batch_get("groups", _ids(items, "group_id"), deadline)
        profiles = self._batch_get("profiles", _ids(items, "provisioning_profile_id"), deadline)
        found: dict[str, Account | None] = {}
        for account_id in account_ids:
            item = items.get(account_id)
            found[account_id] = None if item is None else _account_from(
                account_id, item, groups.get(_text(item, "group_id")),
                profiles.get(_text(item, "provisioning_profile_id")),
            )  # fmt: skip
        return found

    def _batch_get(self, table: str, ids: list[str], deadline: float) -> dict[str, Mapping[str, Any]]:
        """Items by id with BatchGetItem (100 keys a call; unprocessed keys asked again until the deadline)."""
        name = self._config.table(table)
        found: dict[str, Mapping[str, Any]] = {}
        pending = [{"id": {"S": item_id}} for item_id in dict.fromkeys(ids) if item_id]
        while pending:
            if self._clock() > deadline:
                raise DirectoryUnavailable(f"{table}: batch read deadline passed")
            chunk, pending = pending[:BATCH_GET_LIMIT], pending[BATCH_GET_LIMIT:]
            try:
                answer = self._client.batch_get_item(RequestItems={name: {"Keys": chunk, "ConsistentRead": True}})
            except Exception as exc:  # as in _get: every backend trouble is one answer to the registry
                raise DirectoryUnavailable(f"{table}: {type(exc).__name__}") from exc
            for item in answer.get("Responses", {}).get(name, []):
                found[str(_value(item.get("id")))] = item
            pending.extend(answer.get("UnprocessedKeys", {}).get(name, {}).get("Keys", []))
        return found

    def find_number(self, number: str) -> Account | None:
        return self._owned(f"number#{number}")

    def _account(self, account_id: str, deadline: float, fresh: bool) -> Account | None:
        item = self._get("accounts", {"id": {"S": account_id}}, deadline)
        if item is None:
            return None
        group = self._reference("groups", _text(item, "group_id"), deadline, fresh)
        profile = self._reference("profiles", _text(item, "provisioning_profile_id"), deadline, fresh)
        return _account_from(account_id, item, group, profile)


def _text(item: Mapping[str, Any], name: str) -> str:
    return str(_value(item.get(name)) or "")


def _ids(items: Mapping[str, Mapping[str, Any]], name: str) -> list[str]:
    return [_text(item, name) for item in items.values()]


def _account_from(
    account_id: str, item: Mapping[str, Any], group: Mapping[str, Any] | None, profile: Mapping[str, Any] | None
) -> Account:
    realm = _value(item.get("realm")) or (_value(profile.get("sip_domain")) if profile else "") or ""
    return Account(
        id=account_id,
        username=_text(item, "username"),
        group_id=_text(item, "group_id"),
        realm=str(realm),
        ha1=_value(item.get("ha1")) or None,
        enabled=bool(_value(item.get("enabled"))),
        group_enabled=bool(group and _value(group.get("enabled"))),
        account_type=str(_value(item.get("account_type")) or "pgsm"),
        keep_alive=bool(_value(item.get("keep_alive"))),
        permit=_text_list(item.get("permit")),
        deny=_text_list(item.get("deny")),
        transports=_text_list(profile.get("transports")) if profile else (),
        lock_lifted_at=float(_value(item.get("sip_lock_lifted_at")) or 0),
        phone_number=_text(item, "phone_number"),
        security_model=str(_value(item.get("security_model")) or "SDES"),
        language=str(_value(group.get("language")) or "") if group else "",
    )


def _dynamodb_client(config: EdgeConfig) -> Any:
    import boto3  # imported here: the unit tests of the routing never need it
    from botocore.config import Config

    timeout = config.backend_timeout_seconds
    settings = Config(
        connect_timeout=timeout,
        read_timeout=timeout,
        retries={"total_max_attempts": 2, "mode": "standard"},
        max_pool_connections=4,
    )
    return boto3.client("dynamodb", region_name=config.region, endpoint_url=config.dynamodb_endpoint, config=settings)


class StaticDirectory:
    """A fixed credential table from a JSON file (`{"accounts": [{...Account fields...}]}`): the benchmark's
    baseline, the same Kamailio and routing with no backend behind it."""

    def __init__(self, accounts: list[Account]) -> None:
        self._by_name = {account.username.lower(): account for account in accounts}
        self._by_id = {account.id: account for account in accounts}
        self._by_number = {account.phone_number: account for account in accounts if account.phone_number}

    @classmethod
    def load(cls, path: str) -> StaticDirectory:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        accounts = []
        for row in data["accounts"]:
            fields = dict(row)
            for name in ("permit", "deny", "transports"):
                fields[name] = tuple(fields.get(name, ()))
            accounts.append(Account(**fields))
        return cls(accounts)

    def find(self, username: str) -> Account | None:
        return self._by_name.get(username.lower())

    def by_ids(self, account_ids: list[str]) -> dict[str, Account | None]:
        return {account_id: self._by_id.get(account_id) for account_id in account_ids}

    def find_number(self, number: str) -> Account | None:
        return self._by_number.get(number)


class CachedDirectory:
    """Per-process cache in front of a directory. Answers (including "no such user") live `ttl` seconds at most,
    so a disabled or deleted account stops registering within `ttl`; `by_ids` always reads through."""

    MAX_ENTRIES = 200_000

    def __init__(self, inner: Directory, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._inner = inner
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[str, tuple[float, Account | None]] = {}
        self._lock = threading.Lock()  # the sidecar answers from several threads; misses are not serialised

    def find(self, username: str) -> Account | None:
        return self._cached(username.lower(), lambda: self._inner.find(username))

    def find_number(self, number: str) -> Account | None:
        return self._cached(f"number#{number}", lambda: self._inner.find_number(number))

    def _cached(self, key: str, read: Callable[[], Account | None]) -> Account | None:
        with self._lock:
            hit = self._entries.get(key)
        if hit is not None and hit[0] > self._clock():
            return hit[1]
        account = read()
        if self._ttl > 0:
            self._store(key, account)
        return account

    def _store(self, key: str, account: Account | None) -> None:
        now = self._clock()
        with self._lock:
            if len(self._entries) >= self.MAX_ENTRIES:
                self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
                if len(self._entries) >= self.MAX_ENTRIES:
                    self._entries.clear()
            # a random quarter off the lifetime: entries filled together (a start, a burst) do not all expire
            # together and send their phones' next REGISTERs to the backend at once
            self._entries[key] = (now + self._ttl * (0.75 + 0.25 * random.random()), account)  # noqa: S311

    def by_ids(self, account_ids: list[str]) -> dict[str, Account | None]:
        return self._inner.by_ids(account_ids)


def build(config: EdgeConfig) -> Directory:
    """The directory a Kamailio process uses: the static table, or the sidecar (which reads DynamoDB).

    SIP_ACCOUNT_CACHE_SECONDS (at most 30 s) is split in three: group and profile items in the sidecar, account
    answers in the sidecar, answers in this worker; so an answer is never older than the setting."""
    if config.directory.startswith("static:"):
        return StaticDirectory.load(config.directory.removeprefix("static:"))
    if config.directory != "dynamodb":
        raise ValueError(f"unknown SIP_DIRECTORY {config.directory!r} (dynamodb or static:<path>)")
    from sipedge.client import SidecarDirectory

    sidecar = SidecarDirectory(config.sidecar_socket, timeout=max(config.backend_timeout_seconds * 2.5, 0.5))
    return CachedDirectory(sidecar, config.cache_seconds / 3)
