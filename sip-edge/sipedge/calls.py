"""Calls between accounts (docs/calls.md): who is dialled, how the media is secured, what a final code means for
the call record, and the call events the edge sends beside the session events (plain Python, no KSR)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any

from sipedge.directory import Account

CALL_KINDS = ("call_started", "call_answered", "call_ended")
IDENTITY_HEADERS = ("P-Asserted-Identity", "P-Preferred-Identity", "Remote-Party-ID")

# rtpengine flags (Kamailio's rtpengine module syntax). Every leg: rtpengine's own address in the SDP, no ICE.
COMMON_FLAGS = "replace-origin replace-session-connection ICE=remove"
# SRTP suites the edge offers a phone: none of the NULL (unencrypted) or F8 suites, nor the AEAD GCM ones
# (rtpengine 10.5 offers them first, and a phone that takes them may not agree on their key: baresip 1.0 refuses
# rtpengine's AEAD_AES_256_GCM key length); the AES counter-mode suites every SDES phone speaks stay
NO_WEAK_SUITES = " ".join(
    f"SDES-no-{suite}"
    for suite in ("NULL_HMAC_SHA1_80", "NULL_HMAC_SHA1_32", "F8_128_HMAC_SHA1_80", "F8_128_HMAC_SHA1_32",
                  "AEAD_AES_256_GCM", "AEAD_AES_128_GCM")
)  # fmt: skip
# SDES calls run through two rtpengine sessions: leg A ends the caller's SRTP (plain towards leg B), leg B
# starts SRTP towards the callee with keys of its own. One session cannot do it: rtpengine offers the caller's
# own key to the callee when both sides speak the same suite (SRTP pass-through).
SDES_CALLER_LEG = f"{COMMON_FLAGS} DTLS=off SDES-off transport-protocol=RTP/AVP"
SDES_CALLEE_LEG = f"{COMMON_FLAGS} DTLS=off transport-protocol=RTP/SAVP {NO_WEAK_SUITES}"
SDES_CALLEE_LEG_SUFFIX = "-sdes"
# ZRTP: relayed as it is (no re-keying: the keys stay between the phones; a=zrtp-hash passes unchanged)
ZRTP_FLAGS = f"{COMMON_FLAGS} DTLS=off"


class Media(Enum):
    SDES = "sdes"
    ZRTP = "zrtp"
    NONE = "none"


class Result(Enum):
    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    UNAVAILABLE = "unavailable"
    NOT_FOUND = "not_found"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    FAILED = "failed"


# The disabled account's announcement: the caller's SDP goes through one rtpengine session (SDES: SRTP ended by
# rtpengine, like the caller's leg of a call) answered by a stand-in that discards what it gets (the discard
# port on loopback); rtpengine's answer is the 183's SDP and the message is played to the caller on it
ANNOUNCEMENT_LANGUAGES = ("en", "it", "fr", "es", "de")
DEFAULT_LANGUAGE = "en"
ANNOUNCEMENT_DEFAULT_MS = 5000  # when rtpengine cannot tell the file's length
ANNOUNCEMENT_MAX_MS = 25000  # async_ms_route's limit is 30 s
ANNOUNCEMENT_TAIL_MS = 300  # the last packets leave before the final answer


class Refusal(Enum):
    """Why the edge itself ends a call attempt: (final code, reason phrase, call result, event reason)."""

    NOT_FOUND = (404, "Not Found", Result.NOT_FOUND, "not_found")
    NOT_REGISTERED = (480, "Temporarily Unavailable", Result.UNAVAILABLE, "not_registered")
    CALLEE_DISABLED = (480, "Temporarily Unavailable", Result.UNAVAILABLE, "callee_disabled")
    CALLER_DISABLED = (403, "Account disabled", Result.REJECTED, "caller_disabled")
    POLICY = (403, "Forbidden", Result.REJECTED, "policy")
    PLAIN_MEDIA = (488, "Secure Media Required", Result.FAILED, "plain_media")
    MIXED_SECURITY = (488, "Security Models Differ", Result.FAILED, "mixed_security")
    NO_MEDIA = (488, "Not Acceptable Here", Result.FAILED, "no_media")
    MEDIA_RELAY_DOWN = (503, "Media Relay Unavailable", Result.FAILED, "media_relay_unavailable")
    ACCOUNT_STORE_DOWN = (503, "Account Store Unavailable", Result.FAILED, "account_store_unavailable")

    def __init__(self, code: int, phrase: str, result: Result, reason: str) -> None:
        self.code = code
        self.phrase = phrase
        self.result = result
        self.reason = reason


_MEDIA_LINE = re.compile(r"^m=audio\s+\d+\s+(\S+)", re.MULTILINE)
_AUDIO_FORMATS = re.compile(r"^m=audio\s+\d+\s+\S+\s+([0-9 ]+?)\s*$", re.MULTILINE)
_RTPMAP = re.compile(r"^a=(?:rtpmap|fmtp):(\d+) .*?$", re.MULTILINE)


@dataclass(frozen=True)
class Offer:
    """What the edge reads of an SDP offer."""

    protocol: str  # of the first audio stream: RTP/AVP, RTP/SAVP, ... ("" without audio)
    crypto: bool  # a=crypto lines (SDES keys)
    zrtp: bool  # a=zrtp-hash

    @classmethod
    def read(cls, sdp: str) -> Offer:
        match = _MEDIA_LINE.search(sdp)
        return cls(
            protocol=match.group(1).upper() if match else "",
            crypto="\na=crypto:" in f"\n{sdp}",
            zrtp="\na=zrtp-hash:" in f"\n{sdp}",
        )

    @property
    def secure_transport(self) -> bool:
        return self.protocol in ("RTP/SAVP", "RTP/SAVPF")


def media_plan(caller: Account, callee: Account, offer: Offer) -> Media | Refusal:
    """SDES on both sides: SRTP with a=crypto required, re-keyed per leg. ZRTP on both: relayed untouched.
    Mixed SDES and ZRTP accounts are refused (docs/calls.md: neither side would get what its model promises)."""
    if not offer.protocol:
        return Refusal.NO_MEDIA
    caller_media, callee_media = caller.media_security, callee.media_security
    if caller_media != callee_media:
        return Refusal.MIXED_SECURITY
    if caller_media == Media.SDES.value:
        return Media.SDES if offer.secure_transport and offer.crypto else Refusal.PLAIN_MEDIA
    return Media.ZRTP


def announcement_plan(caller: Account, offer: Offer) -> Media | None:
    """How the announcement reaches the caller: on the caller's own terms (SDES: an SRTP offer with keys; ZRTP:
    as offered); None when the offer cannot carry it (the refusal is then answered at once)."""
    if not offer.protocol:
        return None
    if caller.media_security == Media.SDES.value:
        return Media.SDES if offer.secure_transport and offer.crypto else None
    return Media.ZRTP


def stand_in_answer(offered: str) -> str:
    """The SDP answer of the announcement's stand-in callee to rtpengine's offer `offered`: plain RTP with the
    offer's first audio format, to the discard port on loopback (it receives the caller's audio; nobody listens)."""
    formats = _AUDIO_FORMATS.search(offered)
    first = formats.group(1).split()[0] if formats else "0"
    lines = ["v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=announcement", "c=IN IP4 127.0.0.1", "t=0 0",
             f"m=audio 9 RTP/AVP {first}"]  # fmt: skip
    lines += [m.group(0).rstrip("\r") for m in _RTPMAP.finditer(offered) if m.group(1) == first]
    lines.append("a=sendrecv")
    return "\r\n".join(lines) + "\r\n"


def announcement_file(directory: str, language: str, refusal: Refusal) -> str:
    """The rendered message for the refusal in the account's language (English when it has none or another),
    or "" when it is not there (no announcement then)."""
    if not directory or refusal.reason not in ("caller_disabled", "callee_disabled"):
        return ""
    language = language.lower() if language.lower() in ANNOUNCEMENT_LANGUAGES else DEFAULT_LANGUAGE
    path = Path(directory) / f"{language}-{refusal.reason}.wav"
    return str(path) if path.is_file() else ""


def announcement_wait_ms(duration: str) -> int:
    """How long the edge waits before the final answer: the file's length (rtpengine's `media_duration`) and a
    short tail, within async_ms_route's limit."""
    try:
        played = int(duration)
    except ValueError:
        played = -1
    if played <= 0:
        played = ANNOUNCEMENT_DEFAULT_MS
    return min(played + ANNOUNCEMENT_TAIL_MS, ANNOUNCEMENT_MAX_MS)


