"""The README's flows in the configuration a robot team runs, not the sandbox one.

On the workstation, models are trained from a Meta-format SAM 2.1 file (sam2's own builder and
key layout, micro sizes: test/sam2_files.py) named by a relative path, as the repository's
configs name it; SAMSOD trains from rosbag2 bags. Then every checkpoint is copied to a
"robot" folder, the SAM 2 file is renamed, and each tool runs from another working directory:
rgbt-eval, rgbt-export, rgbt-replay (on a bag cut by a power loss), rgbt-adapt (adapter tuning
on the robot's copy; the detector stage from a copied cue extractor) and the node itself on
the adapted file.
"""

from __future__ import annotations

import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import yaml

from rgbt_models.data.drive import DriveConfig, write_drive_bag
from rgbt_models.data.thermal import ThermalSetup
from rgbt_models.testing import official_sam2_file

pytestmark = pytest.mark.slow

SAM2_RELATIVE = "checkpoints/sam2.1_hiera_micro.pt"
BACKBONE = {"name": "test", "version": "2.1", "image_size": 128, "checkpoint": SAM2_RELATIVE}
DRIVE = DriveConfig(seconds=2.0, fps=10, height=128, width=160, dropout=None)  # 2 full 1 MiB chunks and a part
SMALL = {"height": 96, "width": 128}


@contextmanager
def working_directory(path: Path):
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def write_yaml(path: Path, content: dict) -> str:
    path.write_text(yaml.safe_dump(content))
    return path.name


def cut_bag(source: Path, target: Path, keep: float) -> Path:
    """A copy of an mcap bag whose file stops at `keep` of its length, without metadata.yaml:
    what a recorder leaves behind when the power goes."""
    target.mkdir(parents=True)
    (mcap,) = source.glob("*.mcap")
    data = mcap.read_bytes()
    (target / mcap.name).write_bytes(data[: int(len(data) * keep)])
    return target


@pytest.fixture(scope="module")
def field(tmp_path_factory):
    """Train on the workstation, then copy to the robot and take the SAM 2 file away."""
    from rgbt_models.cli.adapt import main as adapt
    from rgbt_models.cli.train import main as train

    root = tmp_path_factory.mktemp("field")
    ws = root / "workstation"
    (ws / "checkpoints").mkdir(parents=True)
    sam2 = ws / SAM2_RELATIVE
    shutil.copy(official_sam2_file("micro"), sam2)
    for name in ("drive_a", "drive_b"):
        write_drive_bag(ws / "bags" / name, DriveConfig(**{**DRIVE.__dict__, "seed": len(name) + ord(name[-1])}))
    steps = ["--epochs", "1", "--max-steps-per-epoch", "2", "--no-progress"]
    samsod = write_yaml(ws / "samsod.yaml", {
        "task": "samsod", "model": {"backbone": BACKBONE, "train_encoder": True},  # then frozen by adaptation
        "data": {"dataset": "bag", "root": "bags", "train_split": "drive_a", "val_split": "drive_b",
                 "rgb_topic": DRIVE.rgb_topic, "thermal_topic": DRIVE.thermal_topic, "mask_topic": DRIVE.mask_topic,
                 "thermal_normalization": "stable", "thermal_percentiles": [2, 98], **SMALL},
        "train": {"batch_size": 2, "lr": 1e-3}})
    sartm = write_yaml(ws / "sartm.yaml", {
        "task": "sartm", "model": {"backbone": BACKBONE, "classes": "synthetic", "lora_rank": 4,
                                   "loss": {"cmkd_weight": 0.0}},
        "data": {"train_count": 4, "val_count": 2, "thermal_normalization": "stable", "thermal_percentiles": [2, 98],
                 **SMALL}, "train": {"batch_size": 2}})
    sce = write_yaml(ws / "sce.yaml", {
        "stage": "sce", "model": {"backbone": BACKBONE},
        "data": {"sources": ["synthetic:4:0:mixed"], **SMALL}, "train": {"epochs": 1, "batch_size": 2}})
    with working_directory(ws):
        assert train(["samsod", "--config", samsod, "--output-dir", "runs/samsod", *steps]) == 0
        assert train(["sartm", "--config", sartm, "--output-dir", "runs/sartm", *steps]) == 0
        assert adapt(["sce", "--config", sce, "--output-dir", "runs/sce", *steps]) == 0

    robot = root / "robot"
    (robot / "models").mkdir(parents=True)
    models = {}
    for name, path in (("samsod", "runs/samsod/best.pt"), ("sartm", "runs/sartm/best.pt"), ("sce", "runs/sce/sce.pt")):
        models[name] = robot / "models" / f"{name}.pt"
        shutil.copy(ws / path, models[name])
    moved = sam2.with_name("sam2.1_hiera_micro.pt.moved")
    sam2.rename(moved)
    (robot / "work").mkdir()
    bag = cut_bag(ws / "bags" / "drive_a", robot / "bags" / "cut", keep=0.8)
    return SimpleNamespace(root=root, workstation=ws, robot=robot, work=robot / "work", models=models,
                           sam2_moved=moved, bag=bag)


