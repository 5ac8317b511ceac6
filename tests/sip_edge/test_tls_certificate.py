"""The edge's TLS certificate from a Secrets Manager secret (moto here): start.sh serves the secret's certificate,
and a new version of the secret is served to new connections after `kamcmd tls.reload`, without restarting
Kamailio or dropping a TLS connection that is open (openssl s_client reads what is served)."""

from __future__ import annotations

import json
import re
import socket
import ssl
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from devstack.sip_edge import SipEdge, start_edge

SIP_NAME = "sip.voice.test"
PEM_BLOCK = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)


def _pair(directory: Path, name: str) -> dict[str, str]:
    directory.mkdir()
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
         "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{SIP_NAME}",
         "-keyout", str(directory / "key.pem"), "-out", str(directory / "cert.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    return {"certificate": (directory / "cert.pem").read_text(), "private_key": (directory / "key.pem").read_text()}


def _served(edge: SipEdge) -> str:
    """The certificate the edge's TLS port serves to a new connection, as openssl s_client prints it."""
    done = subprocess.run(
        ["openssl", "s_client", "-connect", f"{edge.host}:{edge.tls_port}", "-servername", SIP_NAME, "-showcerts"],
        input="", capture_output=True, text=True, timeout=20, check=False,
    )  # fmt: skip
    found = PEM_BLOCK.search(done.stdout)
    assert found, done.stdout + done.stderr
    return found.group(0)


def _same(first: str, second: str) -> bool:
    return ssl.PEM_cert_to_DER_cert(first) == ssl.PEM_cert_to_DER_cert(PEM_BLOCK.search(second).group(0))  # type: ignore[union-attr]


def _edge_env(edge: SipEdge, **settings: str) -> dict[str, str]:
    """The session edge's settings (moto, queue, tables) without its ports, run dir and certificate files, and
    without a media relay (this edge carries no calls; a second rtpengine would want the first one's port)."""
    prefixes = ("SIP_UDP", "SIP_TCP", "SIP_TLS", "SIP_RUN", "SIP_RTP", "SIP_MEDIA")
    env = {k: v for k, v in edge.env.items() if not k.startswith(prefixes)}
    return {**env, "SIP_MEDIA_RELAY": "none", **settings}


def _options_over(connection: ssl.SSLSocket, edge: SipEdge) -> bytes:
    branch = uuid.uuid4().hex
    local_host, local_port = connection.getsockname()[:2]
    connection.sendall(
        f"OPTIONS sip:{edge.host}:{edge.tls_port};transport=tls SIP/2.0\r\n"
        f"Via: SIP/2.0/TLS {local_host}:{local_port};rport;branch=z9hG4bK{branch}\r\nMax-Forwards: 70\r\n"
        f"From: <sip:probe@{edge.host}>;tag={branch[:8]}\r\nTo: <sip:{edge.host}>\r\nCall-ID: {branch}\r\n"
        "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n".encode()
    )
    return connection.recv(4096)


@pytest.fixture
def secret(moto_url: str) -> tuple[Any, str]:
    client = boto3.client("secretsmanager", region_name="eu-west-1", endpoint_url=moto_url,
                          aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
    arn = client.create_secret(Name=f"sip-certificate-{uuid.uuid4().hex[:8]}", SecretString="{}")["ARN"]
    return client, arn


def test_the_edge_serves_the_secrets_certificate_and_reloads_a_new_version_without_a_restart(
    edge: SipEdge, moto_url: str, secret: tuple[Any, str], tmp_path: Path
) -> None:
    client, arn = secret
    first, second = _pair(tmp_path / "first", "first"), _pair(tmp_path / "second", "second")
    client.put_secret_value(SecretId=arn, SecretString=json.dumps(first))
    env = _edge_env(
        edge, SIP_TLS_CERTIFICATE_SECRET_ARN=arn, SECRETS_ENDPOINT_URL=moto_url, SIP_TLS_CERTIFICATE_POLL_SECONDS="1"
    )
    running = start_edge(env, tmp_path / "edge")
    try:
        assert _same(_served(running), first["certificate"])
        kamailio_pid = (running.run_dir / "kamailio.pid").read_text()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        with context.wrap_socket(socket.create_connection((running.host, running.tls_port), timeout=5)) as open_one:
            assert _options_over(open_one, running).startswith(b"SIP/2.0 200")
            client.put_secret_value(SecretId=arn, SecretString=json.dumps(second))
            deadline = time.monotonic() + 20
            while not _same(_served(running), second["certificate"]):
                assert time.monotonic() < deadline, running.log_text()[-3000:]
                time.sleep(0.5)
            assert _options_over(open_one, running).startswith(b"SIP/2.0 200")  # the open connection stayed
        assert (running.run_dir / "kamailio.pid").read_text() == kamailio_pid
        assert "loaded the certificate of secret version" in running.log_text()
        assert (running.run_dir / "tls-key.pem").stat().st_mode & 0o077 == 0
        # a version that is not a pair is refused: the edge keeps serving the second certificate
        mismatched = {"certificate": first["certificate"], "private_key": second["private_key"]}
        client.put_secret_value(SecretId=arn, SecretString=json.dumps(mismatched))
        deadline = time.monotonic() + 20
        while "does not belong to the certificate" not in running.log_text():
            assert time.monotonic() < deadline, running.log_text()[-3000:]
            time.sleep(0.5)
        assert _same(_served(running), second["certificate"])
    finally:
        running.stop()


def test_start_script_refuses_to_start_without_a_usable_certificate_in_the_secret(
    edge: SipEdge, moto_url: str, secret: tuple[Any, str], tmp_path: Path
) -> None:
    _, arn = secret  # its value is "{}"
    env = _edge_env(edge, SIP_TLS_CERTIFICATE_SECRET_ARN=arn, SECRETS_ENDPOINT_URL=moto_url)
    with pytest.raises(Exception, match="no usable TLS certificate"):
        start_edge(env, tmp_path / "edge", timeout=10)
