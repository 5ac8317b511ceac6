"""One Python version everywhere the project's own code runs: the functions' Lambda runtime, the venv the Makefile
builds (which synthesizes and so compiles the package's bytecode), ruff's and mypy's targets; and Debian's
python3 for the SIP edge, whose code Kamailio runs in its embedded interpreter."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

from infra.lambda_package import LAMBDA_RUNTIME, runtime_version
from tests.infra.conftest import Synth

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = ".".join(map(str, runtime_version(LAMBDA_RUNTIME)))


def test_every_function_of_both_stages_runs_the_declared_runtime(synth: Synth) -> None:
    for stage in ("dev", "prod"):
        functions = synth.resources("AWS::Serverless::Function", stage)
        assert functions
        assert {f["Properties"]["Runtime"] for f in functions.values()} == {LAMBDA_RUNTIME}


def test_the_venv_the_linters_and_the_type_checker_use_the_runtimes_version() -> None:
    makefile = (ROOT / "Makefile").read_text()
    (declared,) = re.findall(r"^PYTHON_VERSION := (\S+)$", makefile, re.MULTILINE)
    assert declared == RUNTIME
    assert f"{sys.version_info[0]}.{sys.version_info[1]}" == RUNTIME  # this venv: the Makefile's
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["requires-python"] == f">={RUNTIME}"
    assert project["tool"]["ruff"]["target-version"] == "py" + RUNTIME.replace(".", "")
    assert project["tool"]["mypy"]["python_version"] == RUNTIME


def test_the_sip_edge_is_checked_for_the_python_kamailio_embeds() -> None:
    debian = subprocess.run(
        ["/usr/bin/python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    edge_ruff = tomllib.loads((ROOT / "sip-edge" / "ruff.toml").read_text())
    assert edge_ruff["target-version"] == "py" + debian.replace(".", "")
    makefile = (ROOT / "Makefile").read_text()
    assert f"mypy --python-version {debian} sip-edge" in makefile
