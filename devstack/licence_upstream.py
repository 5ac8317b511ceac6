"""A small stand-in for the vendor's licence server (our upstream protocol, docs/licence-upstream.md).

Run by the local stack as its own process; tests run it in a thread and inject faults. It signs licences with
an Ed25519 key; the app trusts only the matching public key (LICENCE_UPSTREAM_PUBLIC_KEY).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from chalicelib.domain.licensing import canonical

ENV_PRIVATE_KEY = "LICENCE_SIMULATOR_PRIVATE_KEY"


def new_keypair() -> tuple[str, str]:
    """(private key, public key), raw bytes in base64."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(private).decode(), base64.b64encode(public).decode()


class LicenceSimulator:
    """`fault` makes it misbehave: "down" (connection closed), "slow", "error" (500), "garbage",
    "bad_signature", "wrong_nonce"; `status` is the licence status it hands out."""

    def __init__(self, private_key: str, token: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(private_key))
        self.token = token
        self.fault = ""
        self.status = "valid"
        self.slow_seconds = 5.0
        self.calls = 0
        simulator = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                simulator.calls += 1
                length = int(self.headers.get("Content-Length") or 0)
                request = json.loads(self.rfile.read(length) or b"{}")
                status, body = simulator.answer(request, self.headers.get("Authorization", ""))
                if status == 0:
                    self.close_connection = True
                    self.connection.close()
                    return
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.url = f"http://{host}:{self.server.server_port}"

    def answer(self, request: dict[str, Any], authorization: str) -> tuple[int, Any]:
        if self.fault == "down":
            return 0, b""
        if self.fault == "slow":
            time.sleep(self.slow_seconds)
        if self.fault == "error":
            return 500, {"error": "internal"}
        if self.fault == "garbage":
            return 200, b"<html>maintenance</html>"
        if authorization != f"Bearer {self.token}":
            return 401, {"error": "unknown server"}
        now = datetime.now(UTC).replace(microsecond=0)
        licence = {
            "account": request.get("account"),
            "status": self.status,
            "issued_at": now.isoformat(),
            "expires_at": (now + timedelta(days=30)).isoformat(),
            "features": ["secure-calls", "secure-sms"],
            "nonce": "replayed" if self.fault == "wrong_nonce" else request.get("nonce"),
        }
        signature = base64.b64encode(self.key.sign(canonical(licence).encode())).decode()
        if self.fault == "bad_signature":
            licence["status"] = "valid" if self.status != "valid" else "revoked"  # altered after signing
        return 200, {"licence": licence, "signature": signature}

    def start(self) -> LicenceSimulator:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=5050)
    args = parser.parse_args()
    simulator = LicenceSimulator(os.environ[ENV_PRIVATE_KEY], os.environ["LICENCE_UPSTREAM_TOKEN"], port=args.port)
    print(f"licence upstream simulator on {simulator.url}", flush=True)
    simulator.server.serve_forever()


if __name__ == "__main__":
    main()
