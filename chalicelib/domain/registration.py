"""SIP registrations and the session events the SIP edge reports (docs/sip-events.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from chalicelib.domain.model import Transport


class SipEventKind(StrEnum):
    REGISTERED = "registered"
    UNREGISTERED = "unregistered"
    EXPIRED = "expired"
    KEEPALIVE_FAILED = "keepalive_failed"
    REMOVED = "removed"
    REFUSED = "refused"
    LOCKED_OUT = "locked_out"


# The History tab's wording for each event, and for each refusal reason the edge reports.
SIP_EVENT_LABELS = {
    SipEventKind.REGISTERED: "Registered",
    SipEventKind.UNREGISTERED: "Unregistered",
    SipEventKind.EXPIRED: "Registration expired",
    SipEventKind.KEEPALIVE_FAILED: "Keep-alive failed, registration dropped",
    SipEventKind.REMOVED: "Registration removed by the edge",
    SipEventKind.REFUSED: "Registration refused",
    SipEventKind.LOCKED_OUT: "SIP login locked out after repeated wrong passwords",
}
REFUSAL_REASONS = {
    "unknown_user": "unknown user",
    "wrong_password": "wrong password",
    "account_disabled": "account disabled",
    "account_deleted": "account deleted",
    "group_disabled": "group disabled",
    "not_permitted": "address not in the Permit list",
    "denied": "address in the Deny list",
    "transport_not_allowed": "transport not allowed by the profile",
    "not_activated": "account not activated yet",
    "locked_out": "locked out after repeated wrong passwords",
    "too_many_failures": "too many wrong passwords",
}
# events that describe no contact: they never touch the registrations
CONTACTLESS_KINDS = frozenset({SipEventKind.REFUSED, SipEventKind.LOCKED_OUT})
TRANSPORTS = frozenset(t.value for t in Transport)
_MAX_TEXT = 512


class InvalidSipEvent(ValueError):
    """An event body that does not follow the contract; it is logged and dropped, never retried."""


@dataclass(frozen=True)
class SipEvent:
    id: str
    kind: SipEventKind
    at: datetime
    username: str
    account_id: str = ""
    contact: str = ""
    source: str = ""
    transport: str = ""
    user_agent: str = ""
    expires: int = 0
    reason: str = ""
    edge: str = ""


@dataclass(frozen=True)
class Registration:
    """One contact of one account, as the last event about it left it."""

    account_id: str
    contact: str
    username: str
    group_id: str
    source: str
    transport: str
    user_agent: str
    registered_at: datetime
    expires_at: datetime
    edge: str
    changed_at: datetime  # the time of the event that wrote this state (newer events win)
    active: bool = True

    def online(self, now: datetime) -> bool:
        return self.active and self.expires_at > now

    def supersedes(self, stored: Registration) -> bool:
        """Whether this state replaces the stored one: it is newer, and an end (unregistered, expired, ...)
        comes from the edge that holds the live registration (an edge the phone has left may report its old
        copy's expiry later: that never removes the registration another edge holds now)."""
        if self.changed_at <= stored.changed_at:
            return False
        return self.active or not stored.active or not (self.edge and stored.edge) or self.edge == stored.edge


def _text(data: Mapping[str, Any], name: str, required: bool = False) -> str:
    value = data.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str) or len(value) > _MAX_TEXT:
        raise InvalidSipEvent(f"'{name}' must be a string of at most {_MAX_TEXT} characters")
    if required and not value:
        raise InvalidSipEvent(f"'{name}' is required")
    return value


def _time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise InvalidSipEvent("'at' must be an ISO 8601 time")
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidSipEvent("'at' must be an ISO 8601 time") from exc
    if at.tzinfo is None:
        raise InvalidSipEvent("'at' must carry its time zone")
    return at.astimezone(UTC)


def parse_sip_event(data: Any) -> SipEvent:
    """The contract's JSON object as a SipEvent; InvalidSipEvent says what is wrong."""
    if not isinstance(data, Mapping):
        raise InvalidSipEvent("an event must be a JSON object")
    try:
        kind = SipEventKind(str(data.get("kind")))
    except ValueError as exc:
        raise InvalidSipEvent(f"unknown kind {data.get('kind')!r}") from exc
    transport = _text(data, "transport").lower()
    if transport and transport not in TRANSPORTS:
        raise InvalidSipEvent(f"unknown transport {transport!r}")
    expires = data.get("expires") or 0
    if not isinstance(expires, int) or isinstance(expires, bool) or not 0 <= expires <= 7 * 86400:
        raise InvalidSipEvent("'expires' must be a number of seconds")
    event = SipEvent(
        id=_text(data, "id", required=True),
        kind=kind,
        at=_time(data.get("at")),
        username=_text(data, "username", required=True),
        account_id=_text(data, "account_id"),
        contact=_text(data, "contact"),
        source=_text(data, "source"),
        transport=transport,
        user_agent=_text(data, "user_agent"),
        expires=expires,
        reason=_text(data, "reason"),
        edge=_text(data, "edge"),
    )
    if kind is SipEventKind.REGISTERED and not (event.contact and event.expires):
        raise InvalidSipEvent("a registration needs its contact and expiry")
    return event


def registration_from(event: SipEvent, group_id: str) -> Registration:
    """The registration a `registered` event describes, or the ended one any other kind leaves behind."""
    return Registration(
        account_id=event.account_id,
        contact=event.contact,
        username=event.username,
        group_id=group_id,
        source=event.source,
        transport=event.transport,
        user_agent=event.user_agent,
        registered_at=event.at,
        expires_at=event.at + timedelta(seconds=event.expires),
        edge=event.edge,
        changed_at=event.at,
        active=event.kind is SipEventKind.REGISTERED,
    )


def history_detail(event: SipEvent) -> dict[str, str]:
    """What the History tab shows about a session event (never a secret: the edge sends none)."""
    detail = {"event": SIP_EVENT_LABELS[event.kind], "source": event.source, "transport": event.transport.upper()}
    if event.reason:
        detail["reason"] = REFUSAL_REASONS.get(event.reason, event.reason)
    if event.user_agent:
        detail["user_agent"] = event.user_agent
    if event.kind in (SipEventKind.REGISTERED, SipEventKind.LOCKED_OUT):
        detail["expires"] = f"{event.expires} s"
    return {k: v for k, v in detail.items() if v}
