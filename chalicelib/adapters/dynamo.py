"""DynamoDB repositories through PynamoDB. Every invariant-keeping write is one TransactWriteItems call.

Vendor errors stop here: conditional-check failures become our Conflict / NotFound /
ConcurrentModification, throttling StorageBusy and any other PynamoDB failure StorageUnavailable (both 503),
so nothing above this module sees a PynamoDB or botocore exception. Every repository class is wrapped by
`@_translated`, which does this for each public method, transactional or not.
"""

from __future__ import annotations

import functools
import json
import secrets
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError
from pynamodb.exceptions import DoesNotExist, PutError, PynamoDBException, TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.cursor import decode_cursor, encode_cursor
from chalicelib.adapters.dynamo_models import (
    AccountModel,
    AuditModel,
    AuthModel,
    CallModel,
    GroupModel,
    ImportModel,
    LicenceModel,
    MessageModel,
    OperatorModel,
    ProfileModel,
    RegistrationModel,
    Tables,
    TimelineModel,
    TokenModel,
    UniqueModel,
)
from chalicelib.domain.audit import AuditEvent
from chalicelib.domain.calls import CallRecord, Direction
from chalicelib.domain.errors import (
    ConcurrentModification,
    Conflict,
    DomainError,
    NotFound,
    OutcomeUnknown,
    StaleReference,
    StorageBusy,
    StorageUnavailable,
    Unavailable,
)
from chalicelib.domain.import_job import ImportJob, job_from_dict, job_to_dict
from chalicelib.domain.licensing import BadLicence, CachedLicence, Licence, canonical
from chalicelib.domain.model import (
    Account,
    AccountStatus,
    AccountType,
    CreationMode,
    Group,
    Language,
    LoginAttempt,
    Operator,
    Page,
    ProvisioningProfile,
    Role,
    SecurityModel,
    Session,
    SipCredentials,
    TimelineEvent,
    Transport,
    iso,
)
from chalicelib.domain.provisioning import MessageStatus, ProvisioningToken, Purpose, SmsMessage
from chalicelib.domain.registration import Registration
from chalicelib.services import guards
from chalicelib.services.ports import StoredResponse

M = TypeVar("M", bound=Model)
_PROFILE_MISSING = NotFound(
    "Provisioning profile not found.", field="provisioning_profile_id", code="profile_not_found"
)
_GROUP_MISSING = NotFound("Group not found.", field="group_id", code="group_not_found")
_PROFILE_CHANGED = StaleReference(
    "The provisioning profile was deleted or its SIP domain changed meanwhile.",
    field="provisioning_profile_id",
)


_ID_TAKEN = guards.id_taken("an account")
_STALE = ConcurrentModification("The item changed since it was read; reload and retry.")


_THROTTLED = {
    "ThrottlingError",
    "ThrottlingException",
    "ProvisionedThroughputExceeded",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
}


def storage_error(exc: PynamoDBException) -> Unavailable:
    """What a PynamoDB failure that is not a refused condition means to the caller: try again later."""
    if exc.cause_response_code in _THROTTLED:
        return StorageBusy("The database is busy; try again in a moment.", retry_after=2)
    return StorageUnavailable("The database cannot be reached; try again in a moment.")


F = TypeVar("F", bound=Callable[..., Any])
C = TypeVar("C", bound=type)


def _translating(method: F) -> F:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except PynamoDBException as exc:
            raise storage_error(exc) from exc

    return wrapper  # type: ignore[return-value]


def _translated(cls: C) -> C:
    """Wrap every public method of a repository so that no PynamoDB exception leaves it."""
    for name, member in list(vars(cls).items()):
        if not name.startswith("_") and callable(member):
            setattr(cls, name, _translating(member))
    return cls


_KIND_ORDER = {"check": 0, "delete": 1, "put": 2, "update": 3}  # the order PynamoDB sends items in


class _Tx:
    """A TransactWriteItems call whose failed conditions map back to domain errors, item by item.

    PynamoDB sends condition checks, then deletes, puts and updates; cancellation reasons come back in that
    order, so the failures are kept in the same order."""

    def __init__(self, tables: Tables, token: str | None = None) -> None:
        self.t = tables
        self.token = token  # ClientRequestToken: botocore's retry of a call that landed succeeds without writing
        self.ops: list[tuple[str, Callable[[TransactWrite], None], DomainError | None]] = []

    def put(self, item: Model, condition: Condition | None, on_fail: DomainError | None = None) -> None:
        self.ops.append(("put", lambda tx: tx.save(item, condition=condition), on_fail))

    def delete(self, item: Model, condition: Condition | None, on_fail: DomainError | None = None) -> None:
        self.ops.append(("delete", lambda tx: tx.delete(item, condition=condition), on_fail))

    def update(self, item: Model, actions: list[Any], condition: Condition | None, on_fail: DomainError) -> None:
        self.ops.append(("update", lambda tx: tx.update(item, actions=actions, condition=condition), on_fail))

    def check(self, model: type[Model], key: str, condition: Condition, on_fail: DomainError) -> None:
        self.ops.append(("check", lambda tx: tx.condition_check(model, key, condition=condition), on_fail))

    def claim(self, entry: guards.Guard, *, new_owner: bool = False) -> None:
        """Write a guard item that must be free, or (for an owner re-writing itself) already its own."""
        key, owner, field_name = entry
        conflict = Conflict(guards.conflict_message(field_name), field=field_name, code="duplicate")
        condition = UniqueModel.key.does_not_exist()
        if not new_owner:
            condition = condition | (UniqueModel.owner_id == owner)
        self.put(self.t.uniques(key, owner_id=owner), condition, conflict)

    def release(self, entry: guards.Guard) -> None:
        key, owner, _ = entry
        self.delete(self.t.uniques(key, owner_id=owner), None)

    def commit(self) -> None:
        ordered = sorted(self.ops, key=lambda op: _KIND_ORDER[op[0]])
        try:
            with TransactWrite(connection=self.t.connection, client_request_token=self.token) as tx:
                for _, apply, _ in ordered:
                    apply(tx)
        except TransactWriteError as exc:
            if isinstance(exc.cause, BotoCoreError):  # no answer (timeouts, connection): the outcome is unknown
                raise OutcomeUnknown() from exc
            reasons = exc.cancellation_reasons or []
            for reason, (_, _, failure) in zip(reasons, ordered, strict=False):
                if reason is not None and reason.code == "ConditionalCheckFailed" and failure is not None:
                    raise failure from exc
            if any(r is not None and r.code == "TransactionConflict" for r in reasons):
                raise _STALE from exc
            if any(r is not None and r.code in _THROTTLED for r in reasons):
                raise StorageBusy("The database is busy; try again in a moment.", retry_after=2) from exc
            raise storage_error(exc) from exc


