"""PynamoDB models of every table. The classes here are unbound templates (the tables' schemas, which
infra/ builds the tables from); `bind` derives one set of subclasses per context, each with its own table
names, endpoint and connection, so building a second context never changes the first one's storage."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, TypeVar

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.connection import Connection
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.settings import Settings


class _ByGroup(GlobalSecondaryIndex["AccountModel"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "by_group"
        projection = AllProjection()

    group_id = UnicodeAttribute(hash_key=True)
    username = UnicodeAttribute(range_key=True)


class _ByProfile(GlobalSecondaryIndex["AccountModel"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "by_profile"
        projection = KeysOnlyProjection()

    provisioning_profile_id = UnicodeAttribute(hash_key=True)


class AccountModel(Model):
    class Meta:
        table_name = "accounts"
        billing_mode = "PAY_PER_REQUEST"
        stream_view_type = "NEW_AND_OLD_IMAGES"

    id = UnicodeAttribute(hash_key=True)
    username = UnicodeAttribute()
    group_id = UnicodeAttribute()
    provisioning_profile_id = UnicodeAttribute()
    phone_number = UnicodeAttribute()
    secondary_phone_number = UnicodeAttribute(null=True)
    account_type = UnicodeAttribute()
    security_model = UnicodeAttribute()
    obfuscation_enabled = BooleanAttribute()
    obfuscation_key = UnicodeAttribute(null=True)
    keep_alive = BooleanAttribute()
    permit = ListAttribute[str](null=True)
    deny = ListAttribute[str](null=True)
    full_name = UnicodeAttribute(null=True)
    email = UnicodeAttribute(null=True)
    description = UnicodeAttribute(null=True)
    enabled = BooleanAttribute()
    status = UnicodeAttribute()
    status_changed_at = UTCDateTimeAttribute()
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    creation_mode = UnicodeAttribute()
    realm = UnicodeAttribute(null=True)
    ha1 = UnicodeAttribute(null=True)
    ha1b = UnicodeAttribute(null=True)
    ha1_sha256 = UnicodeAttribute(null=True)
    sms_problem = UnicodeAttribute(null=True)
    sip_locked_until = UTCDateTimeAttribute(null=True)
    sip_lock_lifted_at = NumberAttribute(null=True)  # epoch seconds: the SIP edge reads it (docs/sip-events.md)
    version = NumberAttribute()
    by_group = _ByGroup()
    by_profile = _ByProfile()


class GroupModel(Model):
    class Meta:
        table_name = "groups"
        billing_mode = "PAY_PER_REQUEST"

    id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    it_email = UnicodeAttribute(null=True)
    provisioning_profile_id = UnicodeAttribute()
    enabled = BooleanAttribute()
    language = UnicodeAttribute(null=True)  # the SIP edge reads it too (sip-edge/sipedge/directory.py)
    account_count = NumberAttribute()
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    version = NumberAttribute()


class ProfileModel(Model):
    class Meta:
        table_name = "profiles"
        billing_mode = "PAY_PER_REQUEST"

    id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    sip_domain = UnicodeAttribute()
    sip_host = UnicodeAttribute()
    tls_port = NumberAttribute(null=True)
    tcp_port = NumberAttribute(null=True)
    udp_port = NumberAttribute(null=True)
    default_transport = UnicodeAttribute()
    android_url = UnicodeAttribute(null=True)
    ios_url = UnicodeAttribute(null=True)
    other_url = UnicodeAttribute(null=True)
    installation_sms_template = UnicodeAttribute(null=True)
    activation_sms_template = UnicodeAttribute(null=True)
    transports = ListAttribute[str](null=True)  # read by the SIP edge (docs/sip-events.md)
    default_country = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    version = NumberAttribute()


class OperatorModel(Model):
    class Meta:
        table_name = "operators"
        billing_mode = "PAY_PER_REQUEST"

    id = UnicodeAttribute(hash_key=True)
    username = UnicodeAttribute()
    role = UnicodeAttribute()
    group_ids = ListAttribute[str](null=True)
    enabled = BooleanAttribute()
    password_hash = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    version = NumberAttribute()
    sessions_valid_after = UTCDateTimeAttribute(null=True)


class UniqueModel(Model):
    """Guard items: one per unique value (usernames, numbers, names)."""

    class Meta:
        table_name = "uniques"
        billing_mode = "PAY_PER_REQUEST"

    key = UnicodeAttribute(hash_key=True)
    owner_id = UnicodeAttribute()


class TimelineModel(Model):
    class Meta:
        table_name = "timeline"
        billing_mode = "PAY_PER_REQUEST"

    account_id = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)  # ISO time + "#" + random suffix: time-ordered, never colliding
    kind = UnicodeAttribute()
    actor = UnicodeAttribute()
    detail = UnicodeAttribute(null=True)  # JSON object of strings


class AuthModel(Model):
    """Console/API sessions and rate-limit counters; `ttl` lets DynamoDB purge them."""

    class Meta:
        table_name = "auth"
        billing_mode = "PAY_PER_REQUEST"

    pk = UnicodeAttribute(hash_key=True)
    operator_id = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute(null=True)
    expires_at = UTCDateTimeAttribute(null=True)
    hits = NumberAttribute(null=True, attr_name="count")
    idle_seconds = NumberAttribute(null=True)
    ttl = NumberAttribute(null=True)
    # Idempotency-Key records (`idem#…`): the request's fingerprint, the answer (status 0 while running)
    fingerprint = UnicodeAttribute(null=True)
    status = NumberAttribute(null=True)
    content_type = UnicodeAttribute(null=True)
    body = UnicodeAttribute(null=True)
    lease_until = NumberAttribute(null=True)


class AuditModel(Model):
    class Meta:
        table_name = "audit"
        billing_mode = "PAY_PER_REQUEST"

    pk = UnicodeAttribute(hash_key=True)  # "login#YYYY-MM", or "chain" for the audit trail (sk: the seq, padded)
    sk = UnicodeAttribute(range_key=True)
    username = UnicodeAttribute()  # the trail: the actor
    source_ip = UnicodeAttribute()
    outcome = UnicodeAttribute()  # the trail: the action
    user_agent = UnicodeAttribute(null=True)
    at = UnicodeAttribute(null=True)  # the trail's entries: ISO time as hashed, target, detail, the chain's hashes
    target_kind = UnicodeAttribute(null=True)
    target_id = UnicodeAttribute(null=True)
    detail = UnicodeAttribute(null=True)  # JSON
    prev_hash = UnicodeAttribute(null=True)
    hash = UnicodeAttribute(null=True)


class TokenModel(Model):
    """Provisioning link tokens by hash, and one `latest#<account>#<purpose>` pointer item per account and
    purpose (only the token it points at is valid)."""

    class Meta:
        table_name = "tokens"
        billing_mode = "PAY_PER_REQUEST"

    pk = UnicodeAttribute(hash_key=True)
    account_id = UnicodeAttribute(null=True)
    purpose = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute(null=True)
    expires_at = UTCDateTimeAttribute(null=True)
    used_at = UTCDateTimeAttribute(null=True)
    points_to = UnicodeAttribute(null=True)
    ttl = NumberAttribute(null=True)


class _ByAccount(GlobalSecondaryIndex["MessageModel"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "by_account"
        projection = AllProjection()

    account_id = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


class _ByMonth(GlobalSecondaryIndex["MessageModel"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "by_month"
        projection = AllProjection()

    month = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


class MessageModel(Model):
    """SMS messages and their delivery state."""

    class Meta:
        table_name = "messages"
        billing_mode = "PAY_PER_REQUEST"

    id = UnicodeAttribute(hash_key=True)
    account_id = UnicodeAttribute()
    month = UnicodeAttribute()
    to = UnicodeAttribute()
    body = UnicodeAttribute()
    purpose = UnicodeAttribute()
    status = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    provider_id = UnicodeAttribute(null=True)
    error_code = UnicodeAttribute(null=True)
    error_message = UnicodeAttribute(null=True)
    attempts = NumberAttribute()
    channel = UnicodeAttribute(null=True)
    by_account = _ByAccount()
    by_month = _ByMonth()


class LicenceModel(Model):
    """Cached licences by account id (the signed licence as the vendor sent it), and refresh leases
    (`lease#<account>`, conditional writes) that let one caller at a time ask the vendor."""

    class Meta:
        table_name = "licences"
        billing_mode = "PAY_PER_REQUEST"

    pk = UnicodeAttribute(hash_key=True)
    raw = UnicodeAttribute(null=True)
    signature = UnicodeAttribute(null=True)
    validated_at = UTCDateTimeAttribute(null=True)
    last_error = UnicodeAttribute(null=True)
    last_error_at = UTCDateTimeAttribute(null=True)
    failures = NumberAttribute(null=True)
    retry_after = UTCDateTimeAttribute(null=True)
    lease_until = UTCDateTimeAttribute(null=True)
    ttl = NumberAttribute(null=True)


class _ImportsByMonth(GlobalSecondaryIndex["ImportModel"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "by_month"
        projection = AllProjection()

    month = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


class ImportModel(Model):
    """Import jobs; `job` is the job as JSON (options, progress, counts and the first 1000 row errors);
    `version` guards each step's write."""

    class Meta:
        table_name = "imports"
        billing_mode = "PAY_PER_REQUEST"

    id = UnicodeAttribute(hash_key=True)
    month = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    job = UnicodeAttribute()
    version = NumberAttribute(null=True)
    by_month = _ImportsByMonth()


