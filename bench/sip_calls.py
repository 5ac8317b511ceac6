"""Call throughput of the SIP edge and how many SDES calls rtpengine carries, in one run.

    python -m bench.sip_calls [--rates 10,20,...] [--seconds S] [--concurrent 50,100,...] [--media-seconds S]

1. Call rate: sipp places calls (INVITE, 407, INVITE with the digest, 180/200, ACK, a short pause, BYE, 200, with
   an SDES offer) at rising rates to a sipp UAS registered with the edge, through the full edge (accounts in
   moto's DynamoDB through the sidecar, cached as in production; media through rtpengine, re-keyed on each leg;
   call events to SQS), and through the same Kamailio and routing with a static credential table and no media
   relay (SIP_MEDIA_RELAY=none); a rate is held when fewer than 0.1% of the calls fail.
2. Concurrent SDES calls: N calls are set up through the full edge and held; then every call sends SRTP both
   ways (20 ms PCMU packets, each side encrypting with its own key: rtpengine decrypts and re-encrypts with the
   other leg's key) for S seconds; N is held when fewer than 1% of the packets are lost. rtpengine's CPU time
   over the media window, per call, is printed beside it.

Not a test: run it by hand (make bench); `--smoke` runs one small step of each.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import re
import selectors
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import boto3

from bench import arguments, sip_register
from bench.setup import bench_world
from bench.srtp import SrtpSender
from chalicelib.domain.digest import sip_credentials
from chalicelib.services import accounts
from chalicelib.settings import Settings
from devstack.moto_server import MotoServer
from devstack.sip_edge import SipEdge, free_port, start_edge

PASSWORD = "bench-secret-1"
DOMAIN = "voice.example.com"
FIGURE = r"^highest call rate with < 0\.1% failed calls: full edge \d+/s"
BASELINE = r"static contact, no lookups or media relay \d+/s, ratio"
SUITE = "AES_CM_128_HMAC_SHA1_80"
PACKET_MS = 20
WARMUP_SECONDS = 1.0  # media before the counted window
SETUP_GRACE_SECONDS = 20.0  # how much longer than planned the concurrent calls may take to be set up

_INVITE = """INVITE sip:[field2]@{domain} SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
Max-Forwards: 70
From: <sip:[field0]@{domain}>;tag=[call_number]
To: <sip:[field2]@{domain}>
Call-ID: [call_id]
CSeq: {cseq} INVITE
Contact: <sip:[field0]@[local_ip]:[local_port]>
{auth}Content-Type: application/sdp
Content-Length: [len]

v=0
o=- 1 1 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio [field3] RTP/SAVP 0
a=rtpmap:0 PCMU/8000
a=ptime:20
a=crypto:1 {suite} inline:{key}
"""
_ACK = """ACK {uri} SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
{routes}Max-Forwards: 70
From: <sip:[field0]@{domain}>;tag=[call_number]
{to}
Call-ID: [call_id]
CSeq: {cseq} ACK
Content-Length: 0

"""
_BYE = """BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
[routes]
Max-Forwards: 70
From: <sip:[field0]@{domain}>;tag=[call_number]
[last_To:]
Call-ID: [call_id]
CSeq: 4 BYE
Content-Length: 0

"""


def _send(message: str, retrans: bool = True) -> str:
    return f'  <send{" retrans=\"500\"" if retrans else ""}><![CDATA[\n{message}]]></send>\n'


def caller_scenario(key: str, hold_ms: int) -> str:
    """The UAC: fields per call from the CSV: caller, its digest, callee, the caller's media port."""
    invite = {"domain": DOMAIN, "suite": SUITE, "key": key}
    steps = [
        _send(_INVITE.format(**invite, cseq=1, auth="")).replace("<send", '<send start_txn="first"', 1),
        '  <recv response="100" optional="true" response_txn="first"/>\n',
        '  <recv response="407" auth="true" response_txn="first"/>\n',
        _send(
            _ACK.format(uri="sip:[field2]@" + DOMAIN, routes="", domain=DOMAIN, to="[last_To:]", cseq=1), retrans=False
        ).replace("<send", '<send ack_txn="first"', 1),  # fmt: skip
        _send(_INVITE.format(**invite, cseq=2, auth="[field1]\n")).replace("<send", '<send start_txn="call"', 1),
        '  <recv response="100" optional="true" response_txn="call"/>\n',
        '  <recv response="180" optional="true" response_txn="call"/>\n',
        '  <recv response="200" rrs="true" response_txn="call"/>\n',
        _send(
            _ACK.format(uri="[next_url]", routes="[routes]\n", domain=DOMAIN, to="[last_To:]", cseq=2), retrans=False
        ).replace("<send", '<send ack_txn="call"', 1),  # fmt: skip
        f'  <pause milliseconds="{hold_ms}"/>\n',
        _send(_BYE.format(domain=DOMAIN)),
        '  <recv response="200"/>\n',
    ]
    return '<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="caller">\n' + "".join(steps) + "</scenario>\n"


