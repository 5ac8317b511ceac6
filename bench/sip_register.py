"""REGISTER throughput of the SIP edge: the full edge (accounts in moto's DynamoDB, through the sidecar) against
the same Kamailio and routing with a static in-memory credential table, at rising rates, in one run; then the
memory one open TCP registration costs.

    python -m bench.sip_register [--accounts N] [--rates 50,100,...] [--seconds S] [--tcp-clients N]

Each step runs two sipp (REGISTER, 401, REGISTER with the digest, 200), each at half a fixed rate for S seconds
and with half the accounts; a rate is held when fewer than 0.1% of the registrations fail. With two processors or
more, each edge is confined to one of its own (a task on its own host: one edge on the first, a fleet's two on
the first two), and the fleet runs a second time with both edges sharing every core (two tasks on one host).
Not a test: run it by hand (make bench).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3

from bench import arguments
from bench.setup import bench_world
from chalicelib.domain.digest import sip_credentials
from chalicelib.services import accounts
from chalicelib.settings import Settings
from devstack.events import create_import_resources
from devstack.moto_server import MotoServer
from devstack.sip_edge import ROOT, SipEdge, free_port, start_edge, start_fleet

sys.path.insert(0, str(ROOT / "sip-edge"))  # the edge's own package (Kamailio loads it from there)
from sipedge.client import SidecarDirectory
from sipedge.config import EdgeConfig
from sipedge.directory import DynamoDirectory
from sipedge.events import EventSender
from sipedge.registry import RECHECK_BATCH
from sipedge.sidecar import Sidecar

PASSWORD = "bench-secret-1"
RATES = (25, 50, 100, 200, 400, 700, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 4500, 5000, 5500, 6000, 7000, 8000)
FIGURE = r"^highest rate with < 0\.1% failures .*full edge \d+/s"
BASELINE = r"static table \d+/s, ratio"
SCENARIO = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="register">
  <send retrans="500"><![CDATA[
REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
Max-Forwards: 70
From: <sip:[field0]@voice.example.com>;tag=[call_number]
To: <sip:[field0]@voice.example.com>
Call-ID: [call_id]
CSeq: 1 REGISTER
Contact: <sip:[field0]@[local_ip]:[local_port];transport=[transport]>
Expires: 3600
Content-Length: 0

]]></send>
  <recv response="401" auth="true"/>
  <send retrans="500"><![CDATA[
REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
Max-Forwards: 70
From: <sip:[field0]@voice.example.com>;tag=[call_number]
To: <sip:[field0]@voice.example.com>
Call-ID: [call_id]
CSeq: 2 REGISTER
Contact: <sip:[field0]@[local_ip]:[local_port];transport=[transport]>
Expires: 3600
[field1]
Content-Length: 0

]]></send>
  <recv response="200"/>
  {hold}
</scenario>
"""


def _stat(name: str, output: str) -> int:
    match = re.search(rf"{name}\s+\|\s+\d+\s+\|\s+(\d+)", output)
    return int(match.group(1)) if match else 0


def run_rate(edge: SipEdge, workdir: Path, users: Path, rate: float, seconds: int) -> tuple[int, int]:
    workdir.mkdir(parents=True, exist_ok=True)
    scenario = workdir / "register.xml"
    scenario.write_text(SCENARIO.replace("{hold}", ""), encoding="utf-8")
    calls = round(rate * seconds)
    command = ["sipp", f"{edge.host}:{edge.udp_port}", "-sf", str(scenario), "-inf", str(users), "-t", "u1",
               "-r", f"{rate:g}", "-m", str(calls), "-l", str(max(round(rate * 4), 1)), "-p", str(free_port()),
               "-nostdin", "-timeout", f"{seconds + 15}s", "-recv_timeout", "4000", "-max_socket", "5000"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=seconds + 60)
    ok, failed = _stat("Successful call", done.stdout), _stat("Failed call", done.stdout)
    return ok, calls - ok if ok + failed < calls else failed


def run_targets(targets: list[tuple[SipEdge, Path]], workdir: Path, rate: int, seconds: int) -> tuple[int, int]:
    """Every (edge, accounts) target gets its share of `rate` from its own sipp, all at once."""
    share = rate / len(targets)
    dirs = [workdir / f"sipp-{n}" for n in range(len(targets))]
    with ThreadPoolExecutor(len(targets)) as pool:
        runs = list(pool.map(run_rate, [edge for edge, _ in targets], dirs, [users for _, users in targets],
                             [share] * len(targets), [seconds] * len(targets)))  # fmt: skip
    return sum(ok for ok, _ in runs), sum(failed for _, failed in runs)


