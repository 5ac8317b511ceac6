"""Account use cases: create the plain way, read, list, update, enable/disable, delete, history."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from chalicelib.domain import resources, rules
from chalicelib.domain.digest import sip_credentials
from chalicelib.domain.errors import (
    ConcurrentModification,
    Conflict,
    DomainError,
    FieldError,
    Forbidden,
    InvalidCursor,
    NotFound,
    StaleReference,
    ValidationFailed,
)
from chalicelib.domain.fields import MISSING, FieldReader, _Missing, require
from chalicelib.domain.model import (
    DEFAULT_OBFUSCATION_KEY,
    Account,
    AccountStatus,
    AccountType,
    CreationMode,
    Group,
    Operator,
    Page,
    ProvisioningProfile,
    SecurityModel,
    TimelineEvent,
    iso,
)
from chalicelib.domain.provisioning import Purpose
from chalicelib.domain.timeline import Category, category_of
from chalicelib.services import audit, guards
from chalicelib.services.context import Context
from chalicelib.services.preconditions import Expected, check_version

# The request shapes are declared once (domain/resources.py); required fields are checked in _prepare, after the
# creation mode is known, so the reader reads every field as optional.
_CREATE = resources.ACCOUNT_CREATE.optional("AccountInput")
_PATCH = resources.ACCOUNT_PATCH
EDITABLE_FIELDS = _PATCH.names()
SNOM_ONLY = ("permit", "deny")
PGSM_ONLY = ("obfuscation_enabled", "obfuscation_key")
GENERATED_USERNAME_ATTEMPTS = 5


@dataclass(frozen=True)
class AccountResult:
    account: Account
    warnings: list[str]


@dataclass
class _Input:
    """The typed, present fields of one request (MISSING where absent)."""

    username: str | _Missing
    password: str | _Missing
    group_id: str | _Missing
    provisioning_profile_id: str | _Missing
    phone_number: str | _Missing
    secondary_phone_number: str | _Missing
    account_type: AccountType | _Missing
    security_model: SecurityModel | _Missing
    obfuscation_enabled: bool | _Missing
    obfuscation_key: str | _Missing
    keep_alive: bool | _Missing
    permit: list[str] | _Missing
    deny: list[str] | _Missing
    full_name: str | _Missing
    email: str | _Missing
    description: str | _Missing
    mode: str | _Missing


def _read(data: Mapping[str, Any], creating: bool) -> tuple[FieldReader, _Input]:
    shape = _CREATE if creating else _PATCH
    reader = shape.reader(data)
    values = shape.read_into(reader)
    return reader, _Input(**{"mode": MISSING, **values})


def _opt(value: str | _Missing) -> str | None:
    return value if isinstance(value, str) else None


def _checked(reader: FieldReader, name: str, check: Any, value: str | _Missing) -> None:
    if isinstance(value, str) and not reader.has_error(name):
        try:
            check(name, value)
        except rules.InvalidField as exc:
            reader.errors.append(exc.error)


def _number(reader: FieldReader, name: str, value: str | _Missing, warnings: list[str]) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        number = rules.normalize_phone_number(name, value)
    except rules.InvalidField as exc:
        reader.errors.append(exc.error)
        return None
    if number.warning:
        warnings.append(number.warning)
    return number.value


def _cidrs(reader: FieldReader, name: str, values: list[str] | _Missing) -> tuple[str, ...]:
    if isinstance(values, _Missing):
        return ()
    out: list[str] = []
    for index, value in enumerate(values):
        try:
            out.append(rules.normalize_cidr(f"{name}[{index}]", value))
        except rules.InvalidField as exc:
            reader.errors.append(exc.error)
    return tuple(dict.fromkeys(out))


@dataclass(frozen=True)
class _TypeFields:
    security_model: SecurityModel
    obfuscation_enabled: bool
    obfuscation_key: str | None
    permit: tuple[str, ...]
    deny: tuple[str, ...]


def _type_fields(reader: FieldReader, values: _Input, account_type: AccountType, base: Account | None) -> _TypeFields:
    """The fields whose meaning depends on the account type (manual: SNOM has Permit/Deny, PGSM has
    security model and obfuscation). Settings of the other type are refused, not silently dropped."""
    same_type = base is not None and base.account_type is account_type
    if account_type is AccountType.SNOM:
        for name in PGSM_ONLY:
            if getattr(values, name) is not MISSING:
                reader.fail(name, "not_allowed_for_snom", f"SNOM accounts have no '{name}' (no obfuscation).")
        if isinstance(values.security_model, SecurityModel) and values.security_model is not SecurityModel.SDES:
            reader.fail("security_model", "snom_requires_sdes", "SNOM accounts always use the SDES security model.")
        permit = _cidrs(reader, "permit", values.permit)
        deny = _cidrs(reader, "deny", values.deny)
        if base is not None and same_type:
            permit = permit if values.permit is not MISSING else base.permit
            deny = deny if values.deny is not MISSING else base.deny
        return _TypeFields(SecurityModel.SDES, False, None, permit, deny)
    for name in SNOM_ONLY:
        given = getattr(values, name)
        if isinstance(given, list) and given:
            reader.fail(name, "not_allowed_for_pgsm", f"'{name}' lists apply to SNOM accounts only.")
    previous = base if same_type else None
    security = values.security_model if isinstance(values.security_model, SecurityModel) else None
    enabled = values.obfuscation_enabled if isinstance(values.obfuscation_enabled, bool) else None
    key = values.obfuscation_key if isinstance(values.obfuscation_key, str) else None
    return _TypeFields(
        security_model=security or (previous.security_model if previous else SecurityModel.SDES),
        obfuscation_enabled=enabled if enabled is not None else (previous.obfuscation_enabled if previous else True),
        obfuscation_key=key or (previous.obfuscation_key if previous else None) or DEFAULT_OBFUSCATION_KEY,
        permit=(),
        deny=(),
    )


def _load_group(lookup: Callable[[str], Group | None], reader: FieldReader, group_id: str) -> Group | None:
    group = lookup(group_id)
    if group is None:
        reader.fail("group_id", "not_found", "No group has this id.")
    return group


def _load_profile(
    lookup: Callable[[str], ProvisioningProfile | None], reader: FieldReader, profile_id: str
) -> ProvisioningProfile | None:
    profile = lookup(profile_id)
    if profile is None:
        reader.fail("provisioning_profile_id", "not_found", "No provisioning profile has this id.")
    return profile


def _authorize_write(actor: Operator, group_id: str) -> None:
    if not actor.can_write_group(group_id):
        raise Forbidden("You may not change accounts of this group.")


def _authorize_read(actor: Operator, group_id: str) -> None:
    if not actor.can_read_group(group_id):
        raise Forbidden("You may not see accounts of this group.")


def _common_checks(reader: FieldReader, values: _Input) -> None:
    _checked(reader, "username", rules.check_username, values.username)
    _checked(reader, "password", rules.check_password, values.password)
    _checked(reader, "email", rules.check_email, values.email)


def _creation_mode(reader: FieldReader, values: _Input, batch: bool) -> CreationMode:
    """Plain: the operator types the password. Wizard: a PGSM account with a generated username and no SIP
    password yet; it starts disabled and automatic activation gives it credentials and enables it. Batch (the
    import pipeline only): the wizard way, but a username may come from the file."""
    if batch:
        if values.password is not MISSING:
            reader.fail("password", "not_allowed_for_wizard", "Batch accounts get their credentials at activation.")
        return CreationMode.BATCH
    if not isinstance(values.mode, str) or values.mode == CreationMode.PLAIN.value:
        require(reader, "password", values.password)
        return CreationMode.PLAIN
    if values.mode != CreationMode.WIZARD.value:
        reader.fail("mode", "invalid_choice", "'mode' must be one of: plain, wizard.")
        return CreationMode.PLAIN
    for name in ("username", "password"):
        if getattr(values, name) is not MISSING:
            reader.fail(name, "not_allowed_for_wizard", f"The wizard way sets '{name}' itself.")
    if isinstance(values.account_type, AccountType) and values.account_type is not AccountType.PGSM:
        reader.fail("account_type", "wizard_needs_pgsm", "SNOM accounts are created the plain way.")
    return CreationMode.WIZARD


def create_account(
    ctx: Context, actor: Operator, data: Mapping[str, Any], *, batch: bool = False, account_id: str | None = None
) -> AccountResult:
    """Create an account (plain, wizard, or batch for the import pipeline, which passes ids derived from the
    job so that a resumed step cannot create twice). Group and profile come from the short-lived reference
    cache; the transaction re-checks them, and a stale entry costs one retry with fresh reads."""
    try:
        result = _create_account(ctx, actor, data, batch, account_id)
    except (StaleReference, NotFound) as exc:
        if isinstance(exc, NotFound) and exc.field != "group_id":
            raise
        ctx.reference.forget()
        result = _create_account(ctx, actor, data, batch, account_id)
    if not batch:  # an import is recorded as one action (services/imports.py)
        made = result.account
        detail = {"username": made.username, "group_id": made.group_id, "mode": made.creation_mode.value}
        audit.record(ctx, actor.username, "account.create", "account", made.id, detail)
    return result


def _create_account(
    ctx: Context, actor: Operator, data: Mapping[str, Any], batch: bool, account_id: str | None
) -> AccountResult:
    given_username = isinstance(data.get("username"), str) and bool(data.get("username"))
    for _attempt in range(1 if given_username else GENERATED_USERNAME_ATTEMPTS):
        result, event = _prepare(ctx, actor, data, batch, account_id)
        try:
            ctx.accounts.add(result.account, event)
        except Conflict as exc:
            landed = ctx.accounts.get(result.account.id)
            if landed is not None:  # a retry whose first attempt was written: it succeeded
                return AccountResult(landed, result.warnings)
            if exc.field == "username" and not given_username:
                continue  # a generated username collided: draw another
            raise
        return result
    raise Conflict("Could not draw a free username; try again.", field="username", code="duplicate")


@dataclass
class _Checked:
    reader: FieldReader
    values: _Input
    mode: CreationMode
    phone: str | None
    secondary: str | None
    warnings: list[str]
    account_type: AccountType
    type_fields: _TypeFields


def _checked_input(data: Mapping[str, Any], batch: bool) -> _Checked:
    """Every check of a new account's fields that needs no stored data (types, lengths, characters, formats)."""
    reader, values = _read(data, creating=True)
    mode = _creation_mode(reader, values, batch)
    require(reader, "group_id", values.group_id)
    require(reader, "phone_number", values.phone_number)
    _common_checks(reader, values)
    warnings: list[str] = []
    phone = _number(reader, "phone_number", values.phone_number, warnings)
    secondary = _number(reader, "secondary_phone_number", values.secondary_phone_number, warnings)
    if mode is not CreationMode.PLAIN and phone and not phone.startswith("+"):
        reader.fail(
            "phone_number",
            "international_number_required",
            "The wizard way activates the phone by SMS: give the number with + and country code.",
        )
    if secondary and phone and secondary == phone:
        reader.fail("secondary_phone_number", "same_as_primary", "The secondary number must differ from the primary.")
    account_type = values.account_type if isinstance(values.account_type, AccountType) else AccountType.PGSM
    type_fields = _type_fields(reader, values, account_type, None)
    return _Checked(reader, values, mode, phone, secondary, warnings, account_type, type_fields)


