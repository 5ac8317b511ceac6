"""CDK entry point: `cdk synth|deploy|destroy -c stage=dev|prod` from infra/ (see infra/README.md)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root: infra/, chalicelib/

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.config import ConfigError, stage_config
from infra.stack import PgsmStack

CONTEXT_OVERRIDES = (
    "region",
    "public_base_url",
    "domain_name",
    "hosted_zone_id",
    "hosted_zone_name",
    "certificate_arn",
    "sip_domain_name",
    "sip_certificate_secret_arn",
    "alarm_email",
    "alarm_topic_arn",
    "ses_domain",
    "email_from",
    "table_prefix",
    "licence_upstream_url",
    "licence_upstream_public_key",
    "sms_rate_per_second",
)


def build(app: cdk.App, stage: str | None = None) -> PgsmStack:
    """The stage's stack (`-c stage=…`, default dev); its settings are `stages.<stage>` in cdk.json, with
    top-level `-c key=value` overrides. cdk-nag's AwsSolutions checks run on it as a validation plugin: an
    unacknowledged finding fails `cdk synth` (and `app.synth()`)."""
    stage = stage or str(app.node.try_get_context("stage") or "dev")
    stages: dict[str, Any] = app.node.try_get_context("stages") or {}
    context = dict(stages.get(stage, {}))
    for key in CONTEXT_OVERRIDES:
        value = app.node.try_get_context(key)
        if value is not None:
            context[key] = value
    config = stage_config(stage, context)
    stack = PgsmStack(
        app,
        f"Pgsm-{stage}",
        config=config,
        env=cdk.Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=config.region),
        description=f"Secure voice operator platform ({stage})",
    )
    cdk.Tags.of(stack).add("project", "pgsm-operator")
    cdk.Tags.of(stack).add("stage", stage)
    return stack


def check_with_cdk_nag(app: cdk.App) -> None:
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))


if __name__ == "__main__":
    cdk_app = cdk.App()
    try:
        build(cdk_app)
    except ConfigError as error:
        sys.exit(f"infra: {error}")
    check_with_cdk_nag(cdk_app)
    cdk_app.synth()
