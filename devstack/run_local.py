"""`make run`: moto's server, the tables, the bootstrap admin, then the app (console, API, event handlers).

The data lives in LOCAL_DATA_DIR (`.localdata/`; `make reset` wipes it): moto's state (moto_state.py), the
tantivy index and the stream bridge's position, so a restart finds everything (docs/decisions.md).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Protocol

from chalicelib import bootstrap
from chalicelib.adapters.dynamo_models import create_tables
from chalicelib.adapters.search_tantivy import schema_matches
from chalicelib.services.operators import BOOTSTRAP_ADMIN, ensure_admin
from chalicelib.settings import (
    ENV_DYNAMODB_ENDPOINT,
    ENV_IMPORT_QUEUE_URL,
    ENV_IMPORTS_BUCKET,
    ENV_LICENCE_PUBLIC_KEY,
    ENV_LICENCE_TOKEN,
    ENV_LICENCE_URL,
    ENV_PUBLIC_BASE_URL,
    ENV_S3_ENDPOINT,
    ENV_SEARCH_INDEX_PATH,
    ENV_SMS_CALLBACK_KEY,
    ENV_SMS_QUEUE_URL,
    ENV_SQS_ENDPOINT,
    ENV_STORAGE,
    ENV_TABLE_PREFIX,
    Settings,
)
from devstack.events import (
    QueueBridge,
    S3DropBridge,
    StreamBridge,
    StreamPositions,
    create_import_resources,
    create_queue,
)
from devstack.licence_upstream import ENV_PRIVATE_KEY, new_keypair
from devstack.sip_edge import FLEET_PORT_STEP, start_fleet

MOTO_PORT = int(os.environ.get("MOTO_PORT", "5000"))
API_PORT = int(os.environ.get("API_PORT", "8000"))
LICENCE_PORT = int(os.environ.get("LICENCE_PORT", "5050"))
SIP_PORT = int(os.environ.get("SIP_PORT", "5060"))  # UDP and TCP; TLS on SIP_TLS_PORT
SIP_TLS_PORT = int(os.environ.get("SIP_TLS_PORT", "5061"))
SIP_EDGES = int(os.environ.get("SIP_EDGES", "1"))  # 2: a second edge on the ports + 10, its own edge id
# the SIP events consumer: several pollers, as Lambda runs several batches at once, and a visibility timeout a
# loaded batch of ten stays within (one poller with 2 s fell twice as far behind an unregistration burst;
# bench/registrations_lag.py, docs/sip-events.md)
SIP_EVENTS_CONSUMERS = 4
SIP_EVENTS_VISIBILITY_SECONDS = 10
HOST = "127.0.0.1"
DATA_DIR = Path(os.environ.get("LOCAL_DATA_DIR", ".localdata")).resolve()
SNAPSHOT_SECONDS = 1.0  # at most this much (plus a snapshot being written) is lost when the stack is killed


class Stoppable(Protocol):
    def stop(self) -> None: ...


def _wait_for(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not come up within {seconds} s")


def local_environment() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("AWS_ACCESS_KEY_ID", "testing")
    env.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    env.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
    env.setdefault("AWS_REGION", env["AWS_DEFAULT_REGION"])
    env.setdefault(ENV_STORAGE, "dynamodb")
    env.setdefault(ENV_DYNAMODB_ENDPOINT, f"http://{HOST}:{MOTO_PORT}")
    env.setdefault(ENV_TABLE_PREFIX, "local")
    env.setdefault(ENV_SQS_ENDPOINT, env[ENV_DYNAMODB_ENDPOINT])
    env.setdefault("SMS_QUEUE_NAME", "local-sms")
    env.setdefault("SIP_EVENTS_QUEUE_NAME", "local-sip-events")
    env.setdefault("IMPORT_QUEUE_NAME", "local-imports")
    env.setdefault(ENV_IMPORTS_BUCKET, "local-imports")
    env.setdefault(ENV_S3_ENDPOINT, env[ENV_DYNAMODB_ENDPOINT])
    env.setdefault(ENV_PUBLIC_BASE_URL, f"http://{HOST}:{API_PORT}")
    env.setdefault(ENV_LICENCE_URL, f"http://{HOST}:{LICENCE_PORT}")
    env.setdefault(ENV_LICENCE_TOKEN, "local-server-credentials")
    env.setdefault(ENV_SMS_CALLBACK_KEY, "local-sms-callback-key")
    env.setdefault(ENV_SEARCH_INDEX_PATH, str(DATA_DIR / "search"))
    return env


def _index_in_step(env: dict[str, str], settings: Settings) -> StreamPositions:
    """The stream position of the search index, or a fresh start (an empty index fed from the stream's first
    record) when the index is gone or is ahead of the restored table (a kill -9 lost the table's last moments)."""
    index, positions = Path(env[ENV_SEARCH_INDEX_PATH]), StreamPositions(DATA_DIR / "search-stream.json")
    endpoint, table = settings.dynamodb_endpoint or "", settings.table_name("accounts")
    current = index.exists() and schema_matches(str(index))  # an index of an older schema is rebuilt from the stream
    if current and positions.path.exists() and positions.matches(endpoint, settings.region, table):
        return positions
    shutil.rmtree(index, ignore_errors=True)
    index.mkdir(parents=True)
    positions.path.unlink(missing_ok=True)
    return StreamPositions(positions.path)


def _vendor_keypair() -> tuple[str, str]:
    """The simulated vendor's signing pair, kept with the data so cached licences stay verifiable."""
    path = DATA_DIR / "licence-vendor-key.json"
    if path.exists():
        saved = json.loads(path.read_text())
        return str(saved["private"]), str(saved["public"])
    private_key, public_key = new_keypair()
    path.touch(mode=0o600)
    path.write_text(json.dumps({"private": private_key, "public": public_key}))
    return private_key, public_key


def main() -> None:
    env = local_environment()
    os.environ.update(env)
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    moto_command = [sys.executable, "-m", "devstack.moto_server", "--port", str(MOTO_PORT), "--state-dir",
                    str(DATA_DIR / "moto"), "--snapshot-seconds", str(SNAPSHOT_SECONDS), "--ignore-sigint"]  # fmt: skip
    moto = subprocess.Popen(moto_command, env=env)
    private_key, public_key = _vendor_keypair()  # the simulated vendor signs, the app checks
    simulator_env = {**env, ENV_PRIVATE_KEY: private_key}
    simulator = subprocess.Popen(
        [sys.executable, "-m", "devstack.licence_upstream", "--port", str(LICENCE_PORT)], env=simulator_env
    )
    env[ENV_LICENCE_PUBLIC_KEY] = os.environ[ENV_LICENCE_PUBLIC_KEY] = public_key
    running: list[Stoppable] = []

    def stop(*_: object) -> None:
        raise SystemExit(0)  # in the main thread, wherever it is: the finally below stops everything in order

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        _serve(env, running)
        while moto.poll() is None:
            time.sleep(0.5)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the orderly stop short
        stopping = [threading.Thread(target=part.stop) for part in running]  # side by side: each waits for a poll
        for thread in stopping:
            thread.start()
        for thread in stopping:  # consumers first (their positions are written), then moto's last snapshot
            thread.join()
        moto.terminate()
        simulator.terminate()
        moto.wait(timeout=60)


def _serve(env: dict[str, str], running: list[Stoppable]) -> None:
    _wait_for(f"http://{HOST}:{MOTO_PORT}/moto-api/", 120)  # (loading a large snapshot takes a while)
    queue_url = create_queue(env[ENV_DYNAMODB_ENDPOINT], env["AWS_REGION"], env["SMS_QUEUE_NAME"])
    os.environ[ENV_SMS_QUEUE_URL] = env[ENV_SMS_QUEUE_URL] = queue_url
    import_queue_url = create_import_resources(
        env[ENV_S3_ENDPOINT], env["AWS_REGION"], env[ENV_IMPORTS_BUCKET], env["IMPORT_QUEUE_NAME"]
    )
    os.environ[ENV_IMPORT_QUEUE_URL] = env[ENV_IMPORT_QUEUE_URL] = import_queue_url
    sip_events_url = create_queue(env[ENV_DYNAMODB_ENDPOINT], env["AWS_REGION"], env["SIP_EVENTS_QUEUE_NAME"],
                                  visibility_seconds=SIP_EVENTS_VISIBILITY_SECONDS)  # fmt: skip
    os.environ["SIP_EVENTS_QUEUE_URL"] = env["SIP_EVENTS_QUEUE_URL"] = sip_events_url  # where the SIP edge sends
    settings = Settings.from_env(env)
    create_tables(settings)
    positions = _index_in_step(env, settings)  # before anything opens the index
    _, generated = ensure_admin(bootstrap.context(), env.get("ADMIN_PASSWORD") or None)

    # The app as `chalice local` serves it (Chalice's own local server), in this process so that the event
    # bridge can hand stream records to the same handler objects that Lambda would call.
    from chalice.config import Config
    from chalice.local import LocalDevServer

    import app
    from devstack.gateway import ProblemRequestHandler

    edges = start_fleet(
        {
            "SIP_LISTEN_ADDRESS": HOST, "SIP_UDP_PORT": str(SIP_PORT), "SIP_TCP_PORT": str(SIP_PORT),
            "SIP_TLS_PORT": str(SIP_TLS_PORT), "SIP_DEFAULT_TRANSPORTS": "udp,tcp,tls", "SIP_EDGE_ID": "local-edge",
            "TABLE_PREFIX": settings.table_prefix, "AWS_REGION": settings.region,
            "DYNAMODB_ENDPOINT_URL": settings.dynamodb_endpoint or "", "SQS_ENDPOINT_URL": env[ENV_SQS_ENDPOINT],
            "SIP_EVENTS_QUEUE_URL": sip_events_url,
        },
        Path(tempfile.mkdtemp(prefix="sip-edge-")),
        SIP_EDGES,
    )  # fmt: skip
    running.extend(edges)
    server = LocalDevServer(
        app.app, Config.create(chalice_stage="local"), HOST, API_PORT, handler_cls=ProblemRequestHandler
    )
    threading.Thread(target=server.server.serve_forever, name="api", daemon=True).start()
    endpoint = settings.dynamodb_endpoint or ""
    accounts_table = settings.table_name("accounts")
    running.extend([
        StreamBridge(endpoint, settings.region, accounts_table, app.index_accounts, positions=positions).start(),
        QueueBridge(endpoint, settings.region, queue_url, app.send_sms).start(),
        QueueBridge(endpoint, settings.region, sip_events_url, app.record_sip_events, batch=10,
                    concurrency=SIP_EVENTS_CONSUMERS).start(),
        QueueBridge(endpoint, settings.region, import_queue_url, app.run_import_chunk).start(),
        S3DropBridge(endpoint, settings.region, settings.imports_bucket, app.import_object_created).start(),
    ])  # fmt: skip
    _wait_for(f"http://{HOST}:{API_PORT}/api/v1/openapi.json")
    password = generated or ("(from ADMIN_PASSWORD)" if env.get("ADMIN_PASSWORD") else "(as printed when generated)")
    print(
        "\n"
        f"  Console:  http://{HOST}:{API_PORT}/console\n"
        f"  API:      http://{HOST}:{API_PORT}/api/v1   (OpenAPI: /api/v1/openapi.json)\n"
        f"  Login:    {BOOTSTRAP_ADMIN} / {password}"
        + ("   <- generated now, shown only once" if generated else "")
        + "\n  Search: embedded tantivy index fed from the accounts table's stream by the local event bridge."
        + "\n  SMS: the outbox provider prints every text (with its link) here and lists it in the console."
        + f"\n  Licences: a simulated vendor licence server on http://{HOST}:{LICENCE_PORT} signs them."
        + f"\n  Batch files: console upload, or drop a CSV into s3://{settings.imports_bucket}/imports/<group>/"
        + f" (aws --endpoint-url {endpoint} s3 cp staff.csv s3://{settings.imports_bucket}/imports/Sales/)."
        + f"\n  SIP edge: {HOST}:{SIP_PORT} (UDP, TCP), TLS on {HOST}:{SIP_TLS_PORT} (self-signed certificate);"
        + " registrations appear under Registered accounts."
        + "".join(
            f"\n  SIP edge {n + 1} ({e.env['SIP_EDGE_ID']}): {HOST}:{SIP_PORT + FLEET_PORT_STEP * n} (UDP, TCP),"
            f" TLS on {HOST}:{SIP_TLS_PORT + FLEET_PORT_STEP * n}."
            for n, e in enumerate(edges)
            if n
        )
        + f"\n  Data: {DATA_DIR} (kept across restarts; `make reset` wipes it).\n",
        flush=True,
    )


if __name__ == "__main__":
    main()