def callee_scenario(user: str, key: str) -> str:
    """The UAS: answers every call with an SDES answer (the crypto tag of the edge's offer) on its CSV's port."""
    reply = """SIP/2.0 {status}
[last_Via:]
[last_From:]
[last_To:];tag=[pid]callee[call_number]
[last_Call-ID:]
[last_CSeq:]
[last_Record-Route:]
Contact: <sip:{user}@[local_ip]:[local_port]>
{body}"""
    sdp = (f"Content-Type: application/sdp\nContent-Length: [len]\n\nv=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\n"
           f"c=IN IP4 127.0.0.1\nt=0 0\nm=audio [field0] RTP/SAVP 0\na=rtpmap:0 PCMU/8000\na=ptime:20\n"
           f"a=crypto:[$tag] {SUITE} inline:{key}\n")  # fmt: skip
    empty = "Content-Length: 0\n\n"
    grab = (f'<action><ereg regexp="a=crypto:([0-9]+) {SUITE}" search_in="body" check_it="false" '
            'assign_to="c,tag"/></action>')  # fmt: skip
    steps = [
        f'  <recv request="INVITE">{grab}</recv>\n',
        _send(reply.format(status="180 Ringing", user=user, body=empty), retrans=False),
        _send(reply.format(status="200 OK", user=user, body=sdp)),
        '  <recv request="ACK"/>\n',
        '  <recv request="BYE"/>\n',
        _send(reply.format(status="200 OK", user=user, body=empty), retrans=False),
        '  <Reference variables="c"/>\n',
    ]
    return '<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="callee">\n' + "".join(steps) + "</scenario>\n"


def _stat(name: str, output: str) -> int:
    match = re.search(rf"{name}\s+\|\s+\d+\s+\|\s+(\d+)", output)
    return int(match.group(1)) if match else 0


def _sipp(edge: SipEdge, scenario: Path, *options: str, port: int = 0, trace: Path | None = None) -> list[str]:
    command = ["sipp", f"{edge.host}:{edge.udp_port}", "-sf", str(scenario), "-t", "u1", "-i", "127.0.0.1",
               "-p", str(port or free_port()), "-nostdin", "-max_socket", "5000", *options]  # fmt: skip
    if trace is not None:
        command += ["-trace_msg", "-message_file", str(trace)]
    return command


@dataclass
class Callee:
    """A sipp UAS registered with the edge, answering every call sent to it, until stopped."""

    process: subprocess.Popen[str]
    trace: Path

    @classmethod
    def start(cls, edge: SipEdge, workdir: Path, user: str, ports: list[int], trace: bool) -> Callee:
        workdir.mkdir(parents=True, exist_ok=True)
        port = free_port()
        register = workdir / "register.xml"
        register.write_text(sip_register.SCENARIO, encoding="utf-8")  # the REGISTER benchmark's own scenario
        user_file = workdir / "register-user.csv"
        user_file.write_text(
            f"SEQUENTIAL\n{user};[authentication username={user} password={PASSWORD}]\n", encoding="utf-8"
        )
        done = subprocess.run(_sipp(edge, register, "-inf", str(user_file), "-m", "1", port=port),
                              capture_output=True, text=True, timeout=30, check=False)  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"the callee did not register: {done.stdout[-2000:]}")
        media = workdir / "callee-media.csv"
        media.write_text("SEQUENTIAL\n" + "".join(f"{p}\n" for p in ports), encoding="utf-8")
        scenario = workdir / "callee.xml"
        scenario.write_text(callee_scenario(user, _key()), encoding="utf-8")
        log = workdir / "callee.msg"
        command = _sipp(edge, scenario, "-inf", str(media), "-max_recv_loops", "100000", "-l", "100000", port=port,
                        trace=log if trace else None)  # fmt: skip
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
        time.sleep(0.5)
        return cls(process, log)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _key() -> str:
    return base64.b64encode(os.urandom(30)).decode()