def test_trained_checkpoints_load_anywhere_without_the_sam2_file(field):
    from rgbt_models.runtime import load_model

    official = torch.load(field.sam2_moved, weights_only=True)["model"]
    with working_directory(field.work):
        for kind in ("samsod", "sartm"):
            content = torch.load(field.models[kind], weights_only=True)
            assert content["version"] == 2
            assert content["config"]["backbone"]["checkpoint"] == SAM2_RELATIVE  # a record, not read
            model = load_model(None, field.models[kind])
            if kind == "sartm":  # frozen encoder: Meta's weights, carried in the checkpoint
                neck = model.backbone.image_encoder.neck.state_dict()
                assert all(torch.equal(neck[k], official[f"image_encoder.neck.{k}"]) for k in neck)
            assert model.input_size == (SMALL["height"], SMALL["width"])
            # the thermal set-up it was trained with travels with it (the node applies it by default)
            assert model.thermal_setup == ThermalSetup("stable", percentiles=(2.0, 98.0))


def test_eval_export_and_replay_on_the_robot(field, capsys, caplog):
    from rgbt_models.cli.evaluate import main as evaluate
    from rgbt_models.cli.export import main as export
    from rgbt_perception.replay.cli import main as replay

    with working_directory(field.work):
        for kind in ("samsod", "sartm"):
            capsys.readouterr()
            assert evaluate(["--checkpoint", str(field.models[kind]), "--dataset", "synthetic", "--synthetic-count",
                             "2", "--output", f"eval_{kind}"]) == 0
            (entry,) = json.loads(Path(f"eval_{kind}/results.json").read_text()).values()
            if kind == "samsod":
                assert {"S", "maxF", "maxE", "MAE"} <= set(entry) and "| S |" in capsys.readouterr().out
                assert Path("eval_samsod/pr_curve.png").is_file() and Path("eval_samsod/f_curve.png").is_file()
            else:
                assert 0 <= entry["mIoU"] <= 1 and "mIoU" in Path("eval_sartm/results.md").read_text()
                assert Path("eval_sartm/confusion_0.png").is_file()
            assert export(["--checkpoint", str(field.models[kind]), "--output", f"{kind}.onnx", "--repeats", "1"]) == 0
            out = capsys.readouterr().out
            assert "max |onnxruntime - torch| = " in out and "median time: torch" in out
            assert Path(f"{kind}.onnx").stat().st_size > 100_000
        code = replay([str(field.bag), "-p", f"sartm.checkpoint:={field.models['sartm']}",
                       "-p", f"samsod.checkpoint:={field.models['samsod']}", "--rgb-topic", DRIVE.rgb_topic,
                       "--thermal-topic", DRIVE.thermal_topic, "--output", "replay", "--no-progress", "--no-video",
                       "--overlay-every", "0"])
        assert code == 0, capsys.readouterr().err
        summary = json.loads(Path("replay/summary.json").read_text())
    (line,) = [r.getMessage() for r in caplog.records if r.name == "rgbt_models.bag"]  # one line
    assert "the bag is truncated" in line and "recovered 60 complete message(s) from drive_a.mcap" in line
    assert 0 < summary["frames_processed"] < DRIVE.seconds * DRIVE.fps
    assert summary["counts"]["recovered_messages"] == 60


@pytest.fixture(scope="module")
def adapted(field):
    """rgbt-adapt adapter on the robot's copy of SAMSOD, from an unlabeled truncated bag; the
    result copied once more."""
    from rgbt_models.cli.adapt import main as adapt

    config = write_yaml(field.work / "adapter.yaml", {
        "stage": "adapter", "source_checkpoint": str(field.models["samsod"]), "adapter_hidden": 8,
        "data": {"sources": [f"bag:{field.bag}:{DRIVE.rgb_topic}:{DRIVE.thermal_topic}"], **SMALL},
        "train": {"epochs": 1, "batch_size": 2, "scheduler": "constant"}})
    with working_directory(field.work):
        assert adapt(["adapter", "--config", config, "--output-dir", "adapted", "--max-steps-per-epoch", "2",
                      "--no-progress"]) == 0
    copy = field.robot / "models" / "samsod_adapted.pt"
    shutil.copy(field.work / "adapted" / "samsod.pt", copy)
    return copy


