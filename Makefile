# lmlab developer entry points. Works on a machine with only python3 and pip:
# every target first makes sure uv is there (installed with pip when missing).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

# No model or dataset hub: an accidental download fails fast instead of hanging.
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export UV_PYTHON_DOWNLOADS := never

UV := $(shell command -v uv 2>/dev/null || echo python3 -m uv)
export UV
# PKG=<dist> limits test/bench/reproduce to one package; PYTEST_ARGS is passed to pytest.
PKG ?=
PYTEST_ARGS ?=
export PKG PYTEST_ARGS

.PHONY: help uv setup lock-check lint fmt test wheels demo bench reproduce clean

help:
	@echo "make setup      install uv if missing, then sync the whole workspace from uv.lock"
	@echo "make demo       run the main job (compress a real sentence-embedding model)"
	@echo "make test       every package's tests in its own environment, then cross-package tests"
	@echo "make lint|fmt   ruff check + format check | apply ruff fixes and formatting"
	@echo "make wheels     build every wheel and install each alone in a fresh venv"
	@echo "make bench      run benchmarks/bench_*.py (JSON in benchmarks/results/)"
	@echo "make reproduce  run each package's multi-seed claim (reports/)"
	@echo "PKG=<dist> limits test/bench/reproduce to one package."

uv:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || \
		python3 -m pip install --quiet uv || python3 -m pip install --quiet --user uv

setup: uv
	$(UV) sync --all-packages --all-extras --frozen

lock-check: uv
	$(UV) lock --check

lint: uv
	$(UV) run --frozen --only-group dev ruff check .
	$(UV) run --frozen --only-group dev ruff format --check .

fmt: uv
	$(UV) run --frozen --only-group dev ruff check --fix .
	$(UV) run --frozen --only-group dev ruff format .

test: uv
	tools/test.sh

wheels: uv
	python3 tools/wheels.py

demo: setup
	tools/run_each.sh demo

bench: setup
	tools/run_each.sh bench

reproduce: setup
	tools/run_each.sh reproduce

clean:
	rm -rf dist .venvs .pytest_cache .ruff_cache