def highest_rate(targets: list[tuple[SipEdge, Path]], workdir: Path, rates: list[int], seconds: int,
                 label: str) -> int:  # fmt: skip
    best = 0
    for rate in rates:
        ok, failed = run_targets(targets, workdir, rate, seconds)
        share = failed / max(ok + failed, 1)
        print(f"  {label:<8} {rate:>5}/s: {ok} ok, {failed} failed ({share:.2%})", flush=True)
        if share >= 0.001:
            break
        best = rate
    return best


def split(users: Path, parts: int) -> list[Path]:
    """The accounts dealt out to `parts` sipp processes (every load below is driven by two, whatever the edges)."""
    header, *rows = users.read_text(encoding="utf-8").splitlines()
    files = [users.with_name(f"{users.stem}-{n + 1}.csv") for n in range(parts)]
    for n, part in enumerate(files):
        part.write_text("\n".join([header, *rows[n::parts]]) + "\n", encoding="utf-8")
    return files


def fleet_rate(env: dict[str, str], sqs: Any, prefix: str, workdir: Path, users: Path, rates: list[int],
               seconds: int, cpus: list[set[int]] | None, label: str) -> int:  # fmt: skip
    """The highest total rate two edges (a local SIP_EDGES=2 fleet) hold, each sent half of it at once, each by
    its own half of the accounts (a phone is connected to one task; the other learns its contact over DMQ)."""
    queue = sqs.create_queue(QueueName=f"{prefix}-sip-events-{label}")["QueueUrl"]
    edges = start_fleet({**env, "SIP_EVENTS_QUEUE_URL": queue}, workdir / label, 2, cpus=cpus)
    try:
        return highest_rate(list(zip(edges, split(users, 2), strict=True)), workdir / label, rates, seconds, label)
    finally:
        for edge in edges:
            edge.stop()
        sqs.delete_queue(QueueUrl=queue)


def recheck_cost(moto_url: str, prefix: str, account_id: str, phones: int, workdir: Path) -> tuple[float, float]:
    """Seconds to read `phones` registered accounts again as the registry's re-check does: batched (BatchGetItem,
    RECHECK_BATCH ids at a time, through a sidecar as in the edge), and one account after another (the account,
    its group and its profile: three GetItems, what the timer did before). The accounts are copies of one
    account (its group and profile), written straight into the table."""
    client = boto3.client("dynamodb", region_name="eu-west-1", endpoint_url=moto_url)
    table = f"{prefix}-accounts"
    item = client.get_item(TableName=table, Key={"id": {"S": account_id}})["Item"]
    ids = [f"recheck-{n}" for n in range(phones)]
    for start in range(0, phones, 25):
        puts: list[Any] = [{"PutRequest": {"Item": {**item, "id": {"S": i}}}} for i in ids[start : start + 25]]
        client.batch_write_item(RequestItems={table: puts})
    config = EdgeConfig(table_prefix=prefix, dynamodb_endpoint=moto_url, region="eu-west-1",
                        backend_timeout_seconds=5)  # fmt: skip
    path = str(workdir / "recheck-sidecar.sock")
    sidecar = Sidecar(DynamoDirectory(config), EventSender(None, None), path)
    threading.Thread(target=sidecar.serve, daemon=True).start()
    asker = SidecarDirectory(path, timeout=10)
    started = time.monotonic()
    for start in range(0, phones, RECHECK_BATCH):
        found = asker.by_ids(ids[start : start + RECHECK_BATCH])
        assert all(found.values()), "a copied account was not read back"
    batched = time.monotonic() - started
    sidecar.stop()
    references = [(f"{prefix}-{name}s", {"id": item[key]}) for name, key in
                  (("group", "group_id"), ("profile", "provisioning_profile_id")) if key in item]  # fmt: skip
    started = time.monotonic()
    for account in ids:
        client.get_item(TableName=table, Key={"id": {"S": account}})
        for reference_table, key in references:
            client.get_item(TableName=reference_table, Key=key)
    return batched, time.monotonic() - started


def kamailio_memory_kib(edge: SipEdge) -> int:
    """Proportional set size of every Kamailio process (shared memory counted once)."""
    pids = subprocess.run(["pgrep", "-f", f"kamailio -f .*{edge.run_dir}"], capture_output=True, text=True).stdout
    if not pids.strip():
        pids = subprocess.run(["pgrep", "-g", str(os.getpgid(edge.process.pid))], capture_output=True, text=True).stdout
    total = 0
    for pid in pids.split():
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        match = re.search(r"^Pss:\s+(\d+) kB", rollup, re.MULTILINE)
        total += int(match.group(1)) if match else 0
    return total


