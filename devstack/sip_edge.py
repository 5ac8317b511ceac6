"""Starts the SIP edge (sip-edge/start.sh, the same script the container runs) for the local stack and the tests.

`start_edge(env)` returns the running edge once it answers SIP OPTIONS on its UDP port; `stop()` ends it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
START_SCRIPT = ROOT / "sip-edge" / "start.sh"


class EdgeStartError(RuntimeError):
    """The edge did not come up; the message holds the end of its log."""


@dataclass
class SipEdge:
    process: subprocess.Popen[bytes]
    host: str
    udp_port: int
    tcp_port: int
    tls_port: int
    run_dir: Path
    log_path: Path
    env: dict[str, str] = field(default_factory=dict, repr=False)  # what start.sh was given on top of os.environ
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def ctl_socket(self) -> Path:
        return self.run_dir / "kamailio.ctl"

    def _signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signum)

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout: float = 10.0) -> None:
        """TERM to the edge's process group (start.sh, Kamailio and the sidecar: it runs in its own session)."""
        if self.process.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.process.wait(timeout)
        self._signal(signal.SIGTERM)  # anything of the group still there (start.sh gone first)
        if self._log is not None:
            self._log.close()
            self._log = None


def free_port(kind: int = socket.SOCK_DGRAM, host: str = "127.0.0.1") -> int:
    """A port free for both UDP and TCP (the edge listens on both with the same number)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, kind) as first:
            first.bind((host, 0))
            port = int(first.getsockname()[1])
            other = socket.SOCK_STREAM if kind == socket.SOCK_DGRAM else socket.SOCK_DGRAM
            with socket.socket(socket.AF_INET, other) as second:
                try:
                    second.bind((host, port))
                except OSError:
                    continue
                return port
    raise OSError("no free port")


def _options(host: str, port: int) -> bytes:
    branch = uuid.uuid4().hex
    return (
        f"OPTIONS sip:{host}:{port} SIP/2.0\r\nVia: SIP/2.0/UDP {host}:9;rport;branch=z9hG4bK{branch}\r\n"
        f"Max-Forwards: 70\r\nFrom: <sip:probe@{host}>;tag={branch[:8]}\r\nTo: <sip:{host}>\r\n"
        f"Call-ID: {branch}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def wait_ready(host: str, port: int, process: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.settimeout(0.3)
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return False
            probe.sendto(_options(host, port), (host, port))
            try:
                data = probe.recv(4096)
            except OSError:
                continue
            if data.startswith(b"SIP/2.0 200"):
                return True
    return False


def start_edge(
    env: Mapping[str, str], run_dir: Path, timeout: float = 20.0, cpus: AbstractSet[int] | None = None
) -> SipEdge:
    """Runs start.sh with `env` on top of this process's environment; ports are chosen when not given. `cpus`
    confines the edge (Kamailio, its sidecar, rtpengine) to those processors, as a task is to its own host's: the
    benchmark's one-task-per-host case."""
    host = env.get("SIP_LISTEN_ADDRESS", "127.0.0.1")
    full = {**os.environ, "SIP_LISTEN_ADDRESS": host, **env}
    udp = int(full.get("SIP_UDP_PORT") or free_port())
    tls = int(full.get("SIP_TLS_PORT") or free_port(socket.SOCK_STREAM))
    full.update(SIP_UDP_PORT=str(udp), SIP_TCP_PORT=str(full.get("SIP_TCP_PORT") or udp), SIP_TLS_PORT=str(tls))
    # rtpengine's control ports too (two edges on one machine would share start.sh's defaults; start.sh runs
    # rtpengine without Debian's /etc/rtpengine/rtpengine.conf, whose fixed ports would clash too)
    for name in ("SIP_RTPENGINE_NG_PORT", "SIP_RTPENGINE_CLI_PORT"):
        full[name] = str(full.get(name) or free_port(socket.SOCK_STREAM))
    full.setdefault("SIP_DMQ_PORT", str(free_port()))  # the fleet's internal bus
    full["SIP_RUN_DIR"] = str(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    log_path = run_dir / "kamailio.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        ["/bin/bash", str(START_SCRIPT)],
        env=full,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=None if cpus is None else lambda: os.sched_setaffinity(0, cpus),
    )
    chosen = ("SIP_UDP_PORT", "SIP_TCP_PORT", "SIP_TLS_PORT", "SIP_RUN_DIR", "SIP_RTPENGINE_NG_PORT",
              "SIP_RTPENGINE_CLI_PORT", "SIP_DMQ_PORT")  # fmt: skip
    given = {**env, **{k: full[k] for k in chosen}}
    edge = SipEdge(process, host, udp, int(full["SIP_TCP_PORT"]), tls, run_dir, log_path, given, log)
    if not wait_ready(host, udp, process, timeout):
        edge.stop()
        raise EdgeStartError(f"the SIP edge did not start; log:\n{edge.log_text()[-4000:]}")
    return edge


def dmq_address(edge: SipEdge) -> str:
    """The edge's internal DMQ bus, as another edge names it in SIP_DMQ_PEERS."""
    return f"sip:{edge.host}:{edge.env['SIP_DMQ_PORT']}"


FLEET_PORT_STEP = 10  # edge n (from 0) listens on SIP_PORT + 10 n (UDP/TCP) and SIP_TLS_PORT + 10 n (TLS)


def fleet_member_env(env: Mapping[str, str], index: int, edge_id: str) -> dict[str, str]:
    """The settings of edge `index` of a local fleet: the same tables, queue and nonce secret as the others, its
    own ports (+10 per edge when ports are given, free ones otherwise) and its own SIP_EDGE_ID; `env` names the
    first edge's DMQ bus in SIP_DMQ_PEERS for the others."""
    member = {**env, "SIP_EDGE_ID": edge_id if index == 0 else f"{edge_id}-{index + 1}"}
    if index == 0:
        member.pop("SIP_DMQ_PEERS", None)
    for name in ("SIP_UDP_PORT", "SIP_TCP_PORT", "SIP_TLS_PORT"):
        if env.get(name):
            member[name] = str(int(env[name]) + FLEET_PORT_STEP * index)
    return member


def start_fleet(
    env: Mapping[str, str],
    run_dir: Path,
    count: int,
    timeout: float = 20.0,
    cpus: Sequence[AbstractSet[int]] | None = None,
) -> list[SipEdge]:
    """`count` edges (SIP_EDGES) against the same tables and queues, as the NLB's tasks are in AWS; edge n on
    `cpus[n]` when given (see start_edge)."""
    shared = {**env, "SIP_AUTH_SECRET": env.get("SIP_AUTH_SECRET") or uuid.uuid4().hex}  # nonces valid on any edge
    edge_id = shared.get("SIP_EDGE_ID") or "edge"
    edges: list[SipEdge] = []
    try:
        for index in range(max(count, 1)):
            member = fleet_member_env(shared, index, edge_id)
            edges.append(start_edge(member, run_dir / f"edge-{index + 1}", timeout, cpus[index] if cpus else None))
            shared.setdefault("SIP_DMQ_PEERS", dmq_address(edges[0]))
    except EdgeStartError:
        for edge in edges:
            edge.stop()
        raise
    return edges
