"""Licences (manual 1.1.7): what the vendor's licence server answers, and how we trust it.

Our upstream protocol (docs/licence-upstream.md): we POST {account, nonce} to the vendor with our server
credentials; the vendor answers {"licence": {...}, "signature": <Ed25519 over the canonical licence JSON>}.
The licence echoes our nonce and the account, so an answer cannot be replayed for another request or account,
and the signature is checked before caching and again when serving from the cache, so neither a man in the
middle nor an edited cache item can hand out a licence the vendor did not sign.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


class BadLicence(Exception):
    """The upstream answer is not a licence we can trust (garbage, wrong nonce or account, bad signature)."""


@dataclass(frozen=True)
class Licence:
    account: str
    status: str  # "valid", "expired", "revoked"
    expires_at: datetime
    issued_at: datetime
    features: tuple[str, ...]
    raw: str  # the canonical JSON that was signed
    signature: str  # base64

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.raw)
        body.pop("nonce", None)
        return body


@dataclass(frozen=True)
class CachedLicence:
    account_id: str
    licence: Licence | None
    validated_at: datetime | None  # when the upstream last confirmed it
    last_error: str = ""
    last_error_at: datetime | None = None
    failures: int = 0  # consecutive upstream failures, for the back-off
    retry_after: datetime | None = None  # no upstream call before this (back-off)


def canonical(licence: dict[str, Any]) -> str:
    return json.dumps(licence, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise BadLicence("a time is missing")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadLicence(f"bad time {value!r}") from exc
    if moment.tzinfo is None:
        raise BadLicence("times must carry a zone")
    return moment


def verify(public_key: Ed25519PublicKey, raw: str, signature: str) -> None:
    try:
        public_key.verify(base64.b64decode(signature, validate=True), raw.encode())
    except (InvalidSignature, binascii.Error, ValueError) as exc:
        raise BadLicence("the signature does not match") from exc


def parse_answer(answer: Any, public_key: Ed25519PublicKey, account: str, nonce: str | None) -> Licence:
    """Check an upstream answer (or a cached one, with nonce None) and turn it into a Licence."""
    if not isinstance(answer, dict) or not isinstance(answer.get("licence"), dict):
        raise BadLicence("the answer holds no licence")
    body = answer["licence"]
    signature = answer.get("signature")
    if not isinstance(signature, str):
        raise BadLicence("the answer is not signed")
    raw = canonical(body)
    verify(public_key, raw, signature)
    if body.get("account") != account:
        raise BadLicence("the licence is for another account")
    if nonce is not None and body.get("nonce") != nonce:
        raise BadLicence("the licence answers another request (nonce)")
    status = body.get("status")
    if status not in ("valid", "expired", "revoked"):
        raise BadLicence(f"unknown licence status {status!r}")
    features = body.get("features", [])
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
        raise BadLicence("bad features")
    return Licence(account, status, _time(body.get("expires_at")), _time(body.get("issued_at")), tuple(features),
                   raw, signature)  # fmt: skip


def public_key_from(text: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(text))