def _request_token(*parts: str) -> str:
    """A transaction's ClientRequestToken (36 characters at most), the same for the same write only."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "|".join(parts)))


def _version_is(model: type[Model], version: int) -> Condition:
    return model.version == version  # type: ignore[attr-defined, no-any-return]


def _page(iterator: Any, convert: Callable[[Any], Any]) -> Page[Any]:
    items = [convert(m) for m in iterator]
    last = iterator.last_evaluated_key
    return Page(items, encode_cursor(last) if last else None)


def _start_key(cursor: str | None, names: frozenset[str], **fixed: str) -> dict[str, Any] | None:
    """The ExclusiveStartKey a cursor holds, checked: exactly the key attributes `names` of the table or index,
    each a short string (`fixed` ones equal to the query's own value), so a crafted cursor is refused as malformed
    instead of reaching DynamoDB."""
    if not cursor:
        return None
    key = decode_cursor(cursor)
    if not isinstance(key, dict) or set(key) != names:
        raise ValueError("malformed cursor")
    for name, value in key.items():
        text = value.get("S") if isinstance(value, dict) and len(value) == 1 else None
        if not isinstance(text, str) or not 0 < len(text) <= 1024 or fixed.get(name, text) != text:
            raise ValueError("malformed cursor")
    return key


_ID_KEY = frozenset({"id"})
_BY_GROUP_KEY = frozenset({"id", "group_id", "username"})
_ONLINE_KEY = frozenset({"account_id", "contact", "online_group_id", "sort_key"})


def _save_if(item: Model, condition: Condition) -> bool:
    """Put `item` if `condition` holds; False (nothing written) when it does not."""
    try:
        item.save(condition=condition)
    except PutError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def _update_if(item: Model, actions: list[Any], condition: Condition) -> bool:
    """Update `item` if `condition` holds; False (nothing written) when it does not."""
    try:
        item.update(actions=actions, condition=condition)
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def _get(model: type[M], key: str) -> M | None:
    if not key:
        return None  # DynamoDB refuses an empty key: no item has one
    try:
        return model.get(key, consistent_read=True)
    except DoesNotExist:
        return None


# --- accounts ----------------------------------------------------------------------------------------------


def _account_to_model(cls: type[AccountModel], a: Account) -> AccountModel:
    creds = a.credentials
    return cls(
        a.id,
        username=a.username,
        group_id=a.group_id,
        provisioning_profile_id=a.provisioning_profile_id,
        phone_number=a.phone_number,
        secondary_phone_number=a.secondary_phone_number,
        account_type=a.account_type.value,
        security_model=a.security_model.value,
        obfuscation_enabled=a.obfuscation_enabled,
        obfuscation_key=a.obfuscation_key,
        keep_alive=a.keep_alive,
        permit=list(a.permit),
        deny=list(a.deny),
        full_name=a.full_name,
        email=a.email,
        description=a.description,
        enabled=a.enabled,
        status=a.status.value,
        status_changed_at=a.status_changed_at,
        created_at=a.created_at,
        updated_at=a.updated_at,
        creation_mode=a.creation_mode.value,
        realm=creds.realm if creds else None,
        ha1=creds.ha1 if creds else None,
        ha1b=creds.ha1b if creds else None,
        ha1_sha256=creds.ha1_sha256 if creds else None,
        sms_problem=a.sms_problem or None,
        sip_locked_until=a.sip_locked_until,
        sip_lock_lifted_at=a.sip_lock_lifted_at.timestamp() if a.sip_lock_lifted_at else None,
        version=a.version,
    )


def _account_from_model(m: AccountModel) -> Account:
    creds = None
    if m.realm and m.ha1 and m.ha1b and m.ha1_sha256:
        creds = SipCredentials(realm=m.realm, ha1=m.ha1, ha1b=m.ha1b, ha1_sha256=m.ha1_sha256)
    return Account(
        id=m.id,
        username=m.username,
        group_id=m.group_id,
        provisioning_profile_id=m.provisioning_profile_id,
        phone_number=m.phone_number,
        secondary_phone_number=m.secondary_phone_number or None,
        account_type=AccountType(m.account_type),
        security_model=SecurityModel(m.security_model),
        obfuscation_enabled=m.obfuscation_enabled,
        obfuscation_key=m.obfuscation_key,
        keep_alive=m.keep_alive,
        permit=tuple(m.permit or ()),
        deny=tuple(m.deny or ()),
        full_name=m.full_name or "",
        email=m.email or "",
        description=m.description or "",
        enabled=m.enabled,
        status=AccountStatus(m.status),
        status_changed_at=m.status_changed_at,
        created_at=m.created_at,
        updated_at=m.updated_at,
        creation_mode=CreationMode(m.creation_mode),
        credentials=creds,
        version=int(m.version),
        sms_problem=m.sms_problem or "",
        sip_locked_until=m.sip_locked_until,
        sip_lock_lifted_at=datetime.fromtimestamp(float(m.sip_lock_lifted_at), UTC) if m.sip_lock_lifted_at else None,
    )


def account_from_image(image: dict[str, Any] | None) -> Account | None:
    """An account from a DynamoDB Stream image (DynamoDB JSON), as the stream handler receives it."""
    if not image:
        return None
    return _account_from_model(AccountModel.from_raw_data(image))


def _event_to_model(cls: type[TimelineModel], e: TimelineEvent) -> TimelineModel:
    return cls(
        e.account_id,
        f"{iso(e.at)}#{e.event_id or secrets.token_hex(4)}",  # an event with an id is stored once
        kind=e.kind,
        actor=e.actor,
        detail=json.dumps(e.detail) if e.detail else None,
    )


def _event_from_model(m: TimelineModel) -> TimelineEvent:
    at = datetime.fromisoformat(m.sk.split("#", 1)[0].replace("Z", "+00:00"))
    detail = json.loads(m.detail) if m.detail else {}
    event_id = m.sk.split("#", 1)[1] if "#" in m.sk else ""
    return TimelineEvent(account_id=m.account_id, at=at, kind=m.kind, actor=m.actor, detail=detail, event_id=event_id)


def _count_delta(tx: _Tx, group_id: str, delta: int) -> None:
    tx.update(
        tx.t.groups(group_id),
        [GroupModel.account_count.add(delta)],
        GroupModel.id.exists(),
        _GROUP_MISSING,
    )


def _check_profile(tx: _Tx, account: Account) -> None:
    """The profile exists and still has the realm the account's digests were computed for."""
    condition = ProfileModel.id.exists()
    if account.credentials is not None:
        condition = condition & (ProfileModel.sip_domain == account.credentials.realm)
    tx.check(tx.t.profiles, account.provisioning_profile_id, condition, _PROFILE_CHANGED)


@_translated
class DynamoAccounts:
    def __init__(self, tables: Tables) -> None:
        self.t = tables

    def add(self, account: Account, event: TimelineEvent) -> None:
        tx = _Tx(self.t, _request_token(account.id, account.username, account.created_at.isoformat()))
        # Ids are fresh uuid4s, or derived from an import job and record (a resumed import must not write twice).
        tx.put(_account_to_model(self.t.accounts, account), AccountModel.id.does_not_exist(), _ID_TAKEN)
        for entry in guards.account_guards(account):
            tx.claim(entry, new_owner=True)
        _count_delta(tx, account.group_id, +1)
        _check_profile(tx, account)
        tx.put(_event_to_model(self.t.timeline, event), None)
        tx.commit()

    def add_many(self, accounts: Sequence[Account], events: Sequence[TimelineEvent]) -> None:
        tx = _Tx(self.t)
        counts: dict[str, int] = {}
        profiles: dict[str, Account] = {}
        for account, event in zip(accounts, events, strict=True):
            tx.put(_account_to_model(self.t.accounts, account), AccountModel.id.does_not_exist(), _ID_TAKEN)
            for entry in guards.account_guards(account):
                tx.claim(entry, new_owner=True)
            tx.put(_event_to_model(self.t.timeline, event), None)
            counts[account.group_id] = counts.get(account.group_id, 0) + 1
            profiles.setdefault(account.provisioning_profile_id, account)
        for group_id, delta in counts.items():  # one operation per item: DynamoDB refuses two on the same one
            _count_delta(tx, group_id, delta)
        for account in profiles.values():
            _check_profile(tx, account)
        tx.commit()

    def get(self, account_id: str) -> Account | None:
        model = _get(self.t.accounts, account_id)
        return _account_from_model(model) if model else None

    def taken_keys(self, keys: Sequence[str]) -> set[str]:
        unique = list(dict.fromkeys(keys))
        return {m.key for m in self.t.uniques.batch_get(unique, attributes_to_get=["key"])} if unique else set()

    def get_many(self, account_ids: Sequence[str]) -> dict[str, Account]:
        unique = list(dict.fromkeys(account_ids))
        return {m.id: _account_from_model(m) for m in self.t.accounts.batch_get(unique)} if unique else {}

    def get_by_username(self, username: str) -> Account | None:
        guard = _get(self.t.uniques, guards.username_key(username))
        return self.get(guard.owner_id) if guard else None

    def get_by_number(self, number: str) -> Account | None:
        guard = _get(self.t.uniques, guards.number_key(number))
        return self.get(guard.owner_id) if guard else None

    def list_by_group(self, group_id: str, limit: int, cursor: str | None) -> Page[Account]:
        iterator = self.t.accounts.by_group.query(
            group_id, limit=limit, last_evaluated_key=_start_key(cursor, _BY_GROUP_KEY, group_id=group_id)
        )
        return _page(iterator, _account_from_model)

    def replace(self, previous: Account, updated: Account, event: TimelineEvent) -> None:
        tx = _Tx(self.t)
        tx.put(_account_to_model(self.t.accounts, updated), _version_is(AccountModel, previous.version), _STALE)
        old_entries = guards.account_guards(previous)
        new_entries = guards.account_guards(updated)
        for entry in new_entries:
            tx.claim(entry)
        new_keys = {key for key, _, _ in new_entries}
        for entry in old_entries:
            if entry[0] not in new_keys:
                tx.release(entry)
        if previous.group_id != updated.group_id:
            _count_delta(tx, previous.group_id, -1)
            _count_delta(tx, updated.group_id, +1)
        _check_profile(tx, updated)
        tx.put(_event_to_model(self.t.timeline, event), None)
        tx.commit()

    def remove(self, account: Account, event: TimelineEvent) -> None:
        tx = _Tx(self.t)
        tx.delete(self.t.accounts(account.id), _version_is(AccountModel, account.version), _STALE)
        for entry in guards.account_guards(account):
            tx.release(entry)
        _count_delta(tx, account.group_id, -1)
        tx.put(_event_to_model(self.t.timeline, event), None)
        tx.commit()

    def append_event(self, event: TimelineEvent) -> None:
        _event_to_model(self.t.timeline, event).save()

    def timeline(self, account_id: str, limit: int) -> list[TimelineEvent]:
        return [_event_from_model(m) for m in self.t.timeline.query(account_id, scan_index_forward=False, limit=limit)]

    def profile_in_use(self, profile_id: str) -> bool:
        return any(True for _ in self.t.accounts.by_profile.query(profile_id, limit=1))


# --- groups ------------------------------------------------------------------------------------------------


def _group_to_model(cls: type[GroupModel], g: Group) -> GroupModel:
    return cls(
        g.id,
        name=g.name,
        it_email=g.it_email,
        provisioning_profile_id=g.provisioning_profile_id,
        enabled=g.enabled,
        language=g.language.value,
        account_count=g.account_count,
        created_at=g.created_at,
        updated_at=g.updated_at,
        version=g.version,
    )


def _group_from_model(m: GroupModel) -> Group:
    return Group(
        id=m.id,
        name=m.name,
        it_email=m.it_email or "",
        provisioning_profile_id=m.provisioning_profile_id,
        enabled=m.enabled,
        language=Language(m.language or Language.EN),
        account_count=int(m.account_count),
        created_at=m.created_at,
        updated_at=m.updated_at,
        version=int(m.version),
    )


@_translated
class DynamoGroups:
    def __init__(self, tables: Tables) -> None:
        self.t = tables

    def add(self, group: Group) -> None:
        tx = _Tx(self.t, _request_token(group.id, group.created_at.isoformat()))
        tx.put(_group_to_model(self.t.groups, group), GroupModel.id.does_not_exist(), guards.id_taken("a group"))
        tx.claim(guards.group_name_guard(group))
        tx.check(self.t.profiles, group.provisioning_profile_id, ProfileModel.id.exists(), _PROFILE_MISSING)
        tx.commit()

    def get(self, group_id: str) -> Group | None:
        model = _get(self.t.groups, group_id)
        return _group_from_model(model) if model else None

    def list(self, limit: int, cursor: str | None) -> Page[Group]:
        return _page(self.t.groups.scan(limit=limit, last_evaluated_key=_start_key(cursor, _ID_KEY)), _group_from_model)

    def replace(self, previous: Group, updated: Group) -> None:
        tx = _Tx(self.t)
        actions = [
            GroupModel.name.set(updated.name),
            GroupModel.it_email.set(updated.it_email),
            GroupModel.provisioning_profile_id.set(updated.provisioning_profile_id),
            GroupModel.enabled.set(updated.enabled),
            GroupModel.language.set(updated.language.value),
            GroupModel.updated_at.set(updated.updated_at),
            GroupModel.version.set(updated.version),
        ]
        # An update, not a put: the account counter belongs to account writes.
        tx.update(self.t.groups(updated.id), actions, _version_is(GroupModel, previous.version), _STALE)
        old, new = guards.group_name_guard(previous), guards.group_name_guard(updated)
        if old[0] != new[0]:
            tx.claim(new)
            tx.release(old)
        tx.check(self.t.profiles, updated.provisioning_profile_id, ProfileModel.id.exists(), _PROFILE_MISSING)
        tx.commit()

    def remove(self, group: Group) -> None:
        tx = _Tx(self.t)
        not_empty = Conflict("The group still has accounts; delete or move them first.", code="group_not_empty")
        tx.delete(self.t.groups(group.id), GroupModel.account_count == 0, not_empty)
        tx.release(guards.group_name_guard(group))
        try:
            tx.commit()
        except Conflict as exc:  # the condition fails on a missing group too: tell the two apart
            if _get(self.t.groups, group.id) is None:
                raise NotFound("Group not found.") from exc
            raise

    def profile_in_use(self, profile_id: str) -> bool:
        scan = self.t.groups.scan(GroupModel.provisioning_profile_id == profile_id)
        return any(True for _ in scan)


# --- provisioning profiles -------------------------------------------------------------------------------


def _profile_to_model(cls: type[ProfileModel], p: ProvisioningProfile) -> ProfileModel:
    return cls(
        p.id,
        name=p.name,
        sip_domain=p.sip_domain,
        sip_host=p.sip_host,
        tls_port=p.tls_port,
        tcp_port=p.tcp_port,
        udp_port=p.udp_port,
        default_transport=p.default_transport.value,
        android_url=p.android_url,
        ios_url=p.ios_url,
        other_url=p.other_url,
        installation_sms_template=p.installation_sms_template,
        activation_sms_template=p.activation_sms_template,
        transports=[t.value for t in p.transports] or None,
        default_country=p.default_country or None,
        created_at=p.created_at,
        updated_at=p.updated_at,
        version=p.version,
    )


def _port(value: Any) -> int | None:
    return None if value is None else int(value)


def _profile_from_model(m: ProfileModel) -> ProvisioningProfile:
    return ProvisioningProfile(
        id=m.id,
        name=m.name,
        sip_domain=m.sip_domain,
        sip_host=m.sip_host,
        tls_port=_port(m.tls_port),
        tcp_port=_port(m.tcp_port),
        udp_port=_port(m.udp_port),
        default_transport=Transport(m.default_transport),
        android_url=m.android_url or "",
        ios_url=m.ios_url or "",
        other_url=m.other_url or "",
        **{k: v for k in ("installation_sms_template", "activation_sms_template") if (v := getattr(m, k))},
        transports=tuple(Transport(t) for t in m.transports or ()),
        default_country=m.default_country or "",
        created_at=m.created_at,
        updated_at=m.updated_at,
        version=int(m.version),
    )


@_translated
class DynamoProfiles:
    def __init__(self, tables: Tables) -> None:
        self.t = tables

    def add(self, profile: ProvisioningProfile) -> None:
        tx = _Tx(self.t, _request_token(profile.id, profile.created_at.isoformat()))
        tx.put(
            _profile_to_model(self.t.profiles, profile), ProfileModel.id.does_not_exist(), guards.id_taken("a profile")
        )
        tx.claim(guards.profile_name_guard(profile))
        tx.commit()

    def get(self, profile_id: str) -> ProvisioningProfile | None:
        model = _get(self.t.profiles, profile_id)
        return _profile_from_model(model) if model else None

    def list(self, limit: int, cursor: str | None) -> Page[ProvisioningProfile]:
        scan = self.t.profiles.scan(limit=limit, last_evaluated_key=_start_key(cursor, _ID_KEY))
        return _page(scan, _profile_from_model)

    def replace(self, previous: ProvisioningProfile, updated: ProvisioningProfile) -> None:
        tx = _Tx(self.t)
        tx.put(_profile_to_model(self.t.profiles, updated), _version_is(ProfileModel, previous.version), _STALE)
        old, new = guards.profile_name_guard(previous), guards.profile_name_guard(updated)
        if old[0] != new[0]:
            tx.claim(new)
            tx.release(old)
        tx.commit()

    def remove(self, profile: ProvisioningProfile) -> None:
        tx = _Tx(self.t)
        tx.delete(self.t.profiles(profile.id), _version_is(ProfileModel, profile.version), _STALE)
        tx.release(guards.profile_name_guard(profile))
        tx.commit()


# --- operators ---------------------------------------------------------------------------------------------


def _operator_to_model(cls: type[OperatorModel], o: Operator) -> OperatorModel:
    return cls(
        o.id,
        username=o.username,
        role=o.role.value,
        group_ids=sorted(o.group_ids),
        enabled=o.enabled,
        password_hash=o.password_hash,
        created_at=o.created_at,
        updated_at=o.updated_at,
        version=o.version,
        sessions_valid_after=o.sessions_valid_after,
    )


def _operator_from_model(m: OperatorModel) -> Operator:
    return Operator(
        id=m.id,
        username=m.username,
        role=Role(m.role),
        group_ids=frozenset(m.group_ids or ()),
        enabled=m.enabled,
        password_hash=m.password_hash,
        created_at=m.created_at,
        updated_at=m.updated_at,
        version=int(m.version),
        sessions_valid_after=m.sessions_valid_after,
    )


@_translated
class DynamoOperators:
    def __init__(self, tables: Tables) -> None:
        self.t = tables

    def add(self, operator: Operator) -> None:
        tx = _Tx(self.t, _request_token(operator.id, operator.created_at.isoformat()))
        tx.put(
            _operator_to_model(self.t.operators, operator),
            OperatorModel.id.does_not_exist(),
            guards.id_taken("an operator"),
        )
        tx.claim(guards.operator_guard(operator))
        tx.commit()

    def get(self, operator_id: str) -> Operator | None:
        model = _get(self.t.operators, operator_id)
        return _operator_from_model(model) if model else None

    def get_by_username(self, username: str) -> Operator | None:
        guard = _get(self.t.uniques, guards.operator_key(username))
        return self.get(guard.owner_id) if guard else None

    def list(self, limit: int, cursor: str | None) -> Page[Operator]:
        scan = self.t.operators.scan(limit=limit, last_evaluated_key=_start_key(cursor, _ID_KEY))
        return _page(scan, _operator_from_model)

    def replace(self, previous: Operator, updated: Operator) -> None:
        tx = _Tx(self.t)
        tx.put(_operator_to_model(self.t.operators, updated), _version_is(OperatorModel, previous.version), _STALE)
        tx.commit()

    def remove(self, operator: Operator) -> None:
        tx = _Tx(self.t)
        tx.delete(self.t.operators(operator.id), _version_is(OperatorModel, operator.version), _STALE)
        tx.release(guards.operator_guard(operator))
        tx.commit()


# --- sessions, counters, audit -----------------------------------------------------------------------------


@_translated
class DynamoSessions:
    def __init__(self, tables: Tables) -> None:
        self.t = tables

    def add(self, session: Session) -> None:
        self.t.auth(
            f"session#{session.token_hash}",
            operator_id=session.operator_id,
            created_at=session.created_at,
            expires_at=session.expires_at,
            idle_seconds=session.idle_seconds,
            ttl=int(session.expires_at.timestamp()),
        ).save()

    def get(self, token_hash: str) -> Session | None:
        model = _get(self.t.auth, f"session#{token_hash}")
        if model is None or model.operator_id is None or model.created_at is None or model.expires_at is None:
            return None
        idle = int(model.idle_seconds or 0)
        return Session(token_hash, model.operator_id, model.created_at, model.expires_at, idle)

    def remove(self, token_hash: str) -> None:
        self.t.auth(f"session#{token_hash}").delete()

    def extend(self, token_hash: str, expires_at: datetime) -> None:
        try:
            self.t.auth(f"session#{token_hash}").update(
                actions=[AuthModel.expires_at.set(expires_at), AuthModel.ttl.set(int(expires_at.timestamp()))],
                condition=AuthModel.pk.exists(),
            )
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise  # a logout won the race: the session stays gone

    @staticmethod
    def _slot(key: str, window_seconds: int, now: datetime) -> tuple[str, int]:
        window = int(now.timestamp()) // window_seconds
        return f"rate#{key}#{window}", (window + 2) * window_seconds

    def take(self, key: str, window_seconds: int, now: datetime, limit: int) -> bool:
        pk, expires = self._slot(key, window_seconds, now)
        below = AuthModel.hits.does_not_exist() | (AuthModel.hits < limit)
        return _update_if(self.t.auth(pk), [AuthModel.hits.add(1), AuthModel.ttl.set(expires)], below)

    def give_back(self, key: str, window_seconds: int, now: datetime) -> None:
        pk, _ = self._slot(key, window_seconds, now)
        _update_if(self.t.auth(pk), [AuthModel.hits.add(-1)], AuthModel.hits > 0)


@_translated
class DynamoIdempotency:
    def __init__(self, tables: Tables) -> None:
        self.t = tables

    def claim(
        self, key: str, fingerprint: str, now: datetime, lease_until: datetime, expires: datetime
    ) -> StoredResponse | None:
        item = self.t.auth(
            f"idem#{key}", fingerprint=fingerprint, status=0, lease_until=int(lease_until.timestamp()),
            ttl=int(expires.timestamp()),
        )  # fmt: skip
        at = int(now.timestamp())
        free = (
            AuthModel.pk.does_not_exist()
            | (AuthModel.ttl <= at)
            | ((AuthModel.status == 0) & (AuthModel.lease_until <= at))
        )
        if _save_if(item, free):
            return None
        stored = _get(self.t.auth, f"idem#{key}")
        if stored is None:
            return StoredResponse(fingerprint)  # released meanwhile: report it as running, the client retries
        return StoredResponse(
            stored.fingerprint or "", int(stored.status or 0), stored.content_type or "", stored.body or ""
        )

    def complete(self, key: str, response: StoredResponse, expires: datetime) -> None:
        self.t.auth(
            f"idem#{key}", fingerprint=response.fingerprint, status=response.status,
            content_type=response.content_type, body=response.body, ttl=int(expires.timestamp()),
        ).save()  # fmt: skip

    def release(self, key: str) -> None:
        self.t.auth(f"idem#{key}").delete()


@_translated
class DynamoLoginAudit:
    months_back = 2

    def __init__(self, tables: Tables) -> None:
        self.t = tables

    def record(self, attempt: LoginAttempt) -> None:
        self.t.audit(
            f"login#{attempt.at:%Y-%m}",
            f"{iso(attempt.at)}#{secrets.token_hex(4)}",
            username=attempt.username,
            source_ip=attempt.source_ip,
            outcome=attempt.outcome,
            user_agent=attempt.user_agent,
        ).save()

    def recent(self, limit: int, now: datetime) -> list[LoginAttempt]:
        found: list[LoginAttempt] = []
        for month in _months_back(self.months_back, now):
            for m in self.t.audit.query(f"login#{month}", scan_index_forward=False, limit=limit - len(found)):
                at = datetime.fromisoformat(m.sk.split("#", 1)[0].replace("Z", "+00:00"))
                found.append(LoginAttempt(at, m.username, m.source_ip, m.outcome, m.user_agent or ""))
            if len(found) >= limit:
                break
        return found


CHAIN = "chain"


def _audit_from_model(m: AuditModel) -> AuditEvent:
    return AuditEvent(
        seq=int(m.sk), at=datetime.fromisoformat((m.at or "").replace("Z", "+00:00")), actor=m.username,
        source=m.source_ip, action=m.outcome, target_kind=m.target_kind or "", target_id=m.target_id or "",
        detail=json.loads(m.detail or "{}"), prev_hash=m.prev_hash or "", hash=m.hash or "",
    )  # fmt: skip


@_translated
class DynamoAuditTrail:
    """The audit chain in the audit table's `chain` partition, one item per entry keyed by its seq: appending
    is a put that the seq must still be free for, so two writers can never both extend the same head."""

    def __init__(self, tables: Tables) -> None:
        self.t = tables

    def head(self) -> AuditEvent | None:
        found = list(self.t.audit.query(CHAIN, scan_index_forward=False, limit=1, consistent_read=True))
        return _audit_from_model(found[0]) if found else None

    def append(self, event: AuditEvent) -> bool:
        item = self.t.audit(
            CHAIN, f"{event.seq:012d}", username=event.actor, source_ip=event.source, outcome=event.action,
            at=iso(event.at), target_kind=event.target_kind, target_id=event.target_id,
            detail=json.dumps(event.detail, sort_keys=True), prev_hash=event.prev_hash, hash=event.hash,
        )  # fmt: skip
        try:
            item.save(condition=AuditModel.sk.does_not_exist())
        except PutError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
            return False
        return True

    def newest(self, limit: int, before_seq: int | None) -> list[AuditEvent]:
        condition = AuditModel.sk < f"{before_seq:012d}" if before_seq else None
        query = self.t.audit.query(CHAIN, condition, scan_index_forward=False, limit=limit)
        return [_audit_from_model(m) for m in query]

    def in_order(self) -> Iterator[AuditEvent]:
        return (_audit_from_model(m) for m in self.t.audit.query(CHAIN, scan_index_forward=True))


@_translated
class DynamoTokens:
    def __init__(self, tables: Tables) -> None:
        self.t = tables

    def issue(self, token: ProvisioningToken) -> None:
        tx = _Tx(self.t)
        ttl = int(token.expires_at.timestamp()) + 86400
        tx.put(
            self.t.tokens(
                token.token_hash, account_id=token.account_id, purpose=token.purpose.value,
                created_at=token.created_at, expires_at=token.expires_at, ttl=ttl,
            ),
            TokenModel.pk.does_not_exist(),
            Conflict("Token exists."),
        )  # fmt: skip
        tx.put(self.t.tokens(f"latest#{token.account_id}#{token.purpose.value}", points_to=token.token_hash), None)
        tx.commit()

    def get(self, token_hash: str) -> tuple[ProvisioningToken, bool] | None:
        model = _get(self.t.tokens, token_hash)
        if model is None or not model.account_id or not model.purpose or not model.created_at or not model.expires_at:
            return None
        token = ProvisioningToken(
            token_hash, model.account_id, Purpose(model.purpose), model.created_at, model.expires_at, model.used_at
        )
        pointer = _get(self.t.tokens, f"latest#{token.account_id}#{token.purpose.value}")
        return token, pointer is not None and pointer.points_to == token_hash

    def consume(self, token_hash: str, at: datetime) -> None:
        try:
            self.t.tokens(token_hash).update(
                actions=[TokenModel.used_at.set(at)],
                condition=TokenModel.pk.exists() & TokenModel.used_at.does_not_exist(),
            )
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
            raise Conflict("This link was used already.", code="link_used") from exc

    def revoke(self, account_id: str, purposes: Sequence[Purpose]) -> None:
        for purpose in purposes:
            self.t.tokens(f"latest#{account_id}#{purpose.value}").delete()


def _message_from_model(m: MessageModel) -> SmsMessage:
    return SmsMessage(
        id=m.id, account_id=m.account_id, to=m.to, body=m.body, purpose=Purpose(m.purpose),
        status=MessageStatus(m.status), created_at=m.created_at, updated_at=m.updated_at,
        provider_id=m.provider_id or "", error_code=m.error_code or "", error_message=m.error_message or "",
        attempts=int(m.attempts), channel=m.channel or "sms",
    )  # fmt: skip


def _message_to_model(cls: type[MessageModel], m: SmsMessage) -> MessageModel:
    return cls(
        m.id, account_id=m.account_id, month=f"{m.created_at:%Y-%m}", to=m.to, body=m.body,
        purpose=m.purpose.value, status=m.status.value, created_at=m.created_at, updated_at=m.updated_at,
        provider_id=m.provider_id or None, error_code=m.error_code or None, error_message=m.error_message or None,
        attempts=m.attempts, channel=m.channel,
    )  # fmt: skip


@_translated
class DynamoMessages:
    def __init__(self, tables: Tables) -> None:
        self.t = tables

    def add(self, message: SmsMessage) -> None:
        if not _save_if(_message_to_model(self.t.messages, message), MessageModel.id.does_not_exist()):
            raise guards.id_taken("a message")

    def get(self, message_id: str) -> SmsMessage | None:
        model = _get(self.t.messages, message_id)
        return _message_from_model(model) if model else None

    def update(self, message: SmsMessage, expected: MessageStatus) -> bool:
        return _save_if(_message_to_model(self.t.messages, message), MessageModel.status == expected.value)

    def recent(self, limit: int, now: datetime) -> list[SmsMessage]:
        found: list[SmsMessage] = []
        for month in _months_back(2, now):
            query = self.t.messages.by_month.query(month, scan_index_forward=False, limit=limit - len(found))
            found += [_message_from_model(m) for m in query]
            if len(found) >= limit:
                break
        return found

    def for_account(self, account_id: str, limit: int) -> list[SmsMessage]:
        query = self.t.messages.by_account.query(account_id, scan_index_forward=False, limit=limit)
        return [_message_from_model(m) for m in query]


def _licence_from(raw: str | None, signature: str | None) -> Licence | None:
    """Rebuild the cached licence from the signed JSON; the service verifies the signature before use."""
    if not raw or not signature:
        return None
    try:
        body = json.loads(raw)
        return Licence(
            account=str(body["account"]), status=str(body["status"]),
            expires_at=datetime.fromisoformat(str(body["expires_at"]).replace("Z", "+00:00")),
            issued_at=datetime.fromisoformat(str(body["issued_at"]).replace("Z", "+00:00")),
            features=tuple(body.get("features", [])), raw=canonical(body), signature=signature,
        )  # fmt: skip
    except (ValueError, KeyError, TypeError):
        raise BadLicence("the cached licence cannot be read") from None


@_translated
class DynamoLicences:
    def __init__(self, tables: Tables) -> None:
        self.t = tables

    def get(self, account_id: str) -> CachedLicence | None:
        model = _get(self.t.licences, account_id)
        if model is None:
            return None
        try:
            licence = _licence_from(model.raw, model.signature)
            error = model.last_error or ""
        except BadLicence as exc:
            licence, error = None, str(exc)
        return CachedLicence(
            account_id, licence, model.validated_at, error, model.last_error_at, int(model.failures or 0),
            model.retry_after,
        )  # fmt: skip

    def put(self, cached: CachedLicence) -> None:
        licence = cached.licence
        self.t.licences(
            cached.account_id, raw=licence.raw if licence else None, signature=licence.signature if licence else None,
            validated_at=cached.validated_at, last_error=cached.last_error or None, last_error_at=cached.last_error_at,
            failures=cached.failures, retry_after=cached.retry_after,
        ).save()  # fmt: skip

    def acquire_lease(self, account_id: str, until: datetime, now: datetime) -> bool:
        lease = self.t.licences(f"lease#{account_id}", lease_until=until, ttl=int(until.timestamp()) + 3600)
        return _save_if(lease, LicenceModel.pk.does_not_exist() | (LicenceModel.lease_until < now))

    def release_lease(self, account_id: str) -> None:
        self.t.licences(f"lease#{account_id}").delete()


def _job_model(cls: type[ImportModel], job: ImportJob) -> ImportModel:
    return cls(
        job.id,
        month=f"{job.created_at:%Y-%m}",
        created_at=job.created_at,
        job=json.dumps(job_to_dict(job)),
        version=job.version,
    )


def _job_from(text: str) -> ImportJob:
    return job_from_dict(json.loads(text))


@_translated
class DynamoImports:
    def __init__(self, tables: Tables) -> None:
        self.t = tables

    def add(self, job: ImportJob) -> bool:
        return _save_if(_job_model(self.t.imports, job), ImportModel.id.does_not_exist())

    def replace(self, previous: ImportJob, updated: ImportJob) -> bool:
        return _save_if(_job_model(self.t.imports, updated), ImportModel.version == previous.version)

    def get(self, job_id: str) -> ImportJob | None:
        model = _get(self.t.imports, job_id)
        return _job_from(model.job) if model else None

    def recent(self, limit: int, now: datetime) -> list[ImportJob]:
        found: list[ImportJob] = []
        for month in _months_back(2, now):
            query = self.t.imports.by_month.query(month, scan_index_forward=False, limit=limit - len(found))
            found += [_job_from(m.job) for m in query]
            if len(found) >= limit:
                break
        return found


_REGISTRATION_KEPT = timedelta(days=1)  # how long an item outlives its registration (late events, history)


def _registration_to_model(cls: type[RegistrationModel], r: Registration) -> RegistrationModel:
    ends = max(r.expires_at, r.changed_at) if r.active else r.changed_at
    return cls(
        r.account_id,
        r.contact,
        username=r.username,
        group_id=r.group_id,
        online_group_id=r.group_id if r.active else None,
        sort_key=f"{r.username}#{r.contact}",
        source=r.source or None,
        transport=r.transport or None,
        user_agent=r.user_agent or None,
        registered_at=r.registered_at,
        expires_at=r.expires_at,
        changed_at=r.changed_at,
        edge=r.edge or None,
        ttl=int((ends + _REGISTRATION_KEPT).timestamp()),
    )


def _registration_from_model(m: RegistrationModel) -> Registration:
    return Registration(
        account_id=m.account_id,
        contact=m.contact,
        username=m.username,
        group_id=m.group_id,
        source=m.source or "",
        transport=m.transport or "",
        user_agent=m.user_agent or "",
        registered_at=m.registered_at,
        expires_at=m.expires_at,
        edge=m.edge or "",
        changed_at=m.changed_at,
        active=m.online_group_id is not None,
    )


@_translated
class DynamoRegistrations:
    def __init__(self, tables: Tables) -> None:
        self.t = tables

    def put(self, registration: Registration) -> bool:
        # Registration.supersedes as a condition: newer, and an end only from the edge holding the live one
        newer = RegistrationModel.changed_at < registration.changed_at
        if not registration.active and registration.edge:
            holder = RegistrationModel.edge.does_not_exist() | (RegistrationModel.edge == registration.edge)
            newer = newer & (RegistrationModel.online_group_id.does_not_exist() | holder)
        condition = RegistrationModel.account_id.does_not_exist() | newer
        return _save_if(_registration_to_model(self.t.registrations, registration), condition)

    def for_account(self, account_id: str) -> list[Registration]:
        return [_registration_from_model(m) for m in self.t.registrations.query(account_id, consistent_read=True)]

    def online_in_group(self, group_id: str, limit: int, cursor: str | None) -> Page[Registration]:
        query = self.t.registrations.online_by_group.query(
            group_id, limit=limit, last_evaluated_key=_start_key(cursor, _ONLINE_KEY, online_group_id=group_id)
        )
        return _page(query, _registration_from_model)


_CALL_COLUMNS = ("call_id", "started_at", "answered_at", "ended_at", "version", "caller_account_id",
                 "callee_account_id")  # fmt: skip


def _call_to_model(cls: type[CallModel], record: CallRecord) -> CallModel:
    rest = {k: v for k, v in asdict(record).items() if k not in _CALL_COLUMNS}
    return cls(
        record.call_id,
        started_key=f"{record.started_at.isoformat()}#{record.call_id}",
        caller_account_id=record.caller_account_id or None,
        callee_account_id=record.callee_account_id or None,
        started_at=record.started_at,
        answered_at=record.answered_at,
        ended_at=record.ended_at,
        record=json.dumps(rest, separators=(",", ":")),
        version=record.version,
    )


def _call_from_model(model: CallModel) -> CallRecord:
    rest = json.loads(model.record)
    rest["event_ids"] = tuple(rest.get("event_ids") or ())
    return CallRecord(
        call_id=model.call_id, started_at=model.started_at, answered_at=model.answered_at, ended_at=model.ended_at,
        caller_account_id=model.caller_account_id or "", callee_account_id=model.callee_account_id or "",
        version=int(model.version), **rest,
    )  # fmt: skip


class DynamoCalls:
    def __init__(self, tables: Tables) -> None:
        self.t = tables

    def get(self, call_id: str) -> CallRecord | None:
        found = _get(self.t.calls, call_id)
        return _call_from_model(found) if found else None

    def put(self, record: CallRecord) -> bool:
        expected: Condition = (
            CallModel.call_id.does_not_exist() if record.version <= 1 else CallModel.version == record.version - 1
        )
        return _save_if(_call_to_model(self.t.calls, record), expected)

    def for_account(self, account_id: str, direction: Direction, limit: int, cursor: str | None) -> Page[CallRecord]:
        placed = direction is Direction.PLACED
        index = self.t.calls.placed if placed else self.t.calls.received
        party = "caller_account_id" if placed else "callee_account_id"
        start = _start_key(cursor, frozenset({"call_id", "started_key", party}), **{party: account_id})
        query = index.query(account_id, limit=limit, scan_index_forward=False, last_evaluated_key=start)
        return _page(query, _call_from_model)


def _months_back(count: int, now: datetime) -> Iterator[str]:
    year, month = now.year, now.month
    for _ in range(count):
        yield f"{year:04d}-{month:02d}"
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)


__all__ = [
    "DynamoAccounts",
    "DynamoCalls",
    "DynamoGroups",
    "DynamoLoginAudit",
    "DynamoOperators",
    "DynamoProfiles",
    "DynamoSessions",
]
