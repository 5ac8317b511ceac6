"""Who may register: the refusal reasons of docs/sip-events.md, their reason phrases, and the checks behind them."""

from __future__ import annotations

import ipaddress
from enum import Enum

from sipedge.directory import Account

# No enumeration: an unknown user, a wrong password, an account never activated and a locked-out account get
# the same answer (the precise reason goes only to the event and the account's History)
NOT_AUTHORISED = "Forbidden"


class Refusal(Enum):
    """A refused REGISTER: the event's `reason` and the 403 reason phrase. The refusals before a valid digest
    share one phrase; the ones after it (the caller knows the password) say what is wrong."""

    UNKNOWN_USER = ("unknown_user", NOT_AUTHORISED)
    NOT_ACTIVATED = ("not_activated", NOT_AUTHORISED)
    WRONG_PASSWORD = ("wrong_password", NOT_AUTHORISED)
    LOCKED_OUT = ("locked_out", NOT_AUTHORISED)
    ACCOUNT_DISABLED = ("account_disabled", "Account disabled")
    GROUP_DISABLED = ("group_disabled", "Group disabled")
    TRANSPORT_NOT_ALLOWED = ("transport_not_allowed", "Transport not allowed")
    DENIED = ("denied", "Address denied")
    NOT_PERMITTED = ("not_permitted", "Address not permitted")

    @property
    def reason(self) -> str:
        return self.value[0]

    @property
    def phrase(self) -> str:
        return self.value[1]


def _networks(entries: tuple[str, ...]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            continue  # the control plane validates CIDRs; a bad one matches nothing rather than everything
    return networks


def _inside(address: str, entries: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip.version == net.version and ip in net for net in _networks(entries))


def address_refusal(account: Account, source_ip: str) -> Refusal | None:
    """SNOM only: Deny wins over Permit; an empty Permit list permits every address."""
    if account.account_type.lower() != "snom":
        return None
    if _inside(source_ip, account.deny):
        return Refusal.DENIED
    if account.permit and not _inside(source_ip, account.permit):
        return Refusal.NOT_PERMITTED
    return None


def allowed_transports(account: Account, default: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(t.lower() for t in account.transports) or default


def standing_refusal(account: Account) -> Refusal | None:
    """What stops an authenticated account from registering (and removes its current registrations)."""
    if not account.enabled:
        return Refusal.ACCOUNT_DISABLED
    if not account.group_enabled:
        return Refusal.GROUP_DISABLED
    return None


def refusal_after_auth(account: Account, source_ip: str, transport: str, default: tuple[str, ...]) -> Refusal | None:
    """The checks that follow a valid digest, in order."""
    standing = standing_refusal(account)
    if standing is not None:
        return standing
    if transport.lower() not in allowed_transports(account, default):
        return Refusal.TRANSPORT_NOT_ALLOWED
    return address_refusal(account, source_ip)