def batch_field_problems(data: Mapping[str, Any]) -> list[FieldError]:
    """What creating this batch account would refuse in its fields: the import's validation (and so its dry run)
    runs the very checks the creation runs."""
    return list(_checked_input(data, batch=True).reader.errors)


def _prepare(
    ctx: Context, actor: Operator, data: Mapping[str, Any], batch: bool, account_id: str | None
) -> tuple[AccountResult, TimelineEvent]:
    """Validate the input and build the account (with a freshly drawn username unless one is given)."""
    checked = _checked_input(data, batch)
    reader, values, mode, phone, secondary = (
        checked.reader,
        checked.values,
        checked.mode,
        checked.phone,
        checked.secondary,
    )
    warnings, account_type, type_fields = checked.warnings, checked.account_type, checked.type_fields
    group = _load_group(ctx.reference.group, reader, values.group_id) if isinstance(values.group_id, str) else None
    if group is not None:
        _authorize_write(actor, group.id)
    profile_id = _opt(values.provisioning_profile_id) or (group.provisioning_profile_id if group else "")
    profile = _load_profile(ctx.reference.profile, reader, profile_id) if profile_id else None
    reader.raise_if_errors()
    assert group is not None and profile is not None and phone is not None
    password = values.password if isinstance(values.password, str) else None

    now = ctx.clock()
    username = values.username if isinstance(values.username, str) else rules.generate_username()
    account = Account(
        id=account_id or ctx.new_id(),
        username=username,
        group_id=group.id,
        provisioning_profile_id=profile.id,
        phone_number=phone,
        secondary_phone_number=secondary,
        account_type=account_type,
        security_model=type_fields.security_model,
        obfuscation_enabled=type_fields.obfuscation_enabled,
        obfuscation_key=type_fields.obfuscation_key,
        keep_alive=values.keep_alive if isinstance(values.keep_alive, bool) else False,
        permit=type_fields.permit,
        deny=type_fields.deny,
        full_name=_opt(values.full_name) or "",
        email=_opt(values.email) or "",
        description=_opt(values.description) or "",
        # plain-way accounts are enabled from the start; wizard ones when activated (manual 1.1.4)
        enabled=mode is CreationMode.PLAIN,
        status=AccountStatus.CREATED,
        status_changed_at=now,
        created_at=now,
        updated_at=now,
        creation_mode=mode,
        credentials=sip_credentials(username, profile.sip_domain, password) if password else None,
    )
    if not account.has_international_number:
        warnings.append("phone_number: not an international (+) number; this account cannot use automatic activation.")
    event = TimelineEvent(account.id, now, "created", actor.username, {"mode": mode.value})
    return AccountResult(account, warnings), event