def place_calls(edge: SipEdge, workdir: Path, callers: list[str], callee: str, rate: int, count: int,
                hold_ms: int, ports: list[int], trace: Path | None = None) -> subprocess.Popen[str]:  # fmt: skip
    """sipp placing `count` calls at `rate`/s, each held `hold_ms` (the caller's media port per call: `ports`)."""
    rows = [f"{user};[authentication username={user} password={PASSWORD}];{callee};{ports[n % len(ports)]}"
            for n, user in enumerate(callers * (count // len(callers) + 1))][:count]  # fmt: skip
    users = workdir / "callers.csv"
    users.write_text("SEQUENTIAL\n" + "\n".join(rows) + "\n", encoding="utf-8")
    scenario = workdir / "caller.xml"
    scenario.write_text(caller_scenario(CALLER_KEY_B64, hold_ms), encoding="utf-8")
    command = _sipp(edge, scenario, "-inf", str(users), "-r", str(rate), "-m", str(count), "-l", str(count),
                    "-timeout", f"{count // max(rate, 1) + hold_ms // 1000 + 30}s", "-recv_timeout", "8000",
                    trace=trace)  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def run_rate(edge: SipEdge, workdir: Path, callers: list[str], callee: str, rate: int, seconds: int,
             hold_ms: int) -> tuple[int, int]:  # fmt: skip
    count = rate * seconds
    sipp = place_calls(edge, workdir, callers, callee, rate, count, hold_ms, [40000])
    out, _ = sipp.communicate(timeout=seconds + hold_ms / 1000 + 90)
    ok, failed = _stat("Successful call", out), _stat("Failed call", out)
    return ok, count - ok if ok + failed < count else failed


def highest_rate(edge: SipEdge, workdir: Path, callers: list[str], rates: list[int], seconds: int, hold_ms: int,
                 label: str) -> int:  # fmt: skip
    callee = Callee.start(edge, workdir, CALLEE, [40002], trace=False)
    best = 0
    try:
        for rate in rates:
            ok, failed = run_rate(edge, workdir, callers, CALLEE, rate, seconds, hold_ms)
            share = failed / max(ok + failed, 1)
            print(f"  {label:<7} {rate:>5} calls/s: {ok} ok, {failed} failed ({share:.2%})", flush=True)
            if share >= 0.001:
                break
            best = rate
    finally:
        callee.stop()
    return best


CALLER_KEY = os.urandom(30)
CALLER_KEY_B64 = base64.b64encode(CALLER_KEY).decode()


@dataclass
class Stream:
    """One direction of one call: our socket, where rtpengine expects it, the packets it sends, what it received."""

    sock: socket.socket
    to: tuple[str, int] = ("", 0)
    packets: tuple[bytes, ...] = ()
    received: int = 0
    sent: int = 0  # of the counted window, handed to the kernel (a full send buffer drops a packet here)


def media_sockets(count: int) -> list[socket.socket]:
    socks = []
    for _ in range(count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        socks.append(sock)
    return socks


_MESSAGE = re.compile(r"^(?:UDP|TCP) message (sent|received)", re.MULTILINE)


def _messages(trace: Path) -> list[tuple[str, str]]:
    """(direction, text) of each SIP message in a sipp -trace_msg file."""
    text = trace.read_text(errors="replace") if trace.exists() else ""
    parts = _MESSAGE.split(text)
    return [(parts[i], parts[i + 1]) for i in range(1, len(parts) - 1, 2)]


def _first_line(message: str) -> str:
    return message.strip().split("\n", 1)[0] if message.strip() else ""


def media_map(caller_trace: Path, callee_trace: Path) -> dict[str, dict[str, int]]:
    """Per Call-ID: the caller's and callee's own media ports and the rtpengine ports each must send to (read
    from the SDP of the INVITE and the 200 each sipp sent and received)."""
    roles = {("caller", "sent", "INVITE"): "caller", ("caller", "received", "200"): "caller_to",
             ("callee", "received", "INVITE"): "callee_to", ("callee", "sent", "200"): "callee"}  # fmt: skip
    calls: dict[str, dict[str, int]] = {}
    for trace, side in ((caller_trace, "caller"), (callee_trace, "callee")):
        for direction, message in _messages(trace):
            port = re.search(r"^m=audio (\d+) ", message, re.MULTILINE)
            call_id = re.search(r"^Call-ID:\s*(\S+)", message, re.MULTILINE | re.IGNORECASE)
            first = _first_line(message.split("\n", 2)[-1] if message.startswith(" ") else message)
            kind = "INVITE" if first.startswith("INVITE ") else "200" if first.startswith("SIP/2.0 200") else ""
            role = roles.get((side, direction, kind))
            if port and call_id and role:
                calls.setdefault(call_id.group(1), {})[role] = int(port.group(1))
    return {cid: ports for cid, ports in calls.items() if len(ports) == 4}


def rtpengine_cpu_seconds(edge: SipEdge) -> float:
    pid = int((edge.run_dir / "rtpengine.pid").read_text().strip())
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _count_arrivals(streams: list[Stream], stop: threading.Event, first_counted: int) -> None:
    """Counts, per socket, the RTP packets with a sequence number from `first_counted` on (SRTP leaves the RTP
    header in the clear; rtpengine keeps the sequence numbers when it re-keys)."""
    selector = selectors.DefaultSelector()
    for stream in streams:
        selector.register(stream.sock, selectors.EVENT_READ, stream)
    while not stop.is_set():
        for key, _ in selector.select(0.05):
            stream = key.data
            with contextlib.suppress(BlockingIOError):
                while True:
                    packet = stream.sock.recv(2048)
                    if len(packet) >= 12 and int.from_bytes(packet[2:4], "big") >= first_counted:
                        stream.received += 1


def send_media(streams: list[Stream], seconds: float, warmup: float) -> None:
    """Every stream sends one packet per 20 ms for `warmup` + `seconds`; what is sent and what arrives of the last
    `seconds` is counted (the warm-up lets rtpengine see both sides first)."""
    stop = threading.Event()
    first = int(warmup * 1000 / PACKET_MS)
    receiver = threading.Thread(target=_count_arrivals, args=(streams, stop, first), daemon=True)
    receiver.start()
    started = time.monotonic()
    ticks = first + int(seconds * 1000 / PACKET_MS)
    for tick in range(ticks):
        for stream in streams:
            with contextlib.suppress(BlockingIOError):
                stream.sock.sendto(stream.packets[tick], stream.to)
                stream.sent += tick >= first
        delay = started + (tick + 1) * PACKET_MS / 1000 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    time.sleep(0.5)  # the last packets through rtpengine
    stop.set()
    receiver.join()
    time.sleep(1.0)
    for stream in streams:  # what arrives later belongs to no window
        with contextlib.suppress(BlockingIOError):
            while True:
                stream.sock.recv(2048)


@dataclass(frozen=True)
class Step:
    held: int  # calls set up with media both ways
    loss: float  # through rtpengine
    cpu: float  # rtpengine's CPU seconds per call per second
    direct_loss: float  # the same packets socket to socket, no relay: the generator's own limit
    unsent: float  # the share the generator could not hand to the kernel (full send buffers)


def _loss(streams: list[Stream]) -> float:
    sent = sum(s.sent for s in streams)
    return 1 - sum(s.received for s in streams) / sent if sent else 1.0


def concurrent_step(edge: SipEdge, workdir: Path, callers: list[str], calls: int, media_seconds: float,
                    setup_rate: int) -> Step:  # fmt: skip
    """`calls` SDES calls held while each sends media both ways through rtpengine; then the same packets
    straight from one side's socket to the other's (what this generator loses by itself on this machine)."""
    workdir.mkdir(parents=True, exist_ok=True)
    caller_socks, callee_socks = media_sockets(calls), media_sockets(calls)
    callee = Callee.start(edge, workdir, CALLEE, [s.getsockname()[1] for s in callee_socks], trace=True)
    setup = calls / setup_rate + 3
    hold_ms = int((setup + SETUP_GRACE_SECONDS + 2 * (media_seconds + WARMUP_SECONDS) + 5) * 1000)
    trace = workdir / "caller.msg"
    sipp = place_calls(edge, workdir, callers, CALLEE, setup_rate, calls, hold_ms,
                       [s.getsockname()[1] for s in caller_socks], trace)  # fmt: skip
    try:
        time.sleep(setup)
        deadline = time.monotonic() + SETUP_GRACE_SECONDS  # a loaded machine sets calls up more slowly
        while len(mapping := media_map(trace, callee.trace)) < calls and time.monotonic() < deadline:
            time.sleep(1)
        by_port = {s.getsockname()[1]: s for s in caller_socks + callee_socks}
        senders = {"caller": SrtpSender.of(CALLER_KEY), "callee": _callee_sender(workdir)}
        ticks = int((media_seconds + WARMUP_SECONDS) * 1000 / PACKET_MS)
        relayed: list[Stream] = []
        direct: list[Stream] = []
        for n, ports in enumerate(mapping.values()):
            if ports["caller"] not in by_port or ports["callee"] not in by_port:
                continue
            pair = [by_port[ports["caller"]], by_port[ports["callee"]]]
            for index, side in enumerate(("caller", "callee")):
                packets = tuple(senders[side].packet(0x10000 + n * 2 + index, seq, seq * 160) for seq in range(ticks))
                relayed.append(Stream(pair[index], ("127.0.0.1", ports[f"{side}_to"]), packets))
                direct.append(Stream(pair[index], pair[1 - index].getsockname(), packets))
        before = rtpengine_cpu_seconds(edge)
        send_media(relayed, media_seconds, WARMUP_SECONDS)
        cpu = rtpengine_cpu_seconds(edge) - before
        send_media(direct, media_seconds, WARMUP_SECONDS)
        held = len(relayed) // 2
        return Step(
            held,
            _loss(relayed),
            cpu / max(held, 1) / (media_seconds + WARMUP_SECONDS),
            _loss(direct),
            1 - sum(s.sent for s in relayed) / max(len(relayed) * media_seconds * 1000 / PACKET_MS, 1),
        )
    finally:
        sipp.terminate()
        sipp.wait(30)
        callee.stop()
        for sock in caller_socks + callee_socks:
            sock.close()


def _callee_sender(workdir: Path) -> SrtpSender:
    """The callee's key: the one its scenario put in its answers."""
    key = re.search(r"inline:([A-Za-z0-9+/=]+)", (workdir / "callee.xml").read_text())
    assert key is not None
    return SrtpSender.of(base64.b64decode(key.group(1)))


CALLEE = "b900000"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--callers", type=int, default=20)
    parser.add_argument("--rates", default="10,20,40,60,80,120,160,200,250,300,400")
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--hold-ms", type=int, default=500, help="the pause between ACK and BYE")
    parser.add_argument("--concurrent", default="50,100,200,300,400,600")
    parser.add_argument("--media-seconds", type=float, default=8.0)
    parser.add_argument("--setup-rate", type=int, default=40, help="calls/s while the concurrent calls are set up")
    args = arguments(parser, {"callers": 3, "rates": "5", "seconds": 2, "concurrent": "5", "media_seconds": 2.0})
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    moto = MotoServer().start()
    workdir = Path(tempfile.mkdtemp(prefix="sip-calls-bench-"))
    prefix = f"c{uuid.uuid4().hex[:8]}"
    settings = Settings(storage="dynamodb", dynamodb_endpoint=moto.url, table_prefix=prefix, sqs_endpoint=moto.url)
    ctx, admin, group = bench_world(settings)
    names = [f"b{100000 + i}" for i in range(args.callers)] + [CALLEE]
    static = []
    for i, name in enumerate(names):
        data = {"group_id": group.id, "username": name, "password": PASSWORD, "phone_number": f"+39348{1000000 + i}"}
        account = accounts.create_account(ctx, admin, data).account
        digest = sip_credentials(name, DOMAIN, PASSWORD)
        static.append({"id": account.id, "username": name, "group_id": group.id, "realm": digest.realm,
                       "ha1": digest.ha1, "phone_number": account.phone_number})  # fmt: skip
    table = workdir / "static.json"
    table.write_text(json.dumps({"accounts": static}), encoding="utf-8")
    callers = names[:-1]
    sqs = boto3.client("sqs", region_name="eu-west-1", endpoint_url=moto.url)
    common = {"TABLE_PREFIX": prefix, "DYNAMODB_ENDPOINT_URL": moto.url, "SQS_ENDPOINT_URL": moto.url,
              "AWS_REGION": "eu-west-1", "SIP_DEFAULT_TRANSPORTS": "udp,tcp,tls", "SIP_PIKE_DENSITY": "1000000",
              "SIP_RECHECK_SECONDS": "3600", "SIP_LOG_LEVEL": "1", "SIP_FLOOD_LIMIT": "100000000",
              "SIP_ACCOUNT_CACHE_SECONDS": "30", "SIP_RTPENGINE_LOG_LEVEL": "3"}  # fmt: skip
    rates = [int(r) for r in args.rates.split(",")]
    print(f"SIP call benchmark: {args.callers} callers, {args.seconds} s per rate, {args.hold_ms} ms between ACK and "
          f"BYE, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")  # fmt: skip
    results = {}
    variants: tuple[tuple[str, dict[str, str]], ...] = (
        ("static", {"SIP_DIRECTORY": f"static:{table}", "SIP_MEDIA_RELAY": "none"}),
        ("full", {}),
    )
    edges: dict[str, SipEdge] = {}
    for label, extra in variants:
        queue = sqs.create_queue(QueueName=f"{prefix}-calls-{label}")["QueueUrl"]
        edge = start_edge({**common, **extra, "SIP_EVENTS_QUEUE_URL": queue}, workdir / label)
        edges[label] = edge
        try:
            results[label] = highest_rate(edge, workdir / label, callers, rates, args.seconds, args.hold_ms, label)
        finally:
            if label != "full":
                edge.stop()
    full, baseline = results["full"], results["static"]
    print(f"highest call rate with < 0.1% failed calls: full edge {full}/s (SDES re-keyed through rtpengine), ", end="")
    print(f"static contact, no lookups or media relay {baseline}/s, ratio {full / baseline if baseline else 0:.0%}")
    edge = edges["full"]
    best, best_cpu, limit = 0, 0.0, ""
    try:
        for calls in (int(c) for c in args.concurrent.split(",")):
            step = concurrent_step(edge, workdir / f"concurrent-{calls}", callers, calls, args.media_seconds,
                                   args.setup_rate)  # fmt: skip
            print(f"  {calls:>5} concurrent SDES calls: {step.held} with media both ways, packet loss "
                  f"{step.loss:.2%} through rtpengine ({step.direct_loss:.2%} socket to socket, no relay; "
                  f"{step.unsent:.2%} not sent: full send buffers), "
                  f"rtpengine CPU {step.cpu * 1000:.2f} ms per call per second", flush=True)  # fmt: skip
            if step.held < calls or step.loss >= 0.01:
                if step.direct_loss >= 0.01:
                    limit = (
                        f" (at {calls} the generator itself loses {step.direct_loss:.1%}: its limit, not rtpengine's)"
                    )
                break
            best, best_cpu = calls, step.cpu
    finally:
        edge.stop()
    print(f"concurrent SDES calls rtpengine holds with < 1% packet loss: {best} "
          f"(20 ms packets both ways, re-keyed), CPU {best_cpu * 100:.2f}% of a core per call{limit}")  # fmt: skip
    moto.stop()


if __name__ == "__main__":
    main()
