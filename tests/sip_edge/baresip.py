"""Debian's baresip (baresip-core) as a softphone for the tests, with SRTP mandatory: a config directory per phone
(the README's local-stack section shows the same files), a 440 Hz tone as its microphone, ALSA's null device as
its speaker, auto-answer; the call statistics it prints are what the tests read."""

from __future__ import annotations

import re
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from devstack.sip_edge import free_port

CONFIG = """poll_method epoll
sip_listen 127.0.0.1:{port}
audio_player alsa,null
audio_alert alsa,null
audio_source ausine,440
ausrc_srate 48000
ausrc_channels 2
module_path /usr/lib/baresip/modules
module g711.so
module ausine.so
module alsa.so
module srtp.so
module rtcpsummary.so
module_app account.so
module_app menu.so
"""
ACCOUNT = (
    '<sip:{user}@{domain}>;auth_pass={password};outbound="sip:{edge}";mediaenc=srtp-mand;regint=300;'
    "answermode=auto;audio_codecs=PCMU\n"
)
_SUMMARY = re.compile(r"EX=BareSip;.*?PR=(\d+);PS=(\d+);")
_RATES = re.compile(r"audio=(\d+)/(\d+) \(bit/s\)")


def _listen_port() -> int:
    """A port for baresip's UDP and TCP with the next one free for its TLS (baresip binds TLS on port + 1: a bare
    free port left TLS to clash with whatever held the next one, and the phone then quit at start)."""
    for _ in range(50):
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tls:
            try:
                tls.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
            return port
    raise RuntimeError("no port with a free successor for baresip's TLS")


def configure(directory: Path, user: str, password: str, edge: str, domain: str = "voice.example.com") -> Path:
    """A baresip config directory for one account registering through `edge` (host:port, UDP)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config").write_text(CONFIG.format(port=_listen_port()), encoding="utf-8")
    account = ACCOUNT.format(user=user, domain=domain, password=password, edge=edge)
    (directory / "accounts").write_text(account, encoding="utf-8")
    (directory / "contacts").write_text("", encoding="utf-8")
    return directory


@dataclass
class Phone:
    directory: Path
    process: subprocess.Popen[bytes]

    @classmethod
    def start(cls, directory: Path, seconds: int, dial: str = "") -> Phone:
        """baresip for `seconds` (then it hangs up and quits); dials `dial` once registered when given."""
        command = ["baresip", "-f", str(directory), "-t", str(seconds)]
        if dial:
            command += ["-e", f"/dial {dial}"]
        with (directory / "out.log").open("wb") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        return cls(directory, process)

    def output(self) -> str:
        path = self.directory / "out.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def wait(self, timeout: float) -> str:
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        return self.output()

    def registered(self) -> bool:
        return "200 OK () [1 binding]" in self.output()

    def summary(self) -> tuple[int, int] | None:
        """(RTP packets received, sent) of the last call, from rtcpsummary (printed when the other side hung up)."""
        found = _SUMMARY.findall(self.output())
        return (int(found[-1][0]), int(found[-1][1])) if found else None

    def received_bit_rate(self) -> int:
        """The audio bit rate the phone received last (its status line: audio=<sent>/<received>)."""
        rates = _RATES.findall(self.output())
        return int(rates[-1][1]) if rates else 0
