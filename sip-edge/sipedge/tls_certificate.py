"""The edge's TLS certificate from a Secrets Manager secret (`SIP_TLS_CERTIFICATE_SECRET_ARN`), whose value is JSON
`{"certificate": "<PEM chain, the edge's certificate first>", "private_key": "<PEM key>"}`.

    python3 -m sipedge.tls_certificate fetch --cert PATH --key PATH
    python3 -m sipedge.tls_certificate watch --cert PATH --key PATH --ctl unix:PATH [--interval SECONDS]

`fetch` writes the pair before Kamailio starts (start.sh); `watch` runs next to Kamailio, reads the secret every
`--interval` seconds and, when its version changed, writes the new pair over the old files and asks Kamailio to
load it (`kamcmd tls.reload`): new TLS connections get the new certificate, open connections and registrations
stay (no restart). A pair that does not parse, or whose key is not the certificate's, is refused and the files
are left as they were. Runs on Debian's python3 with the edge's boto3 (sip-edge/.pydeps).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV_SECRET_ARN = "SIP_TLS_CERTIFICATE_SECRET_ARN"  # noqa: S105 (a variable name, not a secret)
ENV_SECRETS_ENDPOINT = "SECRETS_ENDPOINT_URL"  # the local stack's and the tests' (moto); unset in AWS
ENV_REGION = "AWS_REGION"
CERTIFICATE_FIELD = "certificate"
KEY_FIELD = "private_key"
DEFAULT_INTERVAL_SECONDS = 300.0


class CertificateError(ValueError):
    """The secret's value is not a usable certificate chain and key."""


@dataclass(frozen=True)
class Pair:
    version: str
    certificate: str
    private_key: str


def parse(version: str, secret_string: str) -> Pair:
    try:
        value = json.loads(secret_string)
    except ValueError as exc:
        raise CertificateError("the secret is not JSON") from exc
    if not isinstance(value, dict):
        raise CertificateError("the secret is not a JSON object")
    certificate, key = value.get(CERTIFICATE_FIELD), value.get(KEY_FIELD)
    if not isinstance(certificate, str) or "-----BEGIN CERTIFICATE-----" not in certificate:
        raise CertificateError(f"{CERTIFICATE_FIELD!r} must be the PEM certificate chain")
    if not isinstance(key, str) or "PRIVATE KEY-----" not in key:
        raise CertificateError(f"{KEY_FIELD!r} must be the PEM private key")
    return Pair(version=version, certificate=certificate, private_key=key)


def _public_key(command: list[str], pem: str) -> bytes:
    done = subprocess.run(command, input=pem.encode(), capture_output=True, check=False)  # noqa: S603
    if done.returncode != 0 or not done.stdout:
        raise CertificateError(f"openssl could not read it: {done.stderr.decode(errors='replace').strip()[:200]}")
    return done.stdout


def check_matches(pair: Pair) -> None:
    """The key is the private half of the chain's first certificate (openssl, as Kamailio's tls module uses)."""
    of_certificate = _public_key(["openssl", "x509", "-noout", "-pubkey"], pair.certificate)
    of_key = _public_key(["openssl", "pkey", "-pubout"], pair.private_key)
    if of_certificate != of_key:
        raise CertificateError("the private key does not belong to the certificate")


def _write(path: Path, text: str) -> None:
    """Atomically, mode 0600 from the start (no window with the umask's mode)."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(handle, 0o600)
        os.write(handle, text.encode())
    finally:
        os.close(handle)
    os.replace(temporary, path)


def install(pair: Pair, cert_path: Path, key_path: Path) -> None:
    check_matches(pair)
    _write(key_path, pair.private_key)
    _write(cert_path, pair.certificate)


def secret_reader(secret_arn: str) -> Callable[[], Pair]:
    import boto3  # the edge's own dependency (sip-edge/requirements.txt), imported where it is used

    client: Any = boto3.client(
        "secretsmanager",
        region_name=os.environ.get(ENV_REGION) or None,
        endpoint_url=os.environ.get(ENV_SECRETS_ENDPOINT) or None,
    )

    def read() -> Pair:
        answer = client.get_secret_value(SecretId=secret_arn)
        return parse(str(answer["VersionId"]), str(answer.get("SecretString") or ""))

    return read


def reload_kamailio(ctl: str) -> None:
    done = subprocess.run(  # noqa: S603
        [os.environ.get("KAMCMD", "kamcmd"), "-s", ctl, "tls.reload"], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"tls.reload failed: {(done.stdout + done.stderr).strip()[:300]}")


def _log(message: str) -> None:
    print(f"sip-edge tls: {message}", file=sys.stderr, flush=True)


def watch(
    read: Callable[[], Pair], cert_path: Path, key_path: Path, ctl: str, interval: float, current: str | None
) -> None:
    """Forever: a new version of the secret is installed and reloaded; errors are logged and retried."""
    while True:
        time.sleep(interval)
        try:
            pair = read()
            if pair.version == current:
                continue
            install(pair, cert_path, key_path)
            reload_kamailio(ctl)
            current = pair.version
            _log(f"loaded the certificate of secret version {pair.version}")
        except Exception as exc:  # keep serving the certificate loaded; try again next time
            _log(f"keeping the current certificate: {exc}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sipedge.tls_certificate")
    parser.add_argument("command", choices=("fetch", "watch"))
    parser.add_argument("--cert", type=Path, required=True)
    parser.add_argument("--key", type=Path, required=True)
    parser.add_argument("--ctl", default="")
    parser.add_argument("--interval", type=float, default=DEFAULT_INTERVAL_SECONDS)
    args = parser.parse_args(argv)
    secret_arn = os.environ.get(ENV_SECRET_ARN, "")
    if not secret_arn:
        _log(f"{ENV_SECRET_ARN} is not set")
        return 2
    read = secret_reader(secret_arn)
    if args.command == "fetch":
        try:
            pair = read()
            install(pair, args.cert, args.key)
        except CertificateError as exc:
            _log(f"the secret's certificate cannot be used: {exc}")
            return 1
        print(pair.version)
        return 0
    if not args.ctl:
        _log("watch needs --ctl (Kamailio's control socket)")
        return 2
    watch(read, args.cert, args.key, args.ctl, args.interval, os.environ.get("SIP_TLS_CERTIFICATE_VERSION"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