class _OnlineByGroup(GlobalSecondaryIndex["RegistrationModel"]):  # type: ignore[no-untyped-call]
    """Sparse: only active registrations carry `online_group_id`, so the index lists who is online."""

    class Meta:
        index_name = "online_by_group"
        projection = AllProjection()

    online_group_id = UnicodeAttribute(hash_key=True)
    sort_key = UnicodeAttribute(range_key=True)  # username#contact


class RegistrationModel(Model):
    """One item per account and SIP contact, as the SIP edge's last event about it left it. Ended ones stay
    until `ttl` so that an older event arriving late cannot bring them back."""

    class Meta:
        table_name = "registrations"
        billing_mode = "PAY_PER_REQUEST"

    account_id = UnicodeAttribute(hash_key=True)
    contact = UnicodeAttribute(range_key=True)
    username = UnicodeAttribute()
    group_id = UnicodeAttribute()
    online_group_id = UnicodeAttribute(null=True)
    sort_key = UnicodeAttribute()
    source = UnicodeAttribute(null=True)
    transport = UnicodeAttribute(null=True)
    user_agent = UnicodeAttribute(null=True)
    registered_at = UTCDateTimeAttribute()
    expires_at = UTCDateTimeAttribute()
    changed_at = UTCDateTimeAttribute()
    edge = UnicodeAttribute(null=True)
    ttl = NumberAttribute(null=True)
    online_by_group = _OnlineByGroup()


