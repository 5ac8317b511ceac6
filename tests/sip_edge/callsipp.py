"""sipp call scenarios for the edge's call tests: a callee that registers and answers (or refuses, or rings
forever), and a caller that is challenged (407), authenticates and places the call. SDP is written per case
(RTP/SAVP with a=crypto for SDES, RTP/AVP with a=zrtp-hash for ZRTP)."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from devstack.sip_edge import free_port
from tests.sip_edge.sipp import SippResult, _send

HEADER = '<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="{name}">\n'
SUITE = "AES_CM_128_HMAC_SHA1_80"


def _tx(message: str, attrs: str) -> str:
    """A send with sipp transaction attributes (start_txn / ack_txn / use_txn keep the INVITE's branch)."""
    retrans = "" if message.startswith("ACK") or "ACK [next_url]" in message else ' retrans="500"'
    return f"  <send{retrans} {attrs}><![CDATA[\n{message}]]></send>\n"


def new_key() -> str:
    """An SDES inline key (16 bytes key + 14 bytes salt, base64)."""
    return base64.b64encode(os.urandom(30)).decode()


@dataclass(frozen=True)
class Media:
    port: int
    security: str = "sdes"  # sdes | zrtp | plain
    key: str = ""
    zrtp_hash: str = "1.10 " + "ab" * 32

    def sdp(self, crypto_tag: str = "1") -> str:
        protocol = "RTP/SAVP" if self.security == "sdes" else "RTP/AVP"
        lines = ["v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0",
                 f"m=audio {self.port} {protocol} 0", "a=rtpmap:0 PCMU/8000", "a=ptime:20"]  # fmt: skip
        if self.security == "sdes":
            lines.append(f"a=crypto:{crypto_tag} {SUITE} inline:{self.key}")
        if self.security == "zrtp":
            lines.append(f"a=zrtp-hash:{self.zrtp_hash}")
        return "\n".join(lines) + "\n"


def media(security: str = "sdes") -> Media:
    return Media(port=free_port(), security=security, key=new_key() if security == "sdes" else "")


_REPLY = """SIP/2.0 {status}
[last_Via:]
[last_From:]
[last_To:];tag=callee[call_number]
[last_Call-ID:]
[last_CSeq:]
[last_Record-Route:]
Contact: <sip:{user}@[local_ip]:[local_port];transport=[transport]>
{body_headers}Content-Length: [len]

{body}"""


def _reply(user: str, status: str, body: str = "") -> str:
    headers = "Content-Type: application/sdp\n" if body else ""
    text = _REPLY.format(status=status, user=user, body_headers=headers, body=body)
    if status.startswith("1") or not status.startswith(("2", "4", "5", "6")):
        return f"  <send><![CDATA[\n{text}]]></send>\n"
    return _send(text) if status.startswith("200") and body else f"  <send><![CDATA[\n{text}]]></send>\n"


def callee_scenario(user: str, answer: Media | None, *, final: str = "", hold_ms: int = 2000) -> str:
    """A UAS (registered before by register_scenario on the same port): waits for the INVITE, rings; then answers
    with `answer`'s SDP (and waits for ACK and the BYE) or sends `final` (e.g. "486 Busy Here"), or with neither
    rings until CANCEL (answering 200 and 487)."""
    sdes = answer is not None and answer.security == "sdes"
    grab = ('<ereg regexp="a=crypto:([0-9]+) AES_CM_128_HMAC_SHA1_80" search_in="body" check_it="true" '
            'assign_to="c,tag"/>') if sdes else ""  # fmt: skip
    # the INVITE's two Via lines (the edge's and the caller's) for the 487; sipp's patterns know no \\r
    via = "Via: [-A-Za-z0-9./:;=_ ]*"
    vias = (f'<ereg regexp="({via}[^V]*{via})" search_in="msg" check_it="true" '
            'assign_to="w,vias"/>') if answer is None and not final else ""  # fmt: skip
    action = f"<action>{grab}{vias}</action>" if grab or vias else ""
    steps = [f'  <recv request="INVITE">{action}</recv>\n', _reply(user, "180 Ringing")]
    if answer is not None:
        steps += [_reply(user, "200 OK", answer.sdp("[$tag]" if sdes else "1")), '  <recv request="ACK"/>\n',
                  f'  <recv request="BYE" timeout="{hold_ms + 15000}"/>\n', _reply(user, "200 OK")]  # fmt: skip
    elif final:
        steps += [_reply(user, final), '  <recv request="ACK"/>\n']
    else:
        steps += ['  <recv request="CANCEL"><action><ereg regexp="([0-9]+) CANCEL" search_in="hdr" header="CSeq:" '
                  'check_it="true" assign_to="s,cseq"/></action></recv>\n', _reply(user, "200 OK"),
                  _reply_invite_487(user), '  <recv request="ACK"/>\n', '  <Reference variables="s,w"/>\n']  # fmt: skip
    if sdes:
        steps.append('  <Reference variables="c"/>\n')
    return HEADER.format(name="callee") + "".join(steps) + "</scenario>\n"


def _reply_invite_487(user: str) -> str:
    # the 487 answers the INVITE: its CSeq says INVITE, not the CANCEL's method
    return _send(
        "SIP/2.0 487 Request Terminated\n[$vias]\n[last_From:]\n[last_To:];tag=callee[call_number]\n"
        "Call-ID: [call_id]\nCSeq: [$cseq] INVITE\nContent-Length: 0\n\n"
    )


_INVITE = """INVITE sip:{dialled}@voice.example.com SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
Max-Forwards: 70
From: "Phone says" <sip:{from_user}@voice.example.com>;tag=[pid]caller[call_number]
To: <sip:{dialled}@voice.example.com>
Call-ID: [call_id]
CSeq: {cseq} INVITE
Contact: <sip:{from_user}@[local_ip]:[local_port];transport=[transport]>
P-Asserted-Identity: <sip:+10000000000@voice.example.com>
{auth}Content-Type: application/sdp
Content-Length: [len]

{sdp}"""

_ACK = """ACK sip:{dialled}@voice.example.com SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
Max-Forwards: 70
From: "Phone says" <sip:{from_user}@voice.example.com>;tag=[pid]caller[call_number]
[last_To:]
Call-ID: [call_id]
CSeq: {cseq} ACK
Content-Length: 0

"""

_IN_DIALOG = """{method} [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
[routes]
Max-Forwards: 70
From: "Phone says" <sip:{from_user}@voice.example.com>;tag=[pid]caller[call_number]
[last_To:]
Call-ID: [call_id]
CSeq: {cseq} {method}
Content-Length: 0

"""

_CANCEL = """CANCEL sip:{dialled}@voice.example.com SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
Max-Forwards: 70
From: "Phone says" <sip:{from_user}@voice.example.com>;tag=[pid]caller[call_number]
To: <sip:{dialled}@voice.example.com>
Call-ID: [call_id]
CSeq: 2 CANCEL
Content-Length: 0

"""


def _recv(code: int, *, txn: str = "call", optional: bool = False, attrs: str = "", phrase: str = "") -> str:
    flags = f' response_txn="{txn}"' if txn else ""
    flags += ' optional="true"' if optional else ""
    flags += f" {attrs}" if attrs else ""
    if not phrase:
        return f'  <recv response="{code}"{flags}/>\n'
    check = f'<ereg regexp="^SIP/2.0 {code} {phrase}\\r" search_in="msg" check_it="true" assign_to="dummy"/>'
    return f'  <recv response="{code}"{flags}><action>{check}</action></recv>\n  <Reference variables="dummy"/>\n'


def caller_scenario(
    user: str, password: str, dialled: str, offer: Media, *, expect: int = 200, from_user: str | None = None,
    hold_ms: int = 2000, cancel_after_ms: int = 0, phrase: str | None = None,
) -> str:  # fmt: skip
    """INVITE → 407 → INVITE with the digest → (ringing) → `expect`. Answered: ACK, hold, BYE, 200. With
    `cancel_after_ms`: CANCEL after ringing, then 487 and its ACK."""
    fields = {"dialled": dialled, "from_user": from_user or user}
    sdp = offer.sdp()
    auth = f"[authentication username={user} password={password}]\n"
    steps = [
        _tx(_INVITE.format(**fields, cseq=1, auth="", sdp=sdp), 'start_txn="first"'),
        _recv(100, txn="first", optional=True),
        _recv(407, txn="first", attrs='auth="true"'),
        _tx(_ACK.format(**fields, cseq=1), 'ack_txn="first"'),
        _tx(_INVITE.format(**fields, cseq=2, auth=auth, sdp=sdp), 'start_txn="call"'),
        _recv(100, optional=True),
    ]
    if cancel_after_ms:
        # the CANCEL carries the INVITE's branch (four messages back)
        steps += [_recv(180), f'  <pause milliseconds="{cancel_after_ms}"/>\n',
                  _send(_CANCEL.format(**fields).replace("[branch]", "[branch-4]")), _recv(200), _recv(487),
                  _tx(_ACK.format(**fields, cseq=2), 'ack_txn="call"')]  # fmt: skip
    elif expect == 200:
        steps += [_recv(180, optional=True), _recv(183, optional=True), _recv(200, attrs='rrs="true"'),
                  _tx(_IN_DIALOG.format(**fields, cseq=2, method="ACK"), 'ack_txn="call"'),
                  f'  <pause milliseconds="{hold_ms}"/>\n',
                  _send(_IN_DIALOG.format(**fields, cseq=3, method="BYE")), _recv(200, txn="")]  # fmt: skip
    else:
        steps += [_recv(180, optional=True), _recv(183, optional=True), _recv(expect, phrase=phrase or ""),
                  _tx(_ACK.format(**fields, cseq=2), 'ack_txn="call"')]  # fmt: skip
    return HEADER.format(name="caller") + "".join(steps) + "</scenario>\n"


class Peer:
    """A sipp process in the background (the callee), read when it is done."""

    def __init__(self, workdir: Path, host: str, port: int, scenario: str, name: str, local_port: int,
                 transport: str = "u1") -> None:  # fmt: skip
        self.base = workdir / name
        self.base.with_suffix(".xml").write_text(scenario, encoding="utf-8")
        self.local_port = local_port
        command = [
            "sipp", f"{host}:{port}", "-sf", str(self.base.with_suffix(".xml")), "-m", "1", "-t", transport,
            "-i", "127.0.0.1", "-p", str(self.local_port), "-nostdin", "-timeout", "40s", "-timeout_error",
            "-trace_msg", "-message_file", str(self.base.with_suffix(".msg")),
            "-trace_err", "-error_file", str(self.base.with_suffix(".err")),
        ]  # fmt: skip
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def messages(self) -> str:
        path = self.base.with_suffix(".msg")
        return path.read_text(errors="replace") if path.exists() else ""

    def wait(self, timeout: float = 45) -> SippResult:
        try:
            out, _ = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, _ = self.process.communicate()
        err = self.base.with_suffix(".err")
        errors = err.read_text(errors="replace") if err.exists() else ""
        return SippResult(self.process.returncode, self.messages(), errors, out.decode(errors="replace"))


class RtpCounter:
    """Counts the RTP (or SRTP: the same header) packets arriving on a media port, on a thread; a context manager
    that binds the port on entry and stops on exit (`count` is final then)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.count = 0
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", port))
        self._sock.settimeout(0.1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                packet = self._sock.recv(2048)
            except TimeoutError:
                continue
            if len(packet) >= 12 and packet[0] >> 6 == 2:  # RTP version 2
                self.count += 1

    def send(self, packet: bytes, to: tuple[str, int]) -> None:
        """Sends from the counted port (rtpengine expects a party's media from the port it announced)."""
        self._sock.sendto(packet, to)

    def __enter__(self) -> RtpCounter:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
        self._sock.close()
