#!/usr/bin/env bash
# make robot-check: does the robot's pip set (requirements/runtime.txt under
# requirements/robot-constraints.txt) resolve to wheels for the Pythons of Humble (3.10, Ubuntu
# 22.04) and Jazzy/Kilted (3.12, Ubuntu 24.04), on x86_64 and aarch64 (Jetson)? pip resolves
# against PyPI without installing anything (--dry-run --only-binary=:all:), so a pin with no wheel
# there fails here. torch is left out: robots install it from PyTorch's index or NVIDIA's
# wheel (README "On a robot"). Needs PyPI; not part of make test.
set -uo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0
echo "| Python | machine | resolves | packages | numpy | opencv-python-headless |"
echo "| --- | --- | --- | --- | --- | --- |"
for python in 3.10 3.12; do
  for machine in x86_64 aarch64; do
    report=$work/$python-$machine.json
    if "$VENV/bin/python" -m pip --disable-pip-version-check install --dry-run --ignore-installed --quiet \
        --target "$work/target" --report "$report" --python-version "$python" --only-binary=:all: \
        --platform "manylinux_2_28_$machine" --platform "manylinux_2_17_$machine" --platform "manylinux2014_$machine" \
        -r requirements/runtime.txt -c requirements/robot-constraints.txt > "$work/log" 2>&1; then
      "$VENV/bin/python" - "$report" "$python" "$machine" <<'PY'
import json, sys
packages = {i["metadata"]["name"].lower(): i["metadata"]["version"] for i in json.load(open(sys.argv[1]))["install"]}
print(f"| {sys.argv[2]} | {sys.argv[3]} | yes | {len(packages)} | {packages.get('numpy')} | "
      f"{packages.get('opencv-python-headless')} |")
PY
    else
      failed=1
      echo "| $python | $machine | **no**: $(grep -m1 ERROR "$work/log" | cut -c1-120) | | | |"
    fi
  done
done
exit $failed
