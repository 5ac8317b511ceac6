"""Synthesizes both stages once per test session (offline: no AWS account, no Docker) and hands the tests the
templates, the stacks and the cloud assembly. `chalice package` runs inside; it reuses the Lambda dependency
cache in the repository's `.chalice/deployments/` and downloads wheels from PyPI only when requirements.txt
changed."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

import aws_cdk as cdk

from infra.cdk_app import build, check_with_cdk_nag
from infra.stack import PgsmStack

INFRA_DIR = Path(__file__).resolve().parents[2] / "infra"


@dataclass
class Synth:
    outdir: Path
    stacks: dict[str, PgsmStack]
    templates: dict[str, dict[str, Any]]

    def template(self, stage: str = "dev") -> dict[str, Any]:
        return self.templates[stage]

    def resources(self, resource_type: str, stage: str = "dev") -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.templates[stage]["Resources"].items() if v["Type"] == resource_type}

    def validation_report(self) -> dict[str, Any]:
        report: dict[str, Any] = json.loads((self.outdir / "validation-report.json").read_text())
        return report


# What an operator adds to cdk.json's stages.prod before the first deploy (infra/README.md, First deploy): the
# stage refuses to synthesize without them (tests/infra/test_domain.py).
PROD_DOMAIN = "voice.example.com"
PROD_ZONE_ID = "Z0123456789EXAMPLE"
PROD_SIP_CERTIFICATE_SECRET = "arn:aws:secretsmanager:eu-west-1:111111111111:secret:pgsm-prod-sip-certificate-AbCdEf"
PROD_BASE_DIGEST = "sha256:" + "0123456789abcdef" * 4
PROD_SETTINGS = {
    "domain_name": PROD_DOMAIN,
    "hosted_zone_id": PROD_ZONE_ID,
    "hosted_zone_name": "example.com",
    "sip_certificate_secret_arn": PROD_SIP_CERTIFICATE_SECRET,
    "sip_edge_base_digest": PROD_BASE_DIGEST,
    "alarm_email": "ops@example.com",
}


def cdk_context(prod_settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """cdk.json's context, with `prod_settings` (default PROD_SETTINGS) added to stages.prod."""
    context: dict[str, Any] = json.loads((INFRA_DIR / "cdk.json").read_text())["context"]
    context["stages"]["prod"].update(PROD_SETTINGS if prod_settings is None else prod_settings)
    return context


def _synthesize(workdir: Path) -> Synth:
    app = cdk.App(context=cdk_context(), outdir=str(workdir / "cdk.out"))
    stacks = {stage: build(app, stage) for stage in ("dev", "prod")}
    check_with_cdk_nag(app)
    assembly = app.synth()
    templates = {stage: assembly.get_stack_by_name(stack.stack_name).template for stage, stack in stacks.items()}
    return Synth(outdir=Path(assembly.directory), stacks=stacks, templates=templates)


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The current directory and CDK_DOCKER change only while synthesizing (other tests share the session)."""
    workdir = tmp_path_factory.mktemp("infra")
    previous_cwd = os.getcwd()
    previous_docker = os.environ.get("CDK_DOCKER")
    # Any attempt to run Docker during synthesis would fail: asset images are built at deploy time only.
    os.environ["CDK_DOCKER"] = str(workdir / "no-docker-here")
    os.chdir(workdir)  # the Chalice construct writes chalice.out/ into the current directory
    try:
        return _synthesize(workdir)
    finally:
        os.chdir(previous_cwd)
        if previous_docker is None:
            os.environ.pop("CDK_DOCKER", None)
        else:
            os.environ["CDK_DOCKER"] = previous_docker
