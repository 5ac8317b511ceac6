"""SIP digest secrets (RFC 2617 / RFC 8760): the only form in which a SIP password is stored."""

from __future__ import annotations

import hashlib

from chalicelib.domain.model import SipCredentials


def sip_credentials(username: str, realm: str, password: str) -> SipCredentials:
    def md5(text: str) -> str:
        return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()

    return SipCredentials(
        realm=realm,
        ha1=md5(f"{username}:{realm}:{password}"),
        ha1b=md5(f"{username}@{realm}:{realm}:{password}"),
        ha1_sha256=hashlib.sha256(f"{username}:{realm}:{password}".encode()).hexdigest(),
    )