@dataclass(frozen=True)
class NewAccountCheck:
    """What creating the account would answer, nothing written: every field error (taken username and numbers
    included), the warnings, and the E.164 spelling the profile's default country gives a national number."""

    errors: list[FieldError]
    warnings: list[str]
    national: str | None


def check_new_account(ctx: Context, actor: Operator, data: Mapping[str, Any]) -> NewAccountCheck:
    errors: list[FieldError] = []
    warnings: list[str] = []
    try:
        result, _ = _prepare(ctx, actor, data, False, None)
        warnings = result.warnings
    except ValidationFailed as exc:
        errors = list(exc.errors)
    checked = _checked_input(data, False)
    wanted: dict[str, str] = {}
    username = checked.values.username
    if isinstance(username, str) and not checked.reader.has_error("username"):
        wanted[guards.username_key(username)] = "username"
    for name, number in (("phone_number", checked.phone), ("secondary_phone_number", checked.secondary)):
        if number:
            wanted[guards.number_key(number)] = name
    failed = {e.field for e in errors}
    for key in sorted(ctx.accounts.taken_keys(list(wanted)) if wanted else ()):
        if wanted[key] not in failed:
            errors.append(FieldError(wanted[key], "duplicate", guards.conflict_message(wanted[key])))
    return NewAccountCheck(errors, warnings, _national(ctx, data))