class _CallsPlaced(GlobalSecondaryIndex["CallModel"]):  # type: ignore[no-untyped-call]
    """An account's placed calls, newest first (query with scan_index_forward=False)."""

    class Meta:
        index_name = "placed"
        projection = AllProjection()

    caller_account_id = UnicodeAttribute(hash_key=True)
    started_key = UnicodeAttribute(range_key=True)  # started_at ISO + "#" + call_id


class _CallsReceived(GlobalSecondaryIndex["CallModel"]):  # type: ignore[no-untyped-call]
    """An account's received calls, newest first; sparse (a call to no account has no callee)."""

    class Meta:
        index_name = "received"
        projection = AllProjection()

    callee_account_id = UnicodeAttribute(hash_key=True)
    started_key = UnicodeAttribute(range_key=True)


class CallModel(Model):
    """One call record (CDR) per call attempt, merged from the SIP edge's call events (docs/calls.md)."""

    class Meta:
        table_name = "calls"
        billing_mode = "PAY_PER_REQUEST"

    call_id = UnicodeAttribute(hash_key=True)
    started_key = UnicodeAttribute()
    caller_account_id = UnicodeAttribute(null=True)
    callee_account_id = UnicodeAttribute(null=True)
    started_at = UTCDateTimeAttribute()
    answered_at = UTCDateTimeAttribute(null=True)
    ended_at = UTCDateTimeAttribute(null=True)
    record = UnicodeAttribute()  # the other fields (JSON): parties, dialled, result, code, media, event ids
    version = NumberAttribute()
    placed = _CallsPlaced()
    received = _CallsReceived()


