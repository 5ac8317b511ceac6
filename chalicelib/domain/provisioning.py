"""Automatic activation (manual 1.1.4): links, tokens, SMS texts and their segments, provider error meanings."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

TOKEN_BYTES = 16  # 128 bits of randomness
DEFAULT_INSTALLATION_TEMPLATE = "Install PrivateGSM for secure calls: {link}"
DEFAULT_ACTIVATION_TEMPLATE = "Configure PrivateGSM on this phone: {link}"
GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€\f")


class Purpose(StrEnum):
    INSTALL = "install"
    ACTIVATE = "activate"
    DEVICE = "device"  # the activated app's credential for the licence service


class MessageStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"


@dataclass(frozen=True)
class ProvisioningToken:
    token_hash: str
    account_id: str
    purpose: Purpose
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None


@dataclass(frozen=True)
class SmsMessage:
    id: str
    account_id: str
    to: str
    body: str
    purpose: Purpose
    status: MessageStatus
    created_at: datetime
    updated_at: datetime
    provider_id: str = ""
    error_code: str = ""
    error_message: str = ""
    attempts: int = 0
    channel: str = "sms"  # "sms" (to the virtual number) or "email" (tablets and other devices without SMS)


@dataclass(frozen=True)
class QueuedSms:
    """What the queue carries: the stored message's id and the full text (the only copy of the link)."""

    message_id: str
    text: str


def new_token() -> tuple[str, str]:
    """A fresh link token and the hash that is stored (the token itself never is)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def render(template: str, link: str, owner: str) -> str:
    return template.replace("{link}", link).replace("{owner}", owner).strip()


def segments(text: str) -> tuple[str, int]:
    """SMS encoding and segment count: GSM-7 fits 160 characters (153 a part when split), anything else
    is UCS-2 with 70 (67 a part)."""
    if all(c in GSM7 or c in GSM7_EXTENDED for c in text):
        units = sum(2 if c in GSM7_EXTENDED else 1 for c in text)
        return "GSM-7", 1 if units <= 160 else -(-units // 153)
    units = sum(2 if ord(c) > 0xFFFF else 1 for c in text)
    return "UCS-2", 1 if units <= 70 else -(-units // 67)


# What the provider's error codes mean to an operator (Twilio's codes; others fall back to the raw text).
PROVIDER_ERRORS = {
    "21211": "the number is not a valid phone number",
    "21408": "sending to this country is not enabled for the account",
    "21610": "the recipient has opted out (replied STOP)",
    "21612": "the carrier cannot route to this number",
    "21614": "the number is not a mobile number (landline)",
    "30003": "the phone is unreachable (switched off or out of coverage)",
    "30004": "the message was blocked (by the recipient or the carrier)",
    "30005": "the number is unknown or no longer exists",
    "30006": "landline, or a carrier that cannot receive SMS",
    "30007": "filtered by the carrier (flagged as spam)",
    "30008": "unknown error at the carrier",
}


def explain(code: str, fallback: str = "") -> str:
    return PROVIDER_ERRORS.get(code, fallback or "the provider reported an error")


PLATFORMS = (("android", re.compile(r"android", re.I)), ("ios", re.compile(r"iphone|ipad|ipod|ios", re.I)))


def platform_of(user_agent: str) -> str:
    return next((name for name, pattern in PLATFORMS if pattern.search(user_agent or "")), "other")
