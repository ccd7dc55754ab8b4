#!/usr/bin/env bash
# make test: lint, every pytest test of both packages, then the colcon smoke build. Each step
# runs even when an earlier one failed; the summary reports all three and the exit status is
# non-zero when any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
t0=$(date +%s)
echo "== ruff"
"$VENV/bin/ruff" check .
ruff_code=$?
echo "== pytest"
# One worker per CPU (each test process runs torch on one thread: rgbt_models/threads.py), a
# test file per worker at a time so that module fixtures (trained models) are built once.
"$VENV/bin/python" -m pytest -n "${PYTEST_WORKERS:-auto}" --dist loadfile "$@"
pytest_code=$?
t1=$(date +%s)
echo "== colcon smoke build"
"$VENV/bin/python" scripts/colcon_smoke.py
colcon_code=$?
t2=$(date +%s)
echo "test: ruff exit $ruff_code, pytest exit $pytest_code ($((t1 - t0)) s with ruff), colcon smoke exit $colcon_code ($((t2 - t1)) s)"
(( ruff_code == 0 && pytest_code == 0 && colcon_code == 0 ))
