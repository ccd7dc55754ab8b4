#!/usr/bin/env bash
# make test: lint, then every pytest test of both packages (the colcon smoke build among them:
# test/test_colcon_smoke.py, scheduled by pytest's workers beside the rest). Both steps run even
# when the first failed; the summary reports both and the exit status is non-zero when either did.
set -uo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
# Bytecode written on first import (setup.sh compiles nothing ahead): with PYTHONDONTWRITEBYTECODE
# set, as CI sets it, every test process would compile torch and the rest again.
unset PYTHONDONTWRITEBYTECODE
t0=$(date +%s)
echo "== ruff"
"$VENV/bin/ruff" check .
ruff_code=$?
echo "== pytest"
# One worker per CPU (each test process runs torch on one thread: rgbt_models/runtime/threads.py), a
# test file per worker at a time so that module fixtures (trained models) are built once.
"$VENV/bin/python" -m pytest -n "${PYTEST_WORKERS:-auto}" --dist loadfile "$@"
pytest_code=$?
t1=$(date +%s)
echo "test: ruff exit $ruff_code, pytest exit $pytest_code ($((t1 - t0)) s with ruff)"
(( ruff_code == 0 && pytest_code == 0 ))