def _national(ctx: Context, data: Mapping[str, Any]) -> str | None:
    raw, group_id, profile_id = (data.get(k) for k in ("phone_number", "group_id", "provisioning_profile_id"))
    if not isinstance(raw, str) or not isinstance(group_id, str):
        return None
    group = ctx.reference.group(group_id)
    pid = profile_id if isinstance(profile_id, str) and profile_id else (group.provisioning_profile_id if group else "")
    profile = ctx.reference.profile(pid) if pid else None
    return rules.national_number(raw, profile.default_country) if profile else None


BATCH_TRANSACTION = 15  # accounts per transaction: 4-5 items each, within DynamoDB's 100 per transaction


def create_batch_accounts(
    ctx: Context, actor: Operator, items: Sequence[tuple[Mapping[str, Any], str]]
) -> list[Account | DomainError]:
    """Create batch-way accounts (data, id) several per transaction; each outcome is the account or the error
    that refused it. A transaction that fails (a number taken meanwhile, a username drawn twice) is replayed
    one account at a time, so that only the accounts in the way fail."""
    outcomes: list[Account | DomainError | None] = [None] * len(items)
    ready: list[tuple[int, Account, TimelineEvent]] = []
    for index, (data, account_id) in enumerate(items):
        try:
            result, event = _prepare(ctx, actor, data, True, account_id)
        except (ValidationFailed, Conflict, NotFound, Forbidden) as exc:
            outcomes[index] = exc
            continue
        ready.append((index, result.account, event))
    for start in range(0, len(ready), BATCH_TRANSACTION):
        chunk = ready[start : start + BATCH_TRANSACTION]
        try:
            ctx.accounts.add_many([a for _, a, _ in chunk], [e for _, _, e in chunk])
        except (Conflict, NotFound, ConcurrentModification):
            for index, _, _ in chunk:
                data, account_id = items[index]
                try:
                    outcomes[index] = create_account(ctx, actor, data, batch=True, account_id=account_id).account
                except (Conflict, ValidationFailed, NotFound) as exc:
                    outcomes[index] = exc
            continue
        for index, account, _ in chunk:
            outcomes[index] = account
    assert all(o is not None for o in outcomes)
    return [o for o in outcomes if o is not None]


