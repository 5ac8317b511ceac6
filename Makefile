# The two commands of the README: `make run` (local stack) and `make test` (install + whole suite).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
# where `make run` keeps its data (devstack/run_local.py); `make reset` wipes it
LOCAL_DATA_DIR ?= .localdata
export LOCAL_DATA_DIR
PY := $(VENV)/bin/python

.PHONY: run reset test check bench bench-smoke clean system-deps

$(VENV)/.installed: requirements.txt requirements-dev.txt requirements-infra.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

run: $(VENV)/.installed system-deps
	$(PY) -m devstack.run_local

reset:
	rm -rf -- "$(LOCAL_DATA_DIR)"

check: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m mypy

system-deps:
	bash scripts/install-system-deps.sh

test: system-deps check
	$(PY) -m pytest

# Every bench/*.py that runs as a script and declares FIGURE and BASELINE (bench/__init__.py); the smoke run is
# also a test (tests/test_bench_smoke.py), so `make test` runs it.
bench: $(VENV)/.installed
	$(PY) -m bench

bench-smoke: $(VENV)/.installed system-deps
	$(PY) -m bench --smoke

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