def tcp_memory(edge: SipEdge, workdir: Path, users: Path, clients: int, settle: float) -> tuple[int, int]:
    """Registers `clients` TCP clients (one connection each) and keeps them open; returns (registered, bytes each)."""
    before = kamailio_memory_kib(edge)
    scenario = workdir / "register-hold.xml"
    hold_ms = 60_000
    scenario.write_text(SCENARIO.replace("{hold}", f'<pause milliseconds="{hold_ms}"/>'), encoding="utf-8")
    command = ["sipp", f"{edge.host}:{edge.tcp_port}", "-sf", str(scenario), "-inf", str(users), "-t", "tn",
               "-r", "250", "-m", str(clients), "-l", str(clients), "-p", str(free_port()), "-nostdin",
               "-max_socket", str(clients + 100), "-timeout", "200s"]  # fmt: skip
    sipp = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    time.sleep(clients / 250 + settle)  # all have registered and are holding their connections
    after = kamailio_memory_kib(edge)
    connections = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()  # sl local_address rem_address st ...: the edge's side, established
        connections += fields[1].endswith(f":{edge.tcp_port:04X}") and fields[3] == "01"
    sipp.terminate()
    sipp.wait(30)
    held = max(connections, 1)
    return held, int((after - before) * 1024 / held)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=300)
    parser.add_argument("--rates", default=",".join(map(str, RATES)))
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--hot", type=int, default=100, help="accounts registering again and again (cache warm)")
    parser.add_argument("--tcp-clients", type=int, default=5000)
    parser.add_argument("--settle", type=float, default=15.0, help="seconds the TCP clients get to register")
    parser.add_argument("--recheck-phones", type=int, default=5000, help="registered phones the re-check reads")
    args = arguments(parser, {"accounts": 20, "hot": 10, "rates": "25", "seconds": 2, "tcp_clients": 20, "settle": 2.0,
                              "recheck_phones": 200})  # fmt: skip
    rates = [int(r) for r in args.rates.split(",")]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, args.tcp_clients * 2 + 1000)), hard))
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    moto = MotoServer().start()
    workdir = Path(tempfile.mkdtemp(prefix="sip-bench-"))
    prefix = f"b{uuid.uuid4().hex[:8]}"
    queue_url = create_import_resources(moto.url, "eu-west-1", prefix, f"{prefix}-imports")
    settings = Settings(storage="dynamodb", dynamodb_endpoint=moto.url, table_prefix=prefix, imports_bucket=prefix,
                        s3_endpoint=moto.url, sqs_endpoint=moto.url, import_queue_url=queue_url)  # fmt: skip
    ctx, admin, group = bench_world(settings)
    rows, static = [], []
    for i in range(args.accounts):
        data = {"group_id": group.id, "username": f"b{100000 + i}", "password": PASSWORD,
                "phone_number": f"+39347{1000000 + i}"}  # fmt: skip
        account = accounts.create_account(ctx, admin, data).account
        rows.append(f"{account.username};[authentication username={account.username} password={PASSWORD}]")
        digest = sip_credentials(account.username, "voice.example.com", PASSWORD)
        static.append({"id": account.id, "username": account.username, "group_id": group.id,
                       "realm": digest.realm, "ha1": digest.ha1})  # fmt: skip
    users = workdir / "users.csv"
    users.write_text("SEQUENTIAL\n" + "\n".join(rows) + "\n", encoding="utf-8")
    table = workdir / "static.json"
    table.write_text(json.dumps({"accounts": static}), encoding="utf-8")
    common = {"TABLE_PREFIX": settings.table_prefix, "DYNAMODB_ENDPOINT_URL": moto.url, "AWS_REGION": "eu-west-1",
              "SIP_DEFAULT_TRANSPORTS": "udp,tcp,tls", "SIP_PIKE_DENSITY": "1000000", "SIP_RECHECK_SECONDS": "3600",
              "SIP_LOG_LEVEL": "1", "SIP_FLOOD_LIMIT": "100000000"}  # fmt: skip
    sqs = boto3.client("sqs", region_name="eu-west-1", endpoint_url=moto.url)
    common["SQS_ENDPOINT_URL"] = moto.url
    print(f"SIP REGISTER benchmark: {args.accounts} accounts, {args.seconds} s per rate, {os.cpu_count()} cores")
    results = {}
    # a task per host: with two processors or more, every single edge runs on the first and the fleet's two on
    # the first two (sipp and moto, which AWS would not host with the edge, go where the kernel puts them)
    cores = sorted(os.sched_getaffinity(0))
    task_cpus = [{core} for core in cores[:2]] if len(cores) >= 2 else None
    # static and full register the same --hot accounts over and over, so the full edge answers from its cache
    # (what the 80 % goal compares: the edge's own cost); "cold" has no cache, every REGISTER reads moto
    hot = workdir / "hot-users.csv"
    hot.write_text("SEQUENTIAL\n" + "\n".join(rows[: args.hot]) + "\n", encoding="utf-8")
    variants = (
        ("static", {"SIP_DIRECTORY": f"static:{table}"}, hot),
        ("full", {"SIP_ACCOUNT_CACHE_SECONDS": "30"}, hot),
        ("cold", {"SIP_ACCOUNT_CACHE_SECONDS": "0"}, users),
    )
    for label, extra, who in variants:
        # a fresh events queue each time: moto's SQS slows down as a queue fills, and would slow the next run
        queue = sqs.create_queue(QueueName=f"{prefix}-sip-events-{label}")["QueueUrl"]
        edge = start_edge({**common, **extra, "SIP_EVENTS_QUEUE_URL": queue}, workdir / label,
                          cpus=task_cpus[0] if task_cpus else None)  # fmt: skip
        try:
            targets = [(edge, part) for part in split(who, 2)]
            results[label] = highest_rate(targets, workdir / label, rates, args.seconds, label)
        finally:
            edge.stop()
            sqs.delete_queue(QueueUrl=queue)
    full, baseline, cold = results["full"], results["static"], results["cold"]
    ratio = full / baseline if baseline else 0.0
    where = "each edge on a core of its own, as a task on its own host" if task_cpus else "one core, shared"
    print(f"highest rate with < 0.1% failures ({args.hot} accounts, two sipp, {where}): full edge {full}/s, ", end="")
    print(f"static table {baseline}/s, ratio {ratio:.0%}")
    print(f"full edge with no cache ({args.accounts} accounts, every REGISTER reads moto's DynamoDB): {cold}/s")
    cached = {**common, "SIP_ACCOUNT_CACHE_SECONDS": "30"}
    fleets = [("fleet", task_cpus, where)]
    if task_cpus:  # and the same two edges on every core together: two tasks on one host
        fleets.append(("shared", None, "both sharing every core, as two tasks on one host"))
    for label, cpus, how in fleets:
        fleet = fleet_rate(cached, sqs, prefix, workdir, hot, rates, args.seconds, cpus, label)
        print(f"two edges (SIP_EDGES=2, {how}; half the rate and half the accounts each, lockouts and location "
              f"shared over DMQ): {fleet}/s, static table {baseline}/s, "
              f"ratio {fleet / baseline if baseline else 0.0:.0%}")  # fmt: skip
    # one account per TCP client (one contact per account), in a static table: the same Kamailio either way
    many = [
        {
            "id": f"t{i}",
            "username": f"t{i}",
            "group_id": "g",
            "realm": "voice.example.com",
            "ha1": sip_credentials(f"t{i}", "voice.example.com", PASSWORD).ha1,
        }
        for i in range(args.tcp_clients)
    ]
    (workdir / "tcp.json").write_text(json.dumps({"accounts": many}), encoding="utf-8")
    tcp_users = workdir / "tcp-users.csv"
    tcp_users.write_text(
        "SEQUENTIAL\n"
        + "".join(f"{a['username']};[authentication username={a['username']} password={PASSWORD}]\n" for a in many)
    )
    edge = start_edge({**common, "SIP_DIRECTORY": f"static:{workdir / 'tcp.json'}",
                       "SIP_MAX_CONNECTIONS": str(args.tcp_clients * 2),
                       "SIP_MAX_CONNECTIONS_PER_SOURCE": str(args.tcp_clients * 2)}, workdir / "tcp")  # fmt: skip
    try:
        held, per = tcp_memory(edge, workdir, tcp_users, args.tcp_clients, args.settle)
    finally:
        edge.stop()
    print(f"open TCP registrations held: {held}; Kamailio memory per registration: {per / 1024:.1f} KiB")
    batched, one_by_one = recheck_cost(moto.url, prefix, static[0]["id"], args.recheck_phones, workdir)
    print(f"re-check of {args.recheck_phones} registered phones (SIP_RECHECK_SECONDS default 20, the registry spreads "
          f"a round over 10 s): batched through the sidecar {batched:.1f} s, one account after another "
          f"(a GetItem for it, its group and its profile) {one_by_one:.1f} s")  # fmt: skip
    moto.stop()


if __name__ == "__main__":
    main()
