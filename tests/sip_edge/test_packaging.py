"""The container and the install script agree: same Debian packages, same Python requirements, one start script."""

from __future__ import annotations

import re
import shutil
import subprocess

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
    for name in ("kamailio.cfg", "routing.py", "start.sh", "sipedge"):
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
