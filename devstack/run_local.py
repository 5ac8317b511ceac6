"""`make run`: moto's server, the tables, the bootstrap admin, then the app (console, API, event handlers).

Everything lives in moto's memory: stopping the stack forgets all data.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from chalicelib import bootstrap
from chalicelib.adapters.dynamo_models import create_tables
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
    ENV_SMS_QUEUE_URL,
    ENV_SQS_ENDPOINT,
    ENV_STORAGE,
    ENV_TABLE_PREFIX,
    Settings,
)
from devstack.events import QueueBridge, S3DropBridge, StreamBridge, create_import_resources, create_queue
from devstack.licence_upstream import ENV_PRIVATE_KEY, new_keypair
from devstack.sip_edge import FLEET_PORT_STEP, start_fleet

MOTO_PORT = int(os.environ.get("MOTO_PORT", "5000"))
API_PORT = int(os.environ.get("API_PORT", "8000"))
LICENCE_PORT = int(os.environ.get("LICENCE_PORT", "5050"))
SIP_PORT = int(os.environ.get("SIP_PORT", "5060"))  # UDP and TCP; TLS on SIP_TLS_PORT
SIP_TLS_PORT = int(os.environ.get("SIP_TLS_PORT", "5061"))
SIP_EDGES = int(os.environ.get("SIP_EDGES", "1"))  # 2: a second edge on the ports + 10, its own edge id
HOST = "127.0.0.1"


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
    return env


def main() -> None:
    env = local_environment()
    os.environ.update(env)
    moto = subprocess.Popen([sys.executable, "-m", "devstack.moto_server", "--port", str(MOTO_PORT)], env=env)
    private_key, public_key = new_keypair()  # the simulated vendor signs, the app checks
    simulator_env = {**env, ENV_PRIVATE_KEY: private_key}
    simulator = subprocess.Popen(
        [sys.executable, "-m", "devstack.licence_upstream", "--port", str(LICENCE_PORT)], env=simulator_env
    )
    env[ENV_LICENCE_PUBLIC_KEY] = os.environ[ENV_LICENCE_PUBLIC_KEY] = public_key

    def stop(*_: object) -> None:
        moto.terminate()
        simulator.terminate()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    _wait_for(f"http://{HOST}:{MOTO_PORT}/moto-api/")
    queue_url = create_queue(env[ENV_DYNAMODB_ENDPOINT], env["AWS_REGION"], env["SMS_QUEUE_NAME"])
    os.environ[ENV_SMS_QUEUE_URL] = env[ENV_SMS_QUEUE_URL] = queue_url
    import_queue_url = create_import_resources(
        env[ENV_S3_ENDPOINT], env["AWS_REGION"], env[ENV_IMPORTS_BUCKET], env["IMPORT_QUEUE_NAME"]
    )
    os.environ[ENV_IMPORT_QUEUE_URL] = env[ENV_IMPORT_QUEUE_URL] = import_queue_url
    sip_events_url = create_queue(env[ENV_DYNAMODB_ENDPOINT], env["AWS_REGION"], env["SIP_EVENTS_QUEUE_NAME"])
    os.environ["SIP_EVENTS_QUEUE_URL"] = env["SIP_EVENTS_QUEUE_URL"] = sip_events_url  # where the SIP edge sends
    settings = Settings.from_env(env)
    create_tables(settings)
    _, generated = ensure_admin(bootstrap.context(), env.get("ADMIN_PASSWORD") or None)

    # The app as `chalice local` serves it (Chalice's own local server), in this process so that the event
    # bridge can hand stream records to the same handler objects that Lambda would call.
    from chalice.config import Config
    from chalice.local import LocalDevServer

    import app

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
    server = LocalDevServer(app.app, Config.create(chalice_stage="local"), HOST, API_PORT)
    threading.Thread(target=server.server.serve_forever, name="api", daemon=True).start()
    endpoint = settings.dynamodb_endpoint or ""
    bridge = StreamBridge(endpoint, settings.region, settings.table_name("accounts"), app.index_accounts).start()
    queue_bridge = QueueBridge(endpoint, settings.region, queue_url, app.send_sms).start()
    sip_bridge = QueueBridge(endpoint, settings.region, sip_events_url, app.record_sip_events, batch=10).start()
    import_bridge = QueueBridge(endpoint, settings.region, import_queue_url, app.run_import_chunk).start()
    drop_bridge = S3DropBridge(endpoint, settings.region, settings.imports_bucket, app.import_object_created).start()
    _wait_for(f"http://{HOST}:{API_PORT}/api/v1/openapi.json")
    password = generated or "(from ADMIN_PASSWORD)"
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
        + "\n  Data lives in moto's memory and is lost when you stop the stack (Ctrl-C).\n",
        flush=True,
    )
    try:
        while moto.poll() is None:
            time.sleep(0.5)
    finally:
        bridge.stop()
        queue_bridge.stop()
        sip_bridge.stop()
        for edge in edges:
            edge.stop()
        import_bridge.stop()
        drop_bridge.stop()
        stop()


if __name__ == "__main__":
    main()
