"""A hand-made SIP client for the attack tests: REGISTER (or a call's INVITE) with and without a digest over a UDP
or TCP socket the test owns, so every byte of the edge's answers can be compared (sipp checks answers, it does
not return them)."""

from __future__ import annotations

import hashlib
import re
import socket
import uuid
from dataclasses import dataclass, field

DOMAIN = "voice.example.com"


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def challenge_params(response: str) -> dict[str, str]:
    header = re.search(r"^(?:WWW|Proxy)-Authenticate: Digest (.*)$", response, re.MULTILINE | re.IGNORECASE)
    if header is None:
        raise AssertionError(f"no challenge in {response!r}")
    return {k: v.strip('"') for k, v in re.findall(r'(\w+)=("[^"]*"|[^,\s]+)', header.group(1))}


def digest_header(
    user: str, password: str, challenge: dict[str, str], uri: str, method: str = "REGISTER",
    header: str = "Authorization",
) -> str:  # fmt: skip
    ha1 = _md5(f"{user}:{challenge['realm']}:{password}")
    ha2 = _md5(f"{method}:{uri}")
    cnonce, nc = uuid.uuid4().hex[:16], "00000001"
    response = _md5(f"{ha1}:{challenge['nonce']}:{nc}:{cnonce}:auth:{ha2}")
    return (
        f'{header}: Digest username="{user}", realm="{challenge["realm"]}", nonce="{challenge["nonce"]}", '
        f'uri="{uri}", response="{response}", algorithm=MD5, qop=auth, nc={nc}, cnonce="{cnonce}"\r\n'
    )


@dataclass
class SipClient:
    """One socket (UDP, or a TCP connection), one local address: the same Via for every request it sends."""

    host: str
    port: int
    transport: str = "udp"
    local_ip: str = "127.0.0.1"
    timeout: float = 3.0
    sock: socket.socket = field(init=False)
    _cseq: int = 0

    def __post_init__(self) -> None:
        kind = socket.SOCK_DGRAM if self.transport == "udp" else socket.SOCK_STREAM
        self.sock = socket.socket(socket.AF_INET, kind)
        self.sock.bind((self.local_ip, 0))
        self.sock.settimeout(self.timeout)
        if self.transport != "udp":
            self.sock.connect((self.host, self.port))

    @property
    def local_port(self) -> int:
        return int(self.sock.getsockname()[1])

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        if self.transport == "udp":
            self.sock.sendto(data, (self.host, self.port))
        else:
            self.sock.sendall(data)

    def receive(self) -> str:
        """One SIP message (TCP: up to the end of its headers; the edge's answers have no body)."""
        if self.transport == "udp":
            return self.sock.recv(65535).decode(errors="replace")
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.sock.recv(65535)
            if not chunk:
                raise ConnectionError("the edge closed the connection")
            data += chunk
        return data.decode(errors="replace")

    def register(self, user: str, auth: str = "", expires: int = 60, call_id: str = "") -> str:
        self._cseq += 1
        uri = f"sip:{self.host}:{self.port}"
        via = (
            f"SIP/2.0/{self.transport.upper()} {self.local_ip}:{self.local_port};rport;branch=z9hG4bK{uuid.uuid4().hex}"
        )
        message = (
            f"REGISTER {uri} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\n"
            f"From: <sip:{user}@{DOMAIN}>;tag={uuid.uuid4().hex[:10]}\r\nTo: <sip:{user}@{DOMAIN}>\r\n"
            f"Call-ID: {call_id or uuid.uuid4().hex}\r\nCSeq: {self._cseq} REGISTER\r\n"
            f"Contact: <sip:{user}@{self.local_ip}:{self.local_port};transport={self.transport}>\r\n"
            f"Expires: {expires}\r\n{auth}Content-Length: 0\r\n\r\n"
        )
        self.send(message.encode())
        return self.receive()

    def login(self, user: str, password: str, expires: int = 60) -> tuple[str, str]:
        """REGISTER, the challenge, REGISTER with the digest: (the challenge, the final answer)."""
        call_id = uuid.uuid4().hex
        challenge = self.register(user, call_id=call_id, expires=expires)
        params = challenge_params(challenge)
        auth = digest_header(user, password, params, f"sip:{self.host}:{self.port}")
        return challenge, self.register(user, auth, expires=expires, call_id=call_id)

    def invite(self, user: str, callee: str, auth: str = "", call_id: str = "", cseq: int = 1) -> str:
        """An INVITE from `user` to `callee` with an SDES offer; its final answer, which is then ACKed."""
        uri = f"sip:{callee}@{DOMAIN}"
        branch = f"z9hG4bK{uuid.uuid4().hex}"
        via = f"SIP/2.0/{self.transport.upper()} {self.local_ip}:{self.local_port};rport;branch={branch}"
        tag, call_id = uuid.uuid4().hex[:10], call_id or uuid.uuid4().hex

        def head(method: str, to: str) -> str:
            return (f"{method} {uri} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\n"
                    f"From: <sip:{user}@{DOMAIN}>;tag={tag}\r\nTo: {to}\r\nCall-ID: {call_id}\r\n"
                    f"CSeq: {cseq} {method}\r\n")  # fmt: skip

        sdp = (f"v=0\r\no=- 1 1 IN IP4 {self.local_ip}\r\ns=-\r\nc=IN IP4 {self.local_ip}\r\nt=0 0\r\n"
               "m=audio 40000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 "
               "inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVzcyBzZXQ=\r\n")  # fmt: skip
        contact = f"Contact: <sip:{user}@{self.local_ip}:{self.local_port};transport={self.transport}>\r\n"
        self.send((f"{head('INVITE', f'<{uri}>')}{contact}{auth}Content-Type: application/sdp\r\n"
                   f"Content-Length: {len(sdp)}\r\n\r\n{sdp}").encode())  # fmt: skip
        answer = self.receive()
        while status_line(answer).split(" ")[1].startswith("1"):
            answer = self.receive()
        to = re.search(r"^To: (.*?)\r?$", answer, re.MULTILINE)
        self.send(f"{head('ACK', to.group(1) if to else f'<{uri}>')}Content-Length: 0\r\n\r\n".encode())
        return answer

    def call(self, user: str, password: str, callee: str) -> tuple[str, str]:
        """INVITE, the 407 challenge, INVITE with the digest: (the challenge, the final answer)."""
        call_id = uuid.uuid4().hex
        challenge = self.invite(user, callee, call_id=call_id)
        params = challenge_params(challenge)
        auth = digest_header(user, password, params, f"sip:{callee}@{DOMAIN}", "INVITE", "Proxy-Authorization")
        return challenge, self.invite(user, callee, auth, call_id=call_id, cseq=2)


def status_line(response: str) -> str:
    return response.split("\r\n", 1)[0]