def get_account(ctx: Context, actor: Operator, account_id: str) -> Account:
    account = ctx.accounts.get(account_id)
    if account is None:
        raise NotFound("Account not found.")
    _authorize_read(actor, account.group_id)
    return account


def check_group_readable(ctx: Context, actor: Operator, group_id: str) -> None:
    """Forbidden unless the operator may read the group's accounts; NotFound for a group that does not exist."""
    _authorize_read(actor, group_id)
    if ctx.groups.get(group_id) is None:
        raise NotFound("Group not found.", field="group_id")


def list_accounts(ctx: Context, actor: Operator, group_id: str, limit: int, cursor: str | None) -> Page[Account]:
    check_group_readable(ctx, actor, group_id)
    try:
        return ctx.accounts.list_by_group(group_id, limit, cursor)
    except ValueError as exc:
        raise InvalidCursor() from exc


def _immutable_number(reader: FieldReader, name: str, given: str | None, current: str | None) -> None:
    if given != current:
        reader.fail(
            name,
            "immutable",
            "Virtual phone numbers cannot be changed after creation; delete the account and create it again.",
        )


def _updated(
    ctx: Context, actor: Operator, account_id: str, data: Mapping[str, Any], expected: Expected
) -> tuple[Account, Account, list[str]]:
    """The account as the update would leave it (nothing written); raises what the update refuses."""
    current = get_account(ctx, actor, account_id)
    _authorize_write(actor, current.group_id)
    check_version(current.version, expected)
    reader, values = _read(data, creating=False)
    _common_checks(reader, values)
    warnings: list[str] = []
    if values.phone_number is not MISSING:
        _immutable_number(
            reader, "phone_number", _number(reader, "phone_number", values.phone_number, []), current.phone_number
        )
    if values.secondary_phone_number is not MISSING:
        given = _number(reader, "secondary_phone_number", values.secondary_phone_number, [])
        _immutable_number(reader, "secondary_phone_number", given, current.secondary_phone_number)
    account_type = values.account_type if isinstance(values.account_type, AccountType) else current.account_type
    if account_type is not current.account_type and current.creation_mode is not CreationMode.PLAIN:
        reader.fail(
            "account_type",
            "activation_account_type_fixed",
            "Accounts created for automatic activation stay PGSM; create a SNOM account the plain way.",
        )
    type_fields = _type_fields(reader, values, account_type, current)
    group_id = values.group_id if isinstance(values.group_id, str) else current.group_id
    group = _load_group(ctx.groups.get, reader, group_id) if group_id != current.group_id else None
    if group is not None:
        _authorize_write(actor, group.id)
    profile_id = _opt(values.provisioning_profile_id) or current.provisioning_profile_id
    profile = _load_profile(ctx.profiles.get, reader, profile_id)
    username = values.username if isinstance(values.username, str) else current.username
    password = values.password if isinstance(values.password, str) else None
    realm = profile.sip_domain if profile else ""
    digest_stale = current.credentials is not None and (
        username != current.username or realm != current.credentials.realm
    )
    if digest_stale and password is None and not reader.has_error("password") and profile is not None:
        reader.fail(
            "password",
            "required",
            "Changing the username or the SIP domain invalidates the stored digest: give the password again.",
        )
    reader.raise_if_errors()
    assert profile is not None
    updated = replace(
        current,
        username=username,
        group_id=group_id,
        provisioning_profile_id=profile.id,
        account_type=account_type,
        security_model=type_fields.security_model,
        obfuscation_enabled=type_fields.obfuscation_enabled,
        obfuscation_key=type_fields.obfuscation_key,
        keep_alive=values.keep_alive if isinstance(values.keep_alive, bool) else current.keep_alive,
        permit=type_fields.permit,
        deny=type_fields.deny,
        full_name=current.full_name if isinstance(values.full_name, _Missing) else values.full_name,
        email=current.email if isinstance(values.email, _Missing) else values.email,
        description=current.description if isinstance(values.description, _Missing) else values.description,
        credentials=sip_credentials(username, realm, password) if password else current.credentials,
        updated_at=ctx.clock(),
        version=current.version + 1,
    )
    return current, updated, warnings


