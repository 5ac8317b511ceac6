"""Groups and provisioning profiles: admin-managed, readable by the operators they concern."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from chalicelib.domain import resources, rules
from chalicelib.domain.errors import Conflict, Forbidden, InvalidCursor, NotFound
from chalicelib.domain.fields import MISSING, FieldReader, _Missing
from chalicelib.domain.model import Group, Language, Operator, Page, ProvisioningProfile, Role, Transport
from chalicelib.domain.provisioning import DEFAULT_ACTIVATION_TEMPLATE, DEFAULT_INSTALLATION_TEMPLATE
from chalicelib.services import audit, retries
from chalicelib.services.context import Context
from chalicelib.services.preconditions import Expected, check_version

PROFILE_FIELDS = resources.PROFILE_INPUT.names()
DEFAULT_PORTS = {"tls_port": 5061, "tcp_port": 5060, "udp_port": 5060}


def require_admin(actor: Operator) -> None:
    if actor.role is not Role.ADMIN:
        raise Forbidden("Only administrators may do this.")


def _check(reader: FieldReader, name: str, check: Any, value: str | _Missing) -> None:
    if isinstance(value, str) and value and not reader.has_error(name):
        try:
            check(name, value)
        except rules.InvalidField as exc:
            reader.errors.append(exc.error)


def _cursor_error(exc: ValueError) -> InvalidCursor:
    return InvalidCursor()


# --- groups --------------------------------------------------------------------------------------------------


def _read_group(ctx: Context, data: Mapping[str, Any], creating: bool) -> tuple[FieldReader, dict[str, Any]]:
    shape = resources.GROUP_INPUT if creating else resources.GROUP_PATCH
    reader = shape.reader(data)
    values = shape.read_into(reader)  # limits, types and required fields from the declaration
    _check(reader, "it_email", rules.check_email, values["it_email"])
    profile_id = values["provisioning_profile_id"]
    if isinstance(profile_id, str) and ctx.profiles.get(profile_id) is None:
        reader.fail("provisioning_profile_id", "not_found", "No provisioning profile has this id.")
    reader.raise_if_errors()
    return reader, {k: v for k, v in values.items() if v is not MISSING}


def create_group(ctx: Context, actor: Operator, data: Mapping[str, Any]) -> Group:
    require_admin(actor)
    _, values = _read_group(ctx, data, creating=True)
    now = ctx.clock()
    group = Group(
        id=ctx.new_id(),
        name=values["name"],
        it_email=values["it_email"],
        provisioning_profile_id=values["provisioning_profile_id"],
        enabled=values.get("enabled", True),
        language=values.get("language", Language.EN),
        account_count=0,
        created_at=now,
        updated_at=now,
    )
    stored = retries.add_once(ctx.groups.add, ctx.groups.get, group)
    audit.record(ctx, actor.username, "group.create", "group", stored.id, {"name": stored.name})
    return stored


def get_group(ctx: Context, actor: Operator, group_id: str) -> Group:
    if not actor.can_read_group(group_id):
        raise Forbidden("You may not see this group.")
    group = ctx.groups.get(group_id)
    if group is None:
        raise NotFound("Group not found.")
    return group


def list_groups(ctx: Context, actor: Operator, limit: int, cursor: str | None) -> Page[Group]:
    if actor.role is Role.ADMIN:
        try:
            return ctx.groups.list(limit, cursor)
        except ValueError as exc:
            raise _cursor_error(exc) from exc
    groups = [g for g in (ctx.groups.get(gid) for gid in sorted(actor.group_ids)) if g is not None]
    return Page(groups, None)


def update_group(
    ctx: Context, actor: Operator, group_id: str, data: Mapping[str, Any], expected: Expected = None
) -> Group:
    require_admin(actor)
    current = get_group(ctx, actor, group_id)
    check_version(current.version, expected)
    _, values = _read_group(ctx, data, creating=False)
    updated = replace(current, **values, updated_at=ctx.clock(), version=current.version + 1)
    ctx.groups.replace(current, updated)
    audit.record(ctx, actor.username, "group.update", "group", current.id, audit.diff(current, updated, values))
    return updated


def delete_group(ctx: Context, actor: Operator, group_id: str, expected: Expected = None) -> None:
    require_admin(actor)
    current = get_group(ctx, actor, group_id)
    check_version(current.version, expected)
    ctx.groups.remove(current)
    audit.record(ctx, actor.username, "group.delete", "group", current.id, {"name": current.name})


# --- provisioning profiles -------------------------------------------------------------------------------------


def _read_profile(data: Mapping[str, Any], base: ProvisioningProfile | None) -> dict[str, Any]:
    shape = resources.PROFILE_INPUT if base is None else resources.PROFILE_PATCH
    reader = shape.reader(data)
    values = shape.read_into(reader)  # limits, types, enums and required fields from the declaration
    for name in ("android_url", "ios_url", "other_url"):
        _check(reader, name, rules.check_url, values[name])
    for name in ("installation_sms_template", "activation_sms_template"):
        if isinstance(values[name], str) and "{link}" not in values[name]:
            reader.fail(name, "link_missing", "The text must contain {link}, where the link goes.")
    if isinstance(values["transports"], list):  # one order, no repeats
        values["transports"] = tuple(t for t in Transport if t.value in values["transports"])
    country = values["default_country"]
    if country is None:  # cleared
        values["default_country"] = country = ""
    _check(reader, "default_country", rules.check_region, country)
    _check(reader, "sip_domain", rules.check_domain, values["sip_domain"])
    _check(reader, "sip_host", rules.check_domain, values["sip_host"])
    present = {k: v for k, v in values.items() if v is not MISSING}
    merged = _defaults() | (_as_dict(base) if base else {}) | present
    transport = Transport(merged["default_transport"])
    if merged[f"{transport.value}_port"] is None and not reader.has_error("default_transport"):
        reader.fail(
            "default_transport", "transport_without_port", f"The default transport {transport.value} has no port."
        )
    reader.raise_if_errors()
    return present


def _defaults() -> dict[str, Any]:
    return {
        **DEFAULT_PORTS,
        "default_transport": Transport.TLS,
        "android_url": "",
        "ios_url": "",
        "other_url": "",
        "installation_sms_template": DEFAULT_INSTALLATION_TEMPLATE,
        "activation_sms_template": DEFAULT_ACTIVATION_TEMPLATE,
        "transports": (),
        "default_country": "",
    }


def _as_dict(p: ProvisioningProfile) -> dict[str, Any]:
    return {name: getattr(p, name) for name in PROFILE_FIELDS}


def create_profile(ctx: Context, actor: Operator, data: Mapping[str, Any]) -> ProvisioningProfile:
    require_admin(actor)
    values = _defaults() | _read_profile(data, None)
    now = ctx.clock()
    profile = ProvisioningProfile(
        id=ctx.new_id(),
        created_at=now,
        updated_at=now,
        **{**values, "default_transport": Transport(values["default_transport"])},
    )
    stored = retries.add_once(ctx.profiles.add, ctx.profiles.get, profile)
    audit.record(ctx, actor.username, "profile.create", "profile", stored.id, {"name": stored.name})
    return stored


def _readable_profile_ids(ctx: Context, actor: Operator) -> set[str]:
    """The profiles an operator who is no administrator may see: those of the groups it may read."""
    groups = (ctx.groups.get(group_id) for group_id in sorted(actor.group_ids))
    return {g.provisioning_profile_id for g in groups if g is not None}


def get_profile(ctx: Context, actor: Operator, profile_id: str) -> ProvisioningProfile:
    profile = ctx.profiles.get(profile_id)
    if profile is None or (actor.role is not Role.ADMIN and profile_id not in _readable_profile_ids(ctx, actor)):
        raise NotFound("Provisioning profile not found.")  # the same answer: nobody learns other groups' profiles
    return profile


def list_profiles(ctx: Context, actor: Operator, limit: int, cursor: str | None) -> Page[ProvisioningProfile]:
    if actor.role is not Role.ADMIN:  # a handful (one per group): one page, in name order
        profiles = (ctx.profiles.get(pid) for pid in _readable_profile_ids(ctx, actor))
        return Page(sorted((p for p in profiles if p is not None), key=lambda p: p.name.lower()), None)
    try:
        return ctx.profiles.list(limit, cursor)
    except ValueError as exc:
        raise _cursor_error(exc) from exc


def update_profile(
    ctx: Context, actor: Operator, profile_id: str, data: Mapping[str, Any], expected: Expected = None
) -> ProvisioningProfile:
    require_admin(actor)
    current = get_profile(ctx, actor, profile_id)
    check_version(current.version, expected)
    values = _read_profile(data, current)
    if values.get("sip_domain", current.sip_domain) != current.sip_domain and ctx.accounts.profile_in_use(current.id):
        raise Conflict(
            "Accounts use this profile and their SIP digests are bound to its domain; create a new profile "
            "and move the accounts instead.",
            field="sip_domain",
            code="profile_in_use",
        )
    if "default_transport" in values:
        values["default_transport"] = Transport(values["default_transport"])
    updated = replace(current, **values, updated_at=ctx.clock(), version=current.version + 1)
    ctx.profiles.replace(current, updated)
    audit.record(ctx, actor.username, "profile.update", "profile", current.id, audit.diff(current, updated, values))
    return updated


def delete_profile(ctx: Context, actor: Operator, profile_id: str, expected: Expected = None) -> None:
    require_admin(actor)
    profile = get_profile(ctx, actor, profile_id)
    check_version(profile.version, expected)
    if ctx.groups.profile_in_use(profile.id) or ctx.accounts.profile_in_use(profile.id):
        raise Conflict("Groups or accounts still use this profile.", code="profile_in_use")
    ctx.profiles.remove(profile)
    audit.record(ctx, actor.username, "profile.delete", "profile", profile.id, {"name": profile.name})
