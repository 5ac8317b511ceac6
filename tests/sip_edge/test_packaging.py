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
    assert re.search(r"^FROM debian:bookworm", dockerfile, re.MULTILINE)
    assert "debian-packages.txt" in dockerfile and "install-pydeps.sh" in dockerfile
    assert 'CMD ["/opt/sip-edge/start.sh"]' in dockerfile
    for name in ("kamailio.cfg", "tls.cfg", "routing.py", "start.sh", "sipedge"):
        assert name in dockerfile, name
    assert {"kamailio", "kamailio-python3-modules", "kamailio-tls-modules"} <= set(_packages())


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
    assert (pydeps / ".requirements.txt").read_text() == (SIP_EDGE_DIR / "requirements.txt").read_text()
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
