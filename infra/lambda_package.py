"""The Lambda deployment package: what `chalice package` builds, less what Lambda's Python runtime already has,
plus bytecode compiled ahead of time. Standard library only (bench/import_time.py uses it without CDK).

- **Runtime-provided libraries are left out.** Lambda's Python runtime ships boto3 with its own dependencies
  (botocore, s3transfer, jmespath); the package would carry botocore again (16 MB zipped) because pynamodb
  requires it. The runtime's copy is used instead (pynamodb 6.x asks for botocore >= 1.12.54, years older than
  any runtime's). The runtime also has urllib3, python-dateutil and six, but those stay in the package: requests
  and opensearch-py need them and set their own version bounds.
- **Bytecode ahead of time.** /var/task is read-only, so a module that comes without a `.pyc` is compiled from
  source on every cold start. Every module gets a `.pyc` in `__pycache__`, written as a PEP 552
  *unchecked-hash* file (never compared with the source, which cannot change there), except those under
  `NOT_PRECOMPILED`: phonenumbers' geocoding, carrier and time-zone tables, which the app never imports and
  whose bytecode alone would add 4.8 MB to the zip (measurements in docs/benchmarks.md). Compiled by this
  interpreter, which must therefore be the runtime's Python version (checked).
- **No bytecode from the working tree** (`chalicelib/__pycache__`, timestamp-based, whatever Python wrote it).
- **Reproducible**: entries in name order with a fixed timestamp, so the same content gives the same zip and
  the same CDK asset hash (an unchanged app is not uploaded again).
"""

from __future__ import annotations

import importlib.util
import json
import marshal
import os
import re
import sys
import warnings
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The functions' runtime: the newest Python that Lambda runs and the project's dependencies install on. Chalice
# takes the runtime from the Python that packages the app, so the synthesis must run on this version (the
# Makefile's PYTHON_VERSION builds the venv with it; `require_runtime_python` checks).
LAMBDA_RUNTIME = "python3.13"
# What Lambda's Python runtime provides beyond the standard library, and the package therefore leaves out
# (import names, which are also the distributions' normalized names).
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath")
# Where Lambda unzips the package: the file name compiled code carries (Python replaces it with the path it finds
# the module at anyway; a fixed name keeps the build directory out of the bytes).
LAMBDA_TASK_ROOT = "/var/task"
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)  # the earliest a zip entry can have
FILE_MODE = 0o100644 << 16  # a regular file readable by everyone (Lambda runs the code as another user)
# Modules left without bytecode (entry prefixes): large tables `import app` does not load.
NOT_PRECOMPILED = ("phonenumbers/geodata/", "phonenumbers/carrierdata/", "phonenumbers/tzdata/")
# PEP 552: bit 0 = hash-based, bit 1 = check the source; 0b01 = unchecked hash.
UNCHECKED_HASH_FLAGS = 0b01
_DIST_INFO = re.compile(r"^(?P<name>[^-]+)-[^/]*\.(dist-info|egg-info)$")
_RUNTIME = re.compile(r"^python(\d+)\.(\d+)$")


@dataclass(frozen=True)
class PackageStats:
    zipped_bytes: int
    dropped_entries: int
    compiled_modules: int


def top_level(entry: str) -> str:
    """The import name an entry belongs to (`botocore` for both `botocore/x.py` and `botocore-1.2.dist-info/…`;
    `six` for `six.py`)."""
    first = entry.split("/", 1)[0]
    match = _DIST_INFO.match(first)
    if match:
        return match.group("name").lower().replace("-", "_").replace(".", "_")
    return first.removesuffix(".py") if "/" not in entry else first


def runtime_version(runtime: str) -> tuple[int, int]:
    """`python3.13` → (3, 13)."""
    match = _RUNTIME.match(runtime)
    if match is None:
        raise ValueError(f"not a Python Lambda runtime: {runtime!r}")
    return int(match.group(1)), int(match.group(2))


def require_runtime_python(runtime: str = LAMBDA_RUNTIME) -> None:
    """Fails unless this is the runtime's Python: Chalice would package for this interpreter's version instead."""
    if sys.version_info[:2] != runtime_version(runtime):
        raise RuntimeError(
            f"the functions run {runtime} but this is Python {sys.version_info[0]}.{sys.version_info[1]}: "
            "synthesize with the runtime's Python version (the repository's venv: `make .venv/.installed`), "
            "or Chalice would package for this one and the bytecode compiled here would be ignored there"
        )


