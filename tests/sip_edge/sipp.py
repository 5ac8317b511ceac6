"""sipp (Debian's sip-tester) driven from the tests: REGISTER scenarios written per case, TLS through stunnel4."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from devstack.sip_edge import free_port

_REGISTER = """REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
Max-Forwards: 70
From: <sip:{user}@{domain}>;tag=[pid]SIPpTag[call_number]
To: <sip:{user}@{domain}>
Call-ID: {call_id}
CSeq: {cseq} REGISTER
Contact: {contact}
Expires: {expires}
{auth}User-Agent: {user_agent}
Content-Length: 0

"""


def _send(message: str) -> str:
    return f'  <send retrans="500"><![CDATA[\n{message}]]></send>\n'


def register_scenario(
    user: str,
    password: str,
    *,
    domain: str = "voice.example.com",
    expires: int = 60,
    expect: int = 200,
    phrase: str | None = None,
    hold_ms: int = 0,
    user_agent: str = "sipp-test",
    wildcard: bool = False,
) -> str:
    """REGISTER, the 401 challenge, REGISTER with the digest, then the expected final answer (and its reason
    phrase, checked with a regular expression). `hold_ms` keeps the client (and its connection) alive after."""
    contact = "*" if wildcard else f"<sip:{user}@[local_ip]:[local_port];transport=[transport]>"
    fields = {"user": user, "domain": domain, "contact": contact, "expires": expires, "user_agent": user_agent,
              "call_id": "[call_id]"}  # fmt: skip
    steps = [_send(_REGISTER.format(**fields, cseq=1, auth=""))]
    steps.append('  <recv response="401" auth="true"/>\n')
    auth = f"[authentication username={user} password={password}]\n"
    steps.append(_send(_REGISTER.format(**fields, cseq=2, auth=auth)))
    if phrase is None:
        steps.append(f'  <recv response="{expect}"/>\n')
    else:
        steps.append(
            f'  <recv response="{expect}"><action><ereg regexp="^SIP/2.0 {expect} {phrase}\\r" search_in="msg" '
            f'check_it="true" assign_to="dummy"/></action></recv>\n'
        )
    if hold_ms:
        steps.append(f'  <pause milliseconds="{hold_ms}"/>\n')
    if phrase is not None:
        steps.append('  <Reference variables="dummy"/>\n')
    return f'<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="register">\n{"".join(steps)}</scenario>\n'


@dataclass
class SippResult:
    returncode: int
    messages: str
    errors: str
    output: str

    def count(self, start: str) -> int:
        """How many logged SIP messages start with this line prefix (e.g. "OPTIONS sip:")."""
        return sum(1 for line in self.messages.splitlines() if line.startswith(start))


class Sipp:
    def __init__(self, workdir: Path, host: str) -> None:
        self.workdir = workdir
        self.host = host
        self._n = 0

    def run(
        self,
        scenario: str,
        port: int,
        transport: str = "u1",
        *,
        answer_options: bool = False,
        timeout: float = 20,
        local_ip: str = "127.0.0.1",
        local_port: int | None = None,
        extra: tuple[str, ...] = (),
    ) -> SippResult:
        self._n += 1
        base = self.workdir / f"sipp{self._n}"
        (base.with_suffix(".xml")).write_text(scenario, encoding="utf-8")
        messages, errors = base.with_suffix(".msg"), base.with_suffix(".err")
        command = [
            "sipp", f"{self.host}:{port}", "-sf", str(base.with_suffix(".xml")), "-m", "1", "-t", transport,
            "-i", local_ip, "-p", str(local_port or free_port()), "-nostdin",
            "-timeout", f"{int(timeout)}s", "-timeout_error",
            "-trace_msg", "-message_file", str(messages), "-trace_err", "-error_file", str(errors),
            "-max_recv_loops", "1000", *extra,
        ]  # fmt: skip
        if answer_options:
            command.append("-aa")
        done = subprocess.run(command, capture_output=True, timeout=timeout + 10, check=False)
        read = lambda p: p.read_text(errors="replace") if p.exists() else ""  # noqa: E731
        return SippResult(done.returncode, read(messages), read(errors), done.stdout.decode(errors="replace"))


@contextmanager
def stunnel_client(workdir: Path, host: str, tls_port: int) -> Iterator[int]:
    """stunnel4 in client mode: plain TCP on the returned local port, TLS to the edge (sipp has no TLS)."""
    port = free_port()
    config = workdir / f"stunnel-{port}.conf"
    config.write_text(
        f"foreground = yes\npid =\noutput = {workdir}/stunnel-{port}.log\n"
        f"[sip]\nclient = yes\naccept = 127.0.0.1:{port}\nconnect = {host}:{tls_port}\nverifyChain = no\n",
        encoding="utf-8",
    )
    process = subprocess.Popen(["stunnel4", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        import socket

        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(10)
