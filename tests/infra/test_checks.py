"""cdk-nag (AwsSolutions) and cfn-lint on the synthesized templates; what synthesis needs; the Lambda package."""

from __future__ import annotations

import zipfile
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from cfnlint.api import ManualArgs, lint_file  # type: ignore[import-untyped]

from bench.import_time import unpack_package
from infra.cdk_app import check_with_cdk_nag
from tests.infra.conftest import Synth

LAMBDA_ZIP_LIMIT_BYTES = 50 * 1024 * 1024  # Lambda's limit for a zip uploaded with the function


def test_cdk_nag_aws_solutions_reports_no_unacknowledged_finding(synth: Synth) -> None:
    report = synth.validation_report()
    reports = report["pluginReports"]
    assert reports, "the AwsSolutions plugin did not run"
    violations = [v for plugin in reports for v in plugin.get("violations", [])]
    assert violations == []


def test_cdk_nag_would_fail_synthesis_on_a_finding(tmp_path: Path) -> None:
    """The same plugin wiring on a stack with a bucket that breaks the rules: synthesis refuses it."""
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Bad")
    s3.Bucket(stack, "Plain")
    check_with_cdk_nag(app)
    with pytest.raises(Exception, match="AwsSolutions-S1"):
        app.synth()


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_cfn_lint_finds_nothing_in_the_template(synth: Synth, stage: str) -> None:
    template = synth.outdir / f"Pgsm-{stage}.template.json"
    # W3005 (a DependsOn that a Ref already implies) is ignored: CDK itself writes those redundant DependsOn
    # (ECS service → target groups, its own bucket-notification handler → its role); they are harmless.
    matches = lint_file(template, config=ManualArgs(regions=["eu-west-1"], ignore_checks=["W3005"]))
    assert [f"{m.rule.id} {m.message} ({m.path})" for m in matches] == []


def test_lambda_package_fits_lambdas_upload_limit_and_leaves_out_dev_tools(synth: Synth) -> None:
    package = synth.stacks["dev"].app.package_path
    size = package.stat().st_size
    print(f"Lambda deployment package: {size / 1e6:.1f} MB zipped")
    assert size < LAMBDA_ZIP_LIMIT_BYTES
    tops = {name.split("/")[0] for name in zipfile.ZipFile(package).namelist()}
    assert {"app.py", "chalicelib"} <= tops
    assert not tops & {"moto", "pytest", "aws_cdk", "jsii", "tantivy", "playwright", "infra", "tests"}


def test_packaged_app_imports_with_only_what_lambdas_python_runtime_provides(synth: Synth, tmp_path: Path) -> None:
    """The synthesized deployment.zip, unzipped, imports `app` without the venv: every runtime dependency of the
    app must be in requirements.txt (Lambda adds only boto3 and its own dependencies to the standard library)."""
    target = unpack_package(synth.stacks["dev"].app.package_path, tmp_path)
    result = target.run("import app; print(app.__file__)")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().startswith(str(tmp_path / "task"))
