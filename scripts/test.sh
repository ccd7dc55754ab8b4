#!/usr/bin/env bash
# make test: lint, every pytest test of both packages, then the colcon smoke build.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
t0=$(date +%s)
echo "== ruff"
"$VENV/bin/ruff" check .
echo "== pytest"
"$VENV/bin/python" -m pytest "$@"
t1=$(date +%s)
echo "== colcon smoke build"
"$VENV/bin/python" scripts/colcon_smoke.py
t2=$(date +%s)
echo "test: pytest+ruff $((t1 - t0)) s, colcon smoke $((t2 - t1)) s"
