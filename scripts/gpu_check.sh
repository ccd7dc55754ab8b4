#!/usr/bin/env bash
# make gpu-check: what only a CUDA GPU can show, as one table (benchmarks/gpu_check.py). On a
# machine without CUDA it says so in one line and exits 0. Not part of make test or make bench.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
cd benchmarks
exec timeout 480 "../$VENV/bin/python" gpu_check.py "$@"
