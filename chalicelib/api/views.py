"""JSON shapes of the API resources. Secrets (digests, password hashes) never leave through here."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.model import (
    Account,
    Group,
    LoginAttempt,
    Operator,
    Page,
    ProvisioningProfile,
    TimelineEvent,
    iso,
)
from chalicelib.domain.provisioning import SmsMessage
from chalicelib.domain.registration import Registration
from chalicelib.services.accounts import History
from chalicelib.services.search_port import SearchDocument


def account_json(a: Account) -> dict[str, Any]:
    return {
        "id": a.id,
        "username": a.username,
        "group_id": a.group_id,
        "provisioning_profile_id": a.provisioning_profile_id,
        "phone_number": a.phone_number,
        "secondary_phone_number": a.secondary_phone_number,
        "account_type": a.account_type.value,
        "security_model": a.security_model.value,
        "obfuscation_enabled": a.obfuscation_enabled,
        "obfuscation_key": a.obfuscation_key,
        "keep_alive": a.keep_alive,
        "permit": list(a.permit),
        "deny": list(a.deny),
        "full_name": a.full_name,
        "email": a.email,
        "description": a.description,
        "enabled": a.enabled,
        "status": a.status.value,
        "status_changed_at": iso(a.status_changed_at),
        "created_at": iso(a.created_at),
        "updated_at": iso(a.updated_at),
        "creation_mode": a.creation_mode.value,
        "sms_problem": a.sms_problem,
        "sip_locked_until": iso(a.sip_locked_until) if a.sip_locked_until else None,
    }


def row_json(d: SearchDocument) -> dict[str, Any]:
    """A search hit: the account list's columns."""
    return {
        "id": d.id,
        "username": d.username,
        "group_id": d.group_id,
        "full_name": d.full_name,
        "phone_number": d.phone_number,
        "secondary_phone_number": d.secondary_phone_number,
        "email": d.email,
        "description": d.description,
        "account_type": d.account_type,
        "enabled": d.enabled,
        "status": d.status,
        "status_changed_at": d.status_changed_at,
        "sms_problem": d.sms_problem,
    }


def message_json(m: SmsMessage) -> dict[str, Any]:
    return {
        "id": m.id,
        "account_id": m.account_id,
        "to": m.to,
        "channel": m.channel,
        "purpose": m.purpose.value,
        "status": m.status.value,
        "provider_id": m.provider_id,
        "error_code": m.error_code,
        "error_message": m.error_message,
        "attempts": m.attempts,
        "created_at": iso(m.created_at),
        "updated_at": iso(m.updated_at),
    }


def group_json(g: Group) -> dict[str, Any]:
    return {
        "id": g.id,
        "name": g.name,
        "it_email": g.it_email,
        "provisioning_profile_id": g.provisioning_profile_id,
        "enabled": g.enabled,
        "account_count": g.account_count,
        "created_at": iso(g.created_at),
        "updated_at": iso(g.updated_at),
    }


def profile_json(p: ProvisioningProfile) -> dict[str, Any]:
    return {
        "id": p.id,
        "name": p.name,
        "sip_domain": p.sip_domain,
        "sip_host": p.sip_host,
        "tls_port": p.tls_port,
        "tcp_port": p.tcp_port,
        "udp_port": p.udp_port,
        "default_transport": p.default_transport.value,
        "android_url": p.android_url,
        "ios_url": p.ios_url,
        "other_url": p.other_url,
        "installation_sms_template": p.installation_sms_template,
        "activation_sms_template": p.activation_sms_template,
        "transports": [t.value for t in p.transports],
        "created_at": iso(p.created_at),
        "updated_at": iso(p.updated_at),
    }


def operator_json(o: Operator) -> dict[str, Any]:
    return {
        "id": o.id,
        "username": o.username,
        "role": o.role.value,
        "group_ids": sorted(o.group_ids),
        "enabled": o.enabled,
        "created_at": iso(o.created_at),
        "updated_at": iso(o.updated_at),
    }


def event_json(e: TimelineEvent) -> dict[str, Any]:
    return {"at": iso(e.at), "kind": e.kind, "actor": e.actor, "detail": e.detail}


def history_json(h: History) -> dict[str, Any]:
    return {"timeline": [event_json(e) for e in h.timeline], "sessions": h.sessions, "calls": h.calls}


def login_json(a: LoginAttempt) -> dict[str, Any]:
    return {
        "at": iso(a.at),
        "username": a.username,
        "source_ip": a.source_ip,
        "outcome": a.outcome,
        "user_agent": a.user_agent,
    }


def page_json(page: Page[Any], render: Any) -> dict[str, Any]:
    return {"items": [render(item) for item in page.items], "next_cursor": page.next_cursor}


def registration_json(r: Registration) -> dict[str, Any]:
    return {
        "account_id": r.account_id,
        "username": r.username,
        "group_id": r.group_id,
        "contact": r.contact,
        "source": r.source,
        "transport": r.transport,
        "user_agent": r.user_agent,
        "registered_at": iso(r.registered_at),
        "expires_at": iso(r.expires_at),
        "edge": r.edge,
    }