def changes(before: Account, after: Account) -> dict[str, str]:
    """What an update changed, for the timeline: `fields` names them; each non-secret one has its value before
    and after (`<field>.before`, `<field>.after`); a new password is named, never shown."""
    names = [n for n in EDITABLE_FIELDS if n != "password" and _shown(before, n) != _shown(after, n)]
    out: dict[str, str] = {}
    for name in names:
        out[f"{name}.before"], out[f"{name}.after"] = _shown(before, name), _shown(after, name)
    if before.credentials != after.credentials:
        names.append("password")
    return {"fields": ",".join(names), **out}


def _shown(account: Account, name: str) -> str:
    value = getattr(account, name)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, tuple):
        return ", ".join(value)
    return str(getattr(value, "value", value) or "")


def check_update(ctx: Context, actor: Operator, account_id: str, data: Mapping[str, Any]) -> list[FieldError]:
    """Every field error the update would answer (for a form that shows them all at once); nothing written."""
    try:
        current, updated, _ = _updated(ctx, actor, account_id, data, None)
    except ValidationFailed as exc:
        return list(exc.errors)
    if updated.username != current.username and ctx.accounts.taken_keys([guards.username_key(updated.username)]):
        return [FieldError("username", "duplicate", guards.conflict_message("username"))]
    return []


def update_account(
    ctx: Context, actor: Operator, account_id: str, data: Mapping[str, Any], expected: Expected = None
) -> AccountResult:
    current, updated, warnings = _updated(ctx, actor, account_id, data, expected)
    event = TimelineEvent(current.id, updated.updated_at, "updated", actor.username, changes(current, updated))
    ctx.accounts.replace(current, updated, event)
    audit.record(ctx, actor.username, "account.update", "account", current.id, event.detail)
    return AccountResult(updated, warnings)