def unchecked_hash_pyc(source: bytes, filename: str) -> bytes:
    """The `.pyc` file of `source` (PEP 552 layout: magic, flags, source hash, marshalled code object)."""
    code = compile(source, filename, "exec", dont_inherit=True, optimize=0)
    return (
        importlib.util.MAGIC_NUMBER
        + UNCHECKED_HASH_FLAGS.to_bytes(4, "little")
        + importlib.util.source_hash(source)
        + marshal.dumps(code)
    )


def _is_bytecode(entry: str) -> bool:
    return "__pycache__/" in entry or entry.endswith((".pyc", ".pyo"))


def default_precompile(entry: str) -> bool:
    return not entry.startswith(NOT_PRECOMPILED)


def optimize(package: Path, *, runtime: str, precompile: Callable[[str], bool] = default_precompile) -> PackageStats:
    """Rewrites the zip at `package` in place. `precompile(entry)` says which `.py` entries get bytecode."""
    require_runtime_python(runtime)
    dropped = compiled = 0
    output = package.with_suffix(".optimized.zip")
    with zipfile.ZipFile(package) as source, zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as target:
        entries: dict[str, tuple[bytes, int]] = {}
        for info in source.infolist():
            name = info.filename
            if info.is_dir():
                continue
            if top_level(name) in RUNTIME_PROVIDED or _is_bytecode(name):
                dropped += 1
                continue
            data = source.read(info)
            entries[name] = (data, info.external_attr or FILE_MODE)
            if name.endswith(".py") and precompile(name):
                pyc = _compile_or_none(data, f"{LAMBDA_TASK_ROOT}/{name}")
                if pyc is not None:
                    entries[importlib.util.cache_from_source(name)] = (pyc, FILE_MODE)
                    compiled += 1
        for name in sorted(entries):
            data, mode = entries[name]
            info = zipfile.ZipInfo(name, date_time=ZIP_TIMESTAMP)
            info.external_attr = mode
            info.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(info, data)
    output.replace(package)
    return PackageStats(zipped_bytes=package.stat().st_size, dropped_entries=dropped, compiled_modules=compiled)


def _compile_or_none(source: bytes, filename: str) -> bytes | None:
    """Bytecode, or None for files that are not valid Python 3 here (some packages ship templates or
    version-specific files ending in .py; Python never imports those)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escape sequences and the like: the runtime would warn too
        try:
            return unchecked_hash_pyc(source, filename)
        except (SyntaxError, ValueError):
            return None


def functions_runtime(sam_template: Path) -> str:
    """The one runtime of the functions in a `chalice package` output's sam.json."""
    resources: dict[str, Any] = json.loads(sam_template.read_text())["Resources"]
    runtimes = {str(r["Properties"]["Runtime"]) for r in resources.values() if r["Type"] == "AWS::Serverless::Function"}
    if len(runtimes) != 1:
        raise ValueError(f"expected one runtime for all functions, found {sorted(runtimes)}")
    return runtimes.pop()


def optimize_chalice_output(package_dir: Path, precompile: Callable[[str], bool] = default_precompile) -> PackageStats:
    """`package_dir` is `chalice package`'s output directory (sam.json and deployment.zip)."""
    runtime = functions_runtime(package_dir / "sam.json")
    return optimize(package_dir / "deployment.zip", runtime=runtime, precompile=precompile)


def top_levels(package: Path) -> set[str]:
    with zipfile.ZipFile(package) as archive:
        return {top_level(name) for name in archive.namelist()}


@contextmanager
def packaging_region(region: str) -> Iterator[None]:
    """`chalice package` asks botocore for a region (API Gateway's service principal); give it the stack's."""
    previous = os.environ.get("AWS_DEFAULT_REGION")
    os.environ["AWS_DEFAULT_REGION"] = region
    try:
        yield
    finally:
        if previous is None:
            del os.environ["AWS_DEFAULT_REGION"]
        else:
            os.environ["AWS_DEFAULT_REGION"] = previous


def build_package(
    project_dir: Path, output_dir: Path, *, region: str = "eu-west-1", stage_config: Mapping[str, object] = {}
) -> PackageStats:
    """What the deployment ships, without CDK: `chalice package` into `output_dir`, then `optimize` (the synth
    does the same through the Chalice construct, see infra/application.py). Imports app.py in this process."""
    from chalice.api import package_app  # the packaging tool, not a dependency of the module's other users

    config = {"manage_iam_role": False, "iam_role_arn": "arn:aws:iam::111111111111:role/package", **stage_config}
    with packaging_region(region):
        package_app(project_dir=str(project_dir), output_dir=str(output_dir), stage="dev", chalice_config=config)
    return optimize_chalice_output(output_dir)