ALL_MODELS: dict[str, type[Model]] = {
    "accounts": AccountModel,
    "groups": GroupModel,
    "profiles": ProfileModel,
    "operators": OperatorModel,
    "uniques": UniqueModel,
    "timeline": TimelineModel,
    "auth": AuthModel,
    "audit": AuditModel,
    "tokens": TokenModel,
    "messages": MessageModel,
    "licences": LicenceModel,
    "imports": ImportModel,
    "registrations": RegistrationModel,
    "calls": CallModel,
}


M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class Tables:
    """One context's models: subclasses of the templates bound to its table names, endpoint and connection."""

    connection: Connection
    accounts: type[AccountModel]
    groups: type[GroupModel]
    profiles: type[ProfileModel]
    operators: type[OperatorModel]
    uniques: type[UniqueModel]
    timeline: type[TimelineModel]
    auth: type[AuthModel]
    audit: type[AuditModel]
    tokens: type[TokenModel]
    messages: type[MessageModel]
    licences: type[LicenceModel]
    imports: type[ImportModel]
    registrations: type[RegistrationModel]
    calls: type[CallModel]

    def models(self) -> list[type[Model]]:
        return [getattr(self, f.name) for f in fields(self) if f.name != "connection"]


def _bound(template: type[M], settings: Settings, base_name: str, shared: Connection) -> type[M]:
    template_meta: Any = template.Meta
    names = {
        "table_name": settings.table_name(base_name),
        "region": settings.region,
        "host": settings.dynamodb_endpoint,
    }
    meta = type("Meta", (template_meta,), names)
    model: type[M] = type(template.__name__, (template,), {"Meta": meta, "__module__": template.__module__})
    table_connection = model._get_connection()  # no I/O: the schema comes from the model
    shared.add_meta_table(table_connection.get_meta_table())
    table_connection.connection = shared
    return model


def bind(settings: Settings) -> Tables:
    """This context's models, bound to the configured tables and endpoint (the composition root calls this).

    The templates are left untouched. All of one context's models share one botocore client: PynamoDB would
    otherwise build a session and load the DynamoDB service model once per table (about 0.1 s each), which a
    cold Lambda would pay on its first request. That shared connection is the one transactions use too."""
    shared = Connection(
        region=settings.region,
        host=settings.dynamodb_endpoint,
        connect_timeout_seconds=2,
        read_timeout_seconds=settings.dynamodb_timeout_seconds,
        max_retry_attempts=settings.dynamodb_max_retries,
    )
    bound = {name: _bound(template, settings, name, shared) for name, template in ALL_MODELS.items()}
    return Tables(connection=shared, **bound)  # type: ignore[arg-type]


def create_tables(settings: Settings) -> None:
    """Create missing tables (local stack and tests; production tables come from infra/)."""
    for model in bind(settings).models():
        if not model.exists():
            model.create_table(wait=True)
