# rgbt-perception: one-command set-up, tests, demo and benchmarks (see README.md).
VENV ?= .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

# Bytecode is written as modules are first imported (scripts/setup.sh compiles nothing ahead of
# time), also where the environment sets PYTHONDONTWRITEBYTECODE (as CI does).
unexport PYTHONDONTWRITEBYTECODE
.PHONY: setup lock test lint pytest colcon-smoke bench soak soak-long demo demo-adapt demo-train clean robot-check gpu-check

setup:
	@bash scripts/setup.sh

# Rewrite requirements/constraints.txt from .venv (after a make test that passed).
lock: setup
	@bash scripts/lock.sh

lint: setup
	$(VENV)/bin/ruff check .

pytest: setup
	$(PY) -m pytest

colcon-smoke: setup
	$(PY) scripts/colcon_smoke.py

test: setup
	@bash scripts/test.sh

bench: setup
	@bash scripts/bench.sh

# The robot's pip set resolves for Python 3.10 (Humble) and 3.12 (Jazzy, Kilted), x86_64 and aarch64 (needs PyPI).
robot-check: setup
	@bash scripts/robot_check.sh

# On a CUDA machine: fp16/bf16 outputs, AMP training, the node on the GPU, ONNX Runtime CUDA /
# TensorRT, SAMSOD-tiny FPS against the paper (one table, under 8 minutes). Elsewhere: one line, exit 0.
gpu-check: setup
	@bash scripts/gpu_check.sh

# 10 minutes of 30 Hz pairs with faults injected every minute (not part of make bench: its length).
soak: setup
	$(PY) benchmarks/soak_node.py --minutes 10

# An hour of the same, plus one model error and one lifecycle deactivate/activate every 10 minutes
# (the lifecycle node, benchmarks/soak_target.py); latency trends within 5 %/h. Not in CI: its length.
soak-long: setup
	$(PY) benchmarks/soak_node.py --minutes 60 --max-trend 5 --model-error-every 10 --lifecycle-every 10 --control-minutes 2

demo: setup
	@$(PY) demo/run_demo.py

# UUSOD: adapt the demo SAMSOD to an unlabeled bag from a black-hot thermal camera (about a minute on 2 cores).
demo-adapt: setup
	@$(PY) demo/run_demo_adapt.py

clean:
	rm -rf $(VENV) build install log .pytest_cache .ruff_cache

# The demo's checkpoints (committed in demo/checkpoints/): reproduced with exactly this.
demo-train: setup
	$(VENV)/bin/rgbt-train samsod --config demo/samsod_demo.yaml --output-dir runs/demo_samsod --no-progress
	$(VENV)/bin/rgbt-train sartm --config demo/sartm_demo.yaml --output-dir runs/demo_sartm --no-progress
	mkdir -p demo/checkpoints
	cp runs/demo_samsod/best.pt demo/checkpoints/samsod_demo.pt
	cp runs/demo_sartm/best.pt demo/checkpoints/sartm_demo.pt
