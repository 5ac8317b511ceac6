"""CDK entry point: `cdk synth|deploy|destroy -c stage=dev|prod` from infra/ (see infra/README.md)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root: infra/, chalicelib/

import aws_cdk as cdk  # noqa: E402
from cdk_nag import AwsSolutionsChecks  # noqa: E402

from infra.config import stage_config  # noqa: E402
from infra.stack import PgsmStack  # noqa: E402


def build(app: cdk.App) -> PgsmStack:
    """The stage's stack with cdk-nag's AwsSolutions checks attached (findings are errors in `cdk synth`)."""
    stage = str(app.node.try_get_context("stage") or "dev")
    stages: dict[str, Any] = app.node.try_get_context("stages") or {}
    context = dict(stages.get(stage, {}))
    for key in ("region", "public_base_url", "alarm_email", "ses_domain", "email_from", "table_prefix",
                "licence_upstream_url", "licence_upstream_public_key", "sms_rate_per_second"):
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
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    return stack


if __name__ == "__main__":
    cdk_app = cdk.App()
    build(cdk_app)
    cdk_app.synth()
