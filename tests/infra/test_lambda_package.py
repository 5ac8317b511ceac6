"""infra/lambda_package.py on a small made-up package (no synthesis): what it drops, compiles and keeps."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from infra.lambda_package import UNCHECKED_HASH_FLAGS, optimize, top_level

THIS_RUNTIME = f"python{sys.version_info[0]}.{sys.version_info[1]}"
ENTRIES = {
    "app.py": "import mylib\nVALUE = mylib.answer()\n",
    "mylib/__init__.py": "def answer():\n    return 42\n",
    "mylib/__pycache__/__init__.cpython-311.pyc": "stale bytecode from a working tree",
    "mylib/templates/broken.py": "print 'python 2'\n",
    "six.py": "X = 1\n",
    "botocore/__init__.py": "raise ImportError('the runtime has its own')\n",
    "botocore-1.44.8.dist-info/METADATA": "Name: botocore\n",
    "jmespath/__init__.py": "",
    "phonenumbers/geodata/data0.py": "DATA = {}\n",
}


def _package(tmp_path: Path) -> Path:
    package = tmp_path / "deployment.zip"
    with zipfile.ZipFile(package, "w") as archive:
        for name, text in ENTRIES.items():
            archive.writestr(name, text)
    return package


def test_top_level_names_packages_modules_and_distribution_metadata() -> None:
    assert top_level("botocore/client.py") == "botocore"
    assert top_level("botocore-1.44.8.dist-info/RECORD") == "botocore"
    assert top_level("python_dateutil-2.9.0.post0.dist-info/METADATA") == "python_dateutil"
    assert top_level("six.py") == "six"
    assert top_level("_cffi_backend.cpython-311-x86_64-linux-gnu.so") == "_cffi_backend.cpython-311-x86_64-linux-gnu.so"


def test_drops_runtime_libraries_and_stale_bytecode_and_compiles_the_rest(tmp_path: Path) -> None:
    package = _package(tmp_path)
    stats = optimize(package, runtime=THIS_RUNTIME)
    names = set(zipfile.ZipFile(package).namelist())
    assert names == {
        "app.py",
        importlib.util.cache_from_source("app.py"),
        "mylib/__init__.py",
        importlib.util.cache_from_source("mylib/__init__.py"),
        "mylib/templates/broken.py",  # not Python 3: left as it is, without bytecode
        "six.py",
        importlib.util.cache_from_source("six.py"),
        "phonenumbers/geodata/data0.py",  # NOT_PRECOMPILED
    }
    assert (stats.dropped_entries, stats.compiled_modules) == (4, 3)
    pyc = zipfile.ZipFile(package).read(importlib.util.cache_from_source("app.py"))
    assert int.from_bytes(pyc[4:8], "little") == UNCHECKED_HASH_FLAGS
    assert pyc[8:16] == importlib.util.source_hash(ENTRIES["app.py"].encode())


def test_the_result_imports_from_its_bytecode_with_files_named_where_lambda_unzips(tmp_path: Path) -> None:
    package = _package(tmp_path)
    optimize(package, runtime=THIS_RUNTIME)
    task = tmp_path / "task"
    zipfile.ZipFile(package).extractall(task)
    (task / "app.py").write_text("raise SystemExit('the source ran, not the bytecode')\n")  # unchecked: not read
    code = f"import sys; sys.path[:0] = [{str(task)!r}]; import app, mylib; print(app.VALUE, mylib.__spec__.origin)"
    result = subprocess.run(
        [sys.executable, "-S", "-B", "-c", code], capture_output=True, text=True, check=False, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    value, filename = result.stdout.split()
    assert value == "42"
    assert filename == str(task / "mylib" / "__init__.py")


def test_the_same_package_gives_the_same_bytes(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    results = []
    for directory in (first, second):
        package = _package(directory)
        optimize(package, runtime=THIS_RUNTIME)
        results.append(package.read_bytes())
    assert results[0] == results[1]


def test_refuses_to_compile_for_another_python_version(tmp_path: Path) -> None:
    package = _package(tmp_path)
    with pytest.raises(RuntimeError, match="python3.99"):
        optimize(package, runtime="python3.99")
    assert set(zipfile.ZipFile(package).namelist()) == set(ENTRIES)
