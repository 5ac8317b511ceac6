"""cdk-nag (AwsSolutions) and cfn-lint on the synthesized templates; what synthesis needs; the Lambda package."""

from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from cfnlint.api import ManualArgs, lint_file  # type: ignore[import-untyped]

from bench.import_time import unpack_package
from infra.cdk_app import check_with_cdk_nag
from infra.lambda_package import NOT_PRECOMPILED, RUNTIME_PROVIDED, UNCHECKED_HASH_FLAGS, top_levels
from tests.infra.conftest import Synth

PACKAGE_GOAL_BYTES = 15 * 1000 * 1000  # issue #9's goal (Lambda's own limit is 50 MB for a direct upload)


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


def test_lambda_package_is_under_15_mb_without_dev_tools_or_what_the_runtime_provides(synth: Synth) -> None:
    package = synth.stacks["dev"].app.package_path
    size = package.stat().st_size
    print(f"Lambda deployment package: {size / 1e6:.1f} MB zipped")
    assert size < PACKAGE_GOAL_BYTES
    tops = top_levels(package)
    assert {"app", "chalicelib", "pynamodb"} <= tops
    assert not tops & {"moto", "pytest", "aws_cdk", "jsii", "tantivy", "playwright", "infra", "tests"}
    assert not tops & set(RUNTIME_PROVIDED)


def _pycs(package: Path) -> dict[str, tuple[bytes, bytes]]:
    """Each `.py` entry that has a `.pyc`: (source, pyc)."""
    with zipfile.ZipFile(package) as archive:
        names = set(archive.namelist())
        return {
            name: (archive.read(name), archive.read(importlib.util.cache_from_source(name)))
            for name in names
            if name.endswith(".py") and importlib.util.cache_from_source(name) in names
        }


def test_lambda_package_brings_unchecked_hash_bytecode_of_its_source_for_this_python(synth: Synth) -> None:
    package = synth.stacks["dev"].app.package_path
    with zipfile.ZipFile(package) as archive:
        names = archive.namelist()
    pycs = _pycs(package)
    assert len(pycs) == len([n for n in names if n.endswith(".pyc")]), "a .pyc without its source"
    assert {"app.py", "chalicelib/bootstrap.py", "pynamodb/models.py", "jinja2/environment.py"} <= set(pycs)
    for name, (source, pyc) in pycs.items():
        assert pyc[:4] == importlib.util.MAGIC_NUMBER, name  # the functions' runtime is this Python (checked)
        assert int.from_bytes(pyc[4:8], "little") == UNCHECKED_HASH_FLAGS, name
        assert pyc[8:16] == importlib.util.source_hash(source), name
    assert not [n for n in names if n.startswith(NOT_PRECOMPILED) and n.endswith(".pyc")]


def test_packaged_app_imports_with_only_what_lambdas_python_runtime_provides(synth: Synth, tmp_path: Path) -> None:
    """The synthesized deployment.zip, unzipped, imports `app` without the venv: every runtime dependency of the
    app must be in requirements.txt (Lambda adds only boto3 and its own dependencies to the standard library:
    `RUNTIME_PROVIDED`, taken here from the venv). Every module it loads from the package comes with its
    bytecode (nothing compiled at a cold start; bytecode writing is off, as on Lambda's read-only /var/task)."""
    target = unpack_package(synth.stacks["dev"].app.package_path, tmp_path)
    task = tmp_path / "task"
    code = f"""import os, sys
import app
print(app.__file__)
compiled_at_import = [
    m.__name__ for m in list(sys.modules.values())
    if (getattr(m, "__file__", None) or "").startswith({str(task)!r}) and m.__file__.endswith(".py")
    and not os.path.exists(m.__cached__)
]
print(compiled_at_import)"""
    result = target.run(code)
    assert result.returncode == 0, result.stderr[-2000:]
    app_file, compiled_at_import = result.stdout.strip().splitlines()[-2:]
    assert app_file == str(task / "app.py")
    assert compiled_at_import == "[]"