def set_enabled(ctx: Context, actor: Operator, account_id: str, enabled: bool) -> Account:
    current = get_account(ctx, actor, account_id)
    _authorize_write(actor, current.group_id)
    if not enabled:  # outstanding links must not undo the operator's decision (activation enables wizard accounts)
        ctx.tokens.revoke(current.id, [Purpose.INSTALL, Purpose.ACTIVATE])
    if current.enabled is enabled:
        return current  # idempotent: a repeated click changes nothing and records nothing
    activated = current.status in (AccountStatus.ACTIVATED, AccountStatus.CONNECTED)
    if enabled and current.creation_mode is CreationMode.PLAIN and current.credentials is None:
        raise Conflict(
            "Its keys were revoked: give the account a new password (Edit) before enabling it.",
            code="password_required",
        )
    if enabled and current.creation_mode is not CreationMode.PLAIN and not activated:
        raise Conflict(
            "Accounts created the wizard way are enabled by their automatic activation.",
            code="activation_required",
        )
    now = ctx.clock()
    updated = replace(current, enabled=enabled, updated_at=now, version=current.version + 1)
    event = TimelineEvent(current.id, now, "enabled" if enabled else "disabled", actor.username)
    ctx.accounts.replace(current, updated, event)
    audit.record(ctx, actor.username, "account.enable" if enabled else "account.disable", "account", current.id)
    return updated


def revoke_keys(ctx: Context, actor: Operator, account_id: str, expected: Expected = None) -> Account:
    """Revoke all keys (PrivateServer's "Revoke all keys"): the SIP digest is dropped (the old password stops
    working), every outstanding link and the app's licence token are revoked, and the account is disabled, so the
    SIP edge removes its current registrations at its next check. An account made for automatic activation goes
    back to needing it (created, disabled until activated again); a plain one needs a new password (Edit) and
    then to be enabled."""
    current = get_account(ctx, actor, account_id)
    _authorize_write(actor, current.group_id)
    check_version(current.version, expected)
    ctx.tokens.revoke(current.id, list(Purpose))
    now = ctx.clock()
    updated = replace(
        current.with_status(AccountStatus.CREATED, now) if current.creation_mode is not CreationMode.PLAIN else current,
        credentials=None,
        enabled=False,
        updated_at=now,
        version=current.version + 1,
    )
    detail = {"was_enabled": "yes" if current.enabled else "no", "needs": _needs_after_revoke(current)}
    ctx.accounts.replace(current, updated, TimelineEvent(current.id, now, "keys_revoked", actor.username, detail))
    audit.record(ctx, actor.username, "account.revoke_keys", "account", current.id, detail)
    return updated


def _needs_after_revoke(account: Account) -> str:
    if account.creation_mode is CreationMode.PLAIN:
        return "a new password, then enabling"
    return "automatic activation again"


def delete_account(ctx: Context, actor: Operator, account_id: str, expected: Expected = None) -> None:
    current = get_account(ctx, actor, account_id)
    _authorize_write(actor, current.group_id)
    check_version(current.version, expected)
    event = TimelineEvent(current.id, ctx.clock(), "deleted", actor.username, {"username": current.username})
    ctx.accounts.remove(current, event)
    ctx.tokens.revoke(current.id, list(Purpose))
    audit.record(ctx, actor.username, "account.delete", "account", current.id, {"username": current.username})


SESSION_WINDOW = 100  # how far back in the timeline the History tab looks for SIP session events


@dataclass(frozen=True)
class History:
    timeline: list[TimelineEvent]
    sessions: list[dict[str, str]]
    calls: list[dict[str, str]]


HISTORY_WINDOW = 500  # how far back a filtered timeline looks


def history(ctx: Context, actor: Operator, account_id: str, limit: int, category: str = "") -> History:
    """The timeline (of one category of events when given: account, messages, phone, sip), and the SIP session
    events among its latest entries. Calls are listed apart (services/calls.py)."""
    account = get_account(ctx, actor, account_id)
    wanted = _category(category)
    timeline = ctx.accounts.timeline(account.id, max(limit, HISTORY_WINDOW if wanted else SESSION_WINDOW))
    sessions = [{"at": iso(e.at) or "", **e.detail} for e in timeline if category_of(e.kind) is Category.SIP]
    chosen = [e for e in timeline if wanted is None or category_of(e.kind) is wanted]
    return History(chosen[:limit], sessions[:limit], [])


def _category(name: str) -> Category | None:
    if not name:
        return None
    try:
        return Category(name)
    except ValueError as exc:
        choices = ", ".join(c.value for c in Category)
        raise ValidationFailed([FieldError("kind", "invalid_choice", f"The kind is one of: {choices}.")]) from exc
