#!/usr/bin/env bash
# make bench: every benchmark runs and prints its table even when another fails or misses its
# target; the exit status is non-zero when any did, and the last lines name them.
set -uo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
failed=()
for bench in benchmarks/bench_*.py; do
  echo "== $bench"
  start=$(date +%s)
  "$VENV/bin/python" "$bench"
  code=$?
  echo "($bench: exit $code, $(( $(date +%s) - start )) s)"
  (( code == 0 )) || failed+=("$bench (exit $code)")
done
echo "== pytest -m bench (tests too slow for make test)"
"$VENV/bin/python" -m pytest -q -m bench || failed+=("pytest -m bench")
if (( ${#failed[@]} )); then
  echo "bench: missed a target or failed: ${failed[*]}"
  exit 1
fi
echo "bench: every benchmark met its targets"
