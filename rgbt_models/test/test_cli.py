"""The command lines: training with crash + exact resume, torchrun on CPU, config errors. (Evaluation and
export of trained checkpoints run in test/test_field_configuration.py, on copies loaded elsewhere.)"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

CONFIGS = Path(__file__).resolve().parents[1] / "rgbt_models" / "configs" / "train"
pytestmark = pytest.mark.slow


def cli(module: str, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", f"rgbt_models.cli.{module}", *args], capture_output=True,
                          text=True, timeout=600, **kwargs)


def final_state(folder: Path) -> dict:
    return torch.load(folder / "last.pt", weights_only=True)["model"]


def test_sigkill_then_resume_equals_an_uninterrupted_run(tmp_path, capsys):
    config = str(CONFIGS / "samsod_test.yaml")
    steps = ("--epochs", "2", "--max-steps-per-epoch", "2")  # killed once epoch 1 is saved, in epoch 2
    from rgbt_models.cli.train import main as train_cli

    whole = tmp_path / "whole"  # the reference run in this process (the same entry, without a process start)
    assert train_cli(["samsod", "--config", config, "--output-dir", str(whole), "--no-progress", *steps]) == 0
    checksum = json.loads(capsys.readouterr().out.splitlines()[-1])["checksum"]

    crashed = tmp_path / "crashed"
    process = subprocess.Popen([sys.executable, "-m", "rgbt_models.cli.train", "samsod", "--config", config,
                                "--output-dir", str(crashed), "--no-progress", *steps],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not (crashed / "last.pt").exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    epoch_done = torch.load(crashed / "last.pt", weights_only=True)["epoch"]
    assert epoch_done == 0
    resumed = cli("train", "samsod", "--config", config, "--output-dir", str(crashed), "--resume", "--no-progress",
                  *steps)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resumed from" in resumed.stderr
    expected, actual = final_state(whole), final_state(crashed)
    assert expected.keys() == actual.keys()
    assert all(torch.equal(expected[k], actual[k]) for k in expected)
    assert json.loads(resumed.stdout.splitlines()[-1])["checksum"] == checksum
    # Resuming a finished run trains nothing more and reports the same weights.
    assert train_cli(["samsod", "--config", config, "--output-dir", str(whole), "--resume", "--no-progress",
                      *steps]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["checksum"] == checksum
    assert (crashed / "best.pt").is_file() and list((crashed / "tensorboard").iterdir())
    record = torch.load(crashed / "final.pt", weights_only=True)["extra"]  # what the node applies or compares
    assert record["input_size"] == [128, 160] and record["homography"] == [0.0] and record["thermal"]["normalization"]


@pytest.mark.bench
def test_torchrun_two_cpu_processes_end_with_identical_weights(tmp_path):
    """Distributed training (two processes over gloo): make bench, 17 s that few changes touch."""
    torchrun = Path(sys.executable).parent / "torchrun"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TMPDIR": str(tmp_path)}  # torchrun leaves a folder in TMPDIR
    result = subprocess.run([str(torchrun), "--nproc_per_node=2", "--master_port", str(29500 + os.getpid() % 1000),
                             "-m", "rgbt_models.cli.train", "samsod", "--config", str(CONFIGS / "samsod_test.yaml"),
                             "--output-dir", str(tmp_path), "--epochs", "2", "--max-steps-per-epoch", "2",
                             "--no-progress"],
                            capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    sums = dict(re.findall(r"rank (\d) parameter checksum (\w+)", result.stdout))
    assert set(sums) == {"0", "1"} and sums["0"] == sums["1"], result.stdout


def test_bad_config_is_named(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: samsod\nmodel: {}\ntrain: {epochz: 3}\n")
    result = cli("train", "samsod", "--config", str(bad))
    assert result.returncode == 2 and "bad.yaml" in result.stderr and "epochz" in result.stderr


def test_rgbt_labels_offers_the_choices_the_importer_takes():
    """rgbt-labels keeps its own copy of the choices (its --help loads no cv2): the same as cvat's."""
    from rgbt_models.cli import labels
    from rgbt_models.data import cvat

    assert (labels.TASKS, labels.UNDRAWN) == (cvat.TASKS, cvat.UNDRAWN)
