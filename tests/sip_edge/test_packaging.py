"""The container and the install script agree: same Debian packages, same Python requirements, one start script."""

from __future__ import annotations

import os
import re
import shutil
import ssl
import subprocess
from pathlib import Path

from devstack.sip_edge import SipEdge
from tests.sip_edge.conftest import SIP_EDGE_DIR

ROOT = SIP_EDGE_DIR.parent


def _packages() -> list[str]:
    lines = (SIP_EDGE_DIR / "debian-packages.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_the_dockerfile_installs_the_same_debian_packages_and_uses_the_start_script() -> None:
    dockerfile = (SIP_EDGE_DIR / "Dockerfile").read_text()
    assert "debian-packages.txt" in dockerfile and "install-pydeps.sh" in dockerfile
    assert 'CMD ["/opt/sip-edge/start.sh"]' in dockerfile
    assert re.search(r"^ARG BASE_IMAGE=debian:bookworm-slim\nFROM --platform=linux/amd64 \$\{BASE_IMAGE\}$", dockerfile,
                     re.MULTILINE)  # fmt: skip
    assert "constraints.txt" in dockerfile and "apt-get purge -y --auto-remove python3-pip" in dockerfile
    assert re.search(r"^HEALTHCHECK .*\n\s+CMD kamcmd -s unix:/var/lib/sip-edge/run/kamailio.ctl core.uptime",
                     dockerfile, re.MULTILINE)  # fmt: skip
    for name in ("kamailio.cfg", "tls.cfg", "routing.py", "start.sh", "sipedge"):
        assert name in dockerfile, name
    assert {"kamailio", "kamailio-python3-modules", "kamailio-tls-modules", "netbase"} <= set(_packages())


def test_the_install_script_installs_the_same_packages_and_python_requirements() -> None:
    script = (ROOT / "scripts" / "install-system-deps.sh").read_text()
    assert "sip-edge/debian-packages.txt" in script
    assert "sip-edge/install-pydeps.sh" in script
    for tool in ("sip-tester", "stunnel4"):
        assert tool in script


def test_the_installed_system_matches_the_lists() -> None:
    """What the tests run on is what the lists say (so the container, built from the same lists, matches)."""
    for package in _packages():
        status = subprocess.run(["dpkg-query", "-W", "-f=${Status} ${Version}", package],
                                capture_output=True, text=True, check=False).stdout  # fmt: skip
        assert "install ok installed" in status, package
        if package.startswith("kamailio"):
            assert status.split()[-1].startswith("5.6."), status
    for tool in ("sipp", "stunnel4", "kamailio", "kamcmd"):
        assert shutil.which(tool), tool
    pydeps = SIP_EDGE_DIR / ".pydeps"
    wanted = "".join((SIP_EDGE_DIR / name).read_text() for name in ("requirements.txt", "constraints.txt"))
    assert (pydeps / ".requirements.txt").read_text() == wanted  # install-pydeps.sh's stamp of what it installed
    probe = subprocess.run(["/usr/bin/python3", "-c", "import boto3, sipedge.sidecar"], capture_output=True,
                           env={"PYTHONPATH": f"{SIP_EDGE_DIR}:{pydeps}"}, check=False, text=True)  # fmt: skip
    assert probe.returncode == 0, probe.stderr


def test_the_edge_serves_the_configured_certificate(edge: SipEdge) -> None:
    served = ssl.get_server_certificate((edge.host, edge.tls_port))
    cert_path = Path(edge.env["SIP_TLS_CERT"])
    assert ssl.PEM_cert_to_DER_cert(served) == ssl.PEM_cert_to_DER_cert(cert_path.read_text())


def test_start_script_generates_a_self_signed_pair_when_none_is_configured(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIP_")}
    env.update(SIP_RUN_DIR=str(tmp_path), KAMAILIO="true")  # Kamailio replaced by `true`: start.sh's own steps only
    done = subprocess.run(["bash", str(SIP_EDGE_DIR / "start.sh")], env=env, capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    cert = (tmp_path / "tls-cert.pem").read_text()
    assert "BEGIN CERTIFICATE" in cert and (tmp_path / "tls-key.pem").stat().st_mode & 0o077 == 0
    names = subprocess.run(["openssl", "x509", "-noout", "-ext", "subjectAltName"], input=cert, capture_output=True,
                           text=True, check=True).stdout  # fmt: skip
    assert "DNS:sip-edge.local" in names  # phones match the name against the SAN, not the CN
    assert "the sidecar did not start" not in done.stderr


def test_every_python_package_of_the_edge_is_pinned_and_installed_at_that_version() -> None:
    """constraints.txt pins requirements.txt and what those pull in; the local install (and so the image, built
    with the same script and files) has exactly those distributions."""
    pins = dict(
        line.split("==")
        for line in (SIP_EDGE_DIR / "constraints.txt").read_text().splitlines()
        if line and not line.startswith("#")
    )
    installed = {
        path.name.removesuffix(".dist-info").split("-")[0].lower().replace("_", "-"): path.name.removesuffix(
            ".dist-info"
        ).split("-")[1]
        for path in (SIP_EDGE_DIR / ".pydeps").glob("*.dist-info")
    }
    assert installed == {name.lower(): version for name, version in pins.items()}
    for line in (SIP_EDGE_DIR / "requirements.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            assert pins[name] == version, name


def test_start_script_names_the_edge_after_its_ecs_task(tmp_path: Path) -> None:
    """With ECS's task metadata endpoint (a local HTTP server here), SIP_EDGE_ID is `edge-<task id>`."""
    import http.server
    import json
    import threading

    class Metadata(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"TaskARN": "arn:aws:ecs:eu-west-1:1:task/pgsm-prod/0123456789abcdef"}).encode()
            self.send_response(200 if self.path == "/v4/x/task" else 404)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Metadata)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    report = tmp_path / "kamailio-stand-in"
    report.write_text('#!/bin/sh\necho "edge id: $SIP_EDGE_ID"\n')
    report.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIP_")}
    env.update(SIP_RUN_DIR=str(tmp_path), KAMAILIO=str(report), SIP_MEDIA_RELAY="none",
               ECS_CONTAINER_METADATA_URI_V4=f"http://127.0.0.1:{server.server_port}/v4/x")  # fmt: skip
    try:
        done = subprocess.run(["bash", str(SIP_EDGE_DIR / "start.sh")], env=env, capture_output=True, text=True,
                              timeout=60, check=False)  # fmt: skip
    finally:
        server.shutdown()
    assert "edge id: edge-0123456789abcdef" in done.stdout, done.stdout + done.stderr


def test_the_image_installs_the_locked_versions_of_exactly_the_listed_packages() -> None:
    """The image pins each Debian package's version (sip-edge/debian-packages.lock, written from this machine's
    install by scripts/lock-debian-packages.sh); the lock names exactly the listed packages."""
    lines = (SIP_EDGE_DIR / "debian-packages.lock").read_text().splitlines()
    pins = dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))
    assert list(pins) == _packages()
    assert all(re.fullmatch(r"[0-9][0-9A-Za-z.+~:-]*", version) for version in pins.values()), pins
    dockerfile = (SIP_EDGE_DIR / "Dockerfile").read_text()
    assert "$(grep -v '^#' /opt/sip-edge/debian-packages.lock)" in dockerfile
