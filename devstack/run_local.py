"""`make run`: moto's server, the tables, the bootstrap admin, then `chalice local` with the API.

Everything lives in moto's memory: stopping the stack forgets all data.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from chalicelib import bootstrap
from chalicelib.adapters.dynamo_models import create_tables
from chalicelib.services.operators import BOOTSTRAP_ADMIN, ensure_admin
from chalicelib.settings import ENV_DYNAMODB_ENDPOINT, ENV_STORAGE, ENV_TABLE_PREFIX, Settings

MOTO_PORT = int(os.environ.get("MOTO_PORT", "5000"))
API_PORT = int(os.environ.get("API_PORT", "8000"))
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
    return env


def main() -> None:
    env = local_environment()
    os.environ.update(env)
    children: list[subprocess.Popen[bytes]] = []

    def stop(*_: object) -> None:
        for child in children:
            child.terminate()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    python = sys.executable
    children.append(subprocess.Popen([python, "-m", "devstack.moto_server", "--port", str(MOTO_PORT)], env=env))
    _wait_for(f"http://{HOST}:{MOTO_PORT}/moto-api/")
    settings = Settings.from_env(env)
    create_tables(settings)
    admin, generated = ensure_admin(bootstrap.build(settings), env.get("ADMIN_PASSWORD") or None)
    chalice = os.path.join(os.path.dirname(python), "chalice")
    children.append(
        subprocess.Popen([chalice, "local", "--host", HOST, "--port", str(API_PORT), "--stage", "local"], env=env)
    )
    _wait_for(f"http://{HOST}:{API_PORT}/api/v1/openapi.json")
    password = generated or "(from ADMIN_PASSWORD)"
    print(
        "\n"
        f"  Console:  http://{HOST}:{API_PORT}/console\n"
        f"  API:      http://{HOST}:{API_PORT}/api/v1   (OpenAPI: /api/v1/openapi.json)\n"
        f"  Login:    {BOOTSTRAP_ADMIN} / {password}"
        + ("   <- generated now, shown only once" if generated else "")
        + "\n  Data lives in moto's memory and is lost when you stop the stack (Ctrl-C).\n",
        flush=True,
    )
    del admin
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
    finally:
        stop()


if __name__ == "__main__":
    main()