def dialled_numbers(dialled: str) -> list[str]:
    """The stored forms a dialled number may have: as dialled, then with or without its `+`."""
    if not dialled:
        return []
    if dialled.startswith("+"):
        return [dialled, dialled[1:]]
    return [dialled, f"+{dialled}"] if dialled.isdigit() else [dialled]


def result_of(code: int, cancelled: bool = False) -> Result:
    """The call result of a relayed call's final code."""
    if cancelled or code == 487:
        return Result.CANCELLED
    if 200 <= code < 300:
        return Result.ANSWERED
    if code in (486, 600):
        return Result.BUSY
    if code in (408, 480):
        return Result.NO_ANSWER
    if code in (603, 403):
        return Result.REJECTED
    if code == 404:
        return Result.NOT_FOUND
    return Result.FAILED


@dataclass(frozen=True)
class CallParty:
    account_id: str = ""
    username: str = ""
    transport: str = ""
    address: str = ""


@dataclass(frozen=True)
class CallContext:
    """What every call event repeats, so any one of them can make the record (events arrive in any order)."""

    call_id: str
    dialled: str
    caller: CallParty
    callee: CallParty
    media_security: str = Media.NONE.value

    def to_json(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "dialled": self.dialled,
            "caller": vars(self.caller),
            "callee": vars(self.callee),
            "media_security": self.media_security,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CallContext:
        return cls(
            call_id=str(data["call_id"]),
            dialled=str(data.get("dialled", "")),
            caller=CallParty(**data.get("caller", {})),
            callee=CallParty(**data.get("callee", {})),
            media_security=str(data.get("media_security", Media.NONE.value)),
        )


def call_event(
    kind: str,
    context: CallContext,
    *,
    edge: str,
    sip_code: int = 0,
    result: str = "",
    reason: str = "",
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> dict[str, Any]:
    """One call event (docs/sip-events.md, "Call events")."""
    if kind not in CALL_KINDS:
        raise ValueError(f"unknown call event kind {kind!r}")
    return {
        "id": uuid.uuid4().hex,
        "kind": kind,
        "at": now().isoformat(),
        "edge": edge,
        "call_id": context.call_id,
        "dialled": context.dialled,
        "caller_account_id": context.caller.account_id,
        "caller_username": context.caller.username,
        "caller_transport": context.caller.transport,
        "caller_address": context.caller.address,
        "callee_account_id": context.callee.account_id,
        "callee_username": context.callee.username,
        "callee_transport": context.callee.transport,
        "callee_address": context.callee.address,
        "media_security": context.media_security,
        "sip_code": sip_code,
        "result": result,
        "reason": reason,
        # the session events' consumer keys on these two: a call event names its caller
        "username": context.caller.username,
        "account_id": context.caller.account_id,
    }
