# The two commands of the README: `make run` (local stack) and `make test` (install + whole suite).
# The venv's Python is the Lambda runtime's version (the synthesis compiles the package's bytecode with it);
# scripts/python.sh finds it (PATH, pyenv) or says what to install. `make PYTHON=/path/to/python3.13` overrides.
PYTHON_VERSION := 3.13
PYTHON ?= $(shell bash scripts/python.sh $(PYTHON_VERSION))
VENV := .venv
# where `make run` keeps its data (devstack/run_local.py); `make reset` wipes it. Not exported: the tests'
# local stacks each keep theirs in a directory of their own.
LOCAL_DATA_DIR ?= .localdata
PY := $(VENV)/bin/python
# checkov checks the synthesized templates (tests/infra/test_checkov.py); it lives in a venv of its own inside
# the project's, because its dependency pins (boto3's among them) differ from the app's
CHECKOV := $(VENV)/checkov/bin/checkov

.PHONY: run reset test check bench bench-smoke clean system-deps

# A venv of another Python version (an older checkout's) is replaced, not reused.
$(VENV)/.python-$(PYTHON_VERSION):
	@test -n "$(PYTHON)" || { bash scripts/python.sh $(PYTHON_VERSION); exit 1; }
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	touch $@

$(VENV)/.installed: requirements.txt requirements-dev.txt requirements-infra.txt $(VENV)/.python-$(PYTHON_VERSION)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

$(CHECKOV): requirements-checkov.txt $(VENV)/.python-$(PYTHON_VERSION)
	rm -rf $(VENV)/checkov
	$(PYTHON) -m venv $(VENV)/checkov
	$(VENV)/checkov/bin/pip install --quiet -r requirements-checkov.txt
	touch $@

run: $(VENV)/.installed system-deps
	LOCAL_DATA_DIR="$(LOCAL_DATA_DIR)" $(PY) -m devstack.run_local

reset:
	rm -rf -- "$(LOCAL_DATA_DIR)"

check: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) -m mypy --python-version 3.11 sip-edge  # Kamailio's embedded interpreter is Debian's python3 (3.11)

system-deps:
	bash scripts/install-system-deps.sh

test: system-deps check $(CHECKOV)
	$(PY) -m pytest

# Every bench/*.py that runs as a script and declares FIGURE and BASELINE (bench/__init__.py); the smoke run is
# also a test (tests/test_bench_smoke.py), so `make test` runs it.
bench: $(VENV)/.installed
	$(PY) -m bench

bench-smoke: $(VENV)/.installed system-deps
	$(PY) -m bench --smoke

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