def test_an_adapted_samsod_keeps_every_trained_weight_and_loads_everywhere(field, adapted):
    from rgbt_models.cli.evaluate import main as evaluate
    from rgbt_models.samsod import SAMSOD
    from rgbt_perception.replay.cli import main as replay

    assert (field.work / "adapted" / "tensorboard").is_dir()
    with working_directory(field.robot):
        source, model = SAMSOD.load(field.models["samsod"]), SAMSOD.load(adapted)
        assert model.domain_adapter is not None and model.input_size == (SMALL["height"], SMALL["width"])
        assert model.thermal_setup == source.thermal_setup == ThermalSetup("stable", percentiles=(2.0, 98.0))
        own = model.state_dict()
        for key, value in source.state_dict().items():  # the decoder and the encoder it was trained with
            assert torch.equal(own[key], value), key
        official = torch.load(field.sam2_moved, weights_only=True)["model"]
        neck = model.backbone.image_encoder.neck.state_dict()
        assert not all(torch.equal(v, official[f"image_encoder.neck.{k}"]) for k, v in neck.items())
        assert evaluate(["--checkpoint", str(adapted), "--dataset", "synthetic", "--synthetic-count", "2",
                         "--output", "eval_adapted"]) == 0
        assert replay([str(field.bag), "-p", "sartm.enabled:=false", "-p", f"samsod.checkpoint:={adapted}",
                       "--rgb-topic", DRIVE.rgb_topic, "--thermal-topic", DRIVE.thermal_topic,
                       "--mask-topic", DRIVE.mask_topic, "--output", "replay_adapted", "--no-progress", "--no-video",
                       "--overlay-every", "0"]) == 0
        summary = json.loads(Path("replay_adapted/summary.json").read_text())
        scored = summary["saliency"]
        assert list(scored) == ["with thermal"]  # no dropout in this bag: every frame fused
        assert scored["with thermal"]["images"] == summary["frames_processed"] == 15  # every frame scored


def test_the_detector_stage_reads_a_copied_cue_extractor_and_a_cut_bag(field, capsys):
    from rgbt_models.cli.adapt import main as adapt
    from rgbt_models.data.rosbag import read_pairs
    from rgbt_models.runtime import load_model

    config = write_yaml(field.work / "detector.yaml", {
        "stage": "detector", "model": {"backbone": {**BACKBONE, "checkpoint": str(field.sam2_moved)}},
        "cue_checkpoint": str(field.models["sce"]),  # its own SAM 2 path no longer exists
        "data": {"sources": [f"bag:{field.bag}:{DRIVE.rgb_topic}:{DRIVE.thermal_topic}"], **SMALL},
        "train": {"epochs": 1, "batch_size": 2}})
    with working_directory(field.work):
        assert adapt(["detector", "--config", config, "--output-dir", "detector", "--max-steps-per-epoch", "1",
                      "--no-progress"]) == 0
    pairs = len(list(read_pairs(field.bag, DRIVE.rgb_topic, DRIVE.thermal_topic)))
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["samples"] == pairs > 0
    assert len(list((field.work / "detector" / "pseudo_labels").glob("*.png"))) == pairs
    copy = field.robot / "models" / "samsod_uusod.pt"
    shutil.copy(field.work / "detector" / "samsod.pt", copy)
    assert load_model(None, copy).kind == "samsod"


@pytest.mark.ros
def test_the_node_runs_the_adapted_model_from_another_folder(field, adapted, rclpy_context):
    from rgbt_perception.testing.node_fixtures import Probe
    from rgbt_perception.testing.ros_harness import NodeProcess

    node = NodeProcess("rgbt_perception.node", cwd=field.work, ros_args=[
        "--params-file", str(Path(__file__).resolve().parents[1] / "config" / "rgbt.yaml"),
        "-p", f"sartm.checkpoint:={field.models['sartm']}", "-p", f"samsod.checkpoint:={adapted}",
        "-p", "diagnostics_period:=0.25"])
    probe = Probe(rclpy_context)
    try:
        node.wait_for_log("rgbt_perception ready", timeout=90)
        assert probe.wait_for_node(), node.log()
        probe.publish_pairs(3, rate=2.0)
        assert probe.wait(lambda: probe.received["saliency/map"] and probe.received["semantic/mask"], 60), node.log()
        node.stop()
    finally:
        node.kill()
        probe.close()
