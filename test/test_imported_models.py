"""The authors' released weights, imported with rgbt-import (micro-size files in their layouts:
rgbt_models.testing.authors_layout_state), in the tools a team runs: rgbt-replay, the node, ONNX
Runtime int8; and each frame prepared as the authors' evaluations prepare it (SAMSOD: both images
resized to 512x512 with PIL's bilinear filter; SARTM: zero-padded bottom/right to 1280x1280)."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch
from PIL import Image

from rgbt_models.cli.import_weights import main as rgbt_import
from rgbt_models.data.drive import DriveConfig, write_drive_bag
from rgbt_models.testing import authors_layout_state
from rgbt_perception.model_loading import build_pipeline
from rgbt_perception.parameters import PARAMETERS
from rgbt_perception.replay import main as replay

pytestmark = pytest.mark.slow
DRIVE = DriveConfig(seconds=0.2, fps=10, height=128, width=160, dropout=None)


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("imported")
    paths = {}
    for kind, extra in (("samsod", []), ("sartm", ["--dataset", "pst900"])):
        torch.save(authors_layout_state(kind), folder / f"{kind}_authors.pth")
        paths[kind] = str(folder / f"{kind}.pt")
        assert rgbt_import([f"{kind}-authors", str(folder / f"{kind}_authors.pth"), *extra, "--output",
                            paths[kind]]) == 0
    return paths


def params(imported: dict, **extra) -> dict:
    values = {name: spec[0] for name, spec in PARAMETERS.items()}
    return values | {"sartm.checkpoint": imported["sartm"], "samsod.checkpoint": imported["samsod"],
                     "threads": 1, "model_height": 0, "model_width": 0} | extra


def test_frames_are_prepared_as_the_authors_evaluations_prepare_them(imported):
    pipeline = build_pipeline(params(imported), lambda line: None)
    assert {name: (spec.geometry.mode, spec.height) for name, spec in pipeline.inputs.items()} == {
        "samsod": ("resize", 512), "sartm": ("pad", 1280)}
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (120, 160, 3), np.uint8)
    thermal = rng.integers(0, 256, (120, 160), np.uint8)  # 8-bit, as the authors' data sets store it
    # SAMSOD: torchvision's Resize((512, 512)) on the PIL images, then ToTensor (test_dataset).
    rgb_t, thermal_t = pipeline.preprocess(rgb, thermal, model="samsod")
    expected_rgb = np.asarray(Image.fromarray(rgb).resize((512, 512), Image.BILINEAR)) / np.float32(255)
    expected_thermal = np.asarray(Image.fromarray(thermal).resize((512, 512), Image.BILINEAR)) / np.float32(255)
    assert np.array_equal(rgb_t[0].permute(1, 2, 0).numpy(), expected_rgb.astype(np.float32))
    assert np.array_equal(thermal_t[0, 0].numpy(), expected_thermal.astype(np.float32))
    # SARTM: ResizedPad1 -- the frame at its size, zeros bottom/right up to 1280x1280.
    rgb_t, thermal_t = pipeline.preprocess(rgb, thermal, model="sartm")
    assert rgb_t.shape == (1, 3, 1280, 1280) and thermal_t.shape == (1, 1, 1280, 1280)
    assert np.array_equal(rgb_t[0, :, :120, :160].permute(1, 2, 0).numpy(), rgb / np.float32(255))
    assert np.array_equal(thermal_t[0, 0, :120, :160].numpy(), thermal / np.float32(255))
    assert not rgb_t[..., 120:, :].any() and not rgb_t[..., 160:].any() and not thermal_t[..., 120:, :].any()
    result = pipeline.run(rgb, thermal)
    assert result.semantic_mask.shape == (120, 160) and result.saliency_map.shape == (120, 160)
    assert {stat.name for stat in result.class_stats} <= {"background", "fire_extinguisher", "backpack",
                                                          "hand_drill", "survivor"}


def test_imported_models_replay_a_bag(tmp_path, imported):
    bag = tmp_path / "bag"
    write_drive_bag(bag, DRIVE)
    out = tmp_path / "out"
    # one size for both (each model's own, 512 resized beside 1280 padded, is the test above's)
    code = replay([str(bag), "-p", f"sartm.checkpoint:={imported['sartm']}", "-p",
                   f"samsod.checkpoint:={imported['samsod']}", "-p", "model_height:=256", "-p", "model_width:=256",
                   "--output", str(out), "--no-video"])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames_processed"] == 2
    assert {"sartm", "samsod"} <= set(summary["latency_ms"])


def test_onnxruntime_int8_of_the_imported_samsod_is_within_0_01_s_of_pytorch(tmp_path, imported):
    """The imported SAMSOD exported to ONNX Runtime int8: its S-measure against PyTorch fp32 on the
    same frames (SARTM's authors variant exports as well: benchmarks and rgbt-export's own check)."""
    bag = tmp_path / "bag"
    write_drive_bag(bag, DriveConfig(seconds=0.2, fps=10, height=128, width=160, dropout=None, seed=3))
    scores = {}
    for name, extra in (("torch", []), ("int8", ["-p", "runtime:=onnxruntime", "-p", "precision:=int8", "-p",
                                                 f"onnxruntime.cache_dir:={tmp_path / 'cache'}", "-p",
                                                 "onnxruntime.providers:=[CPUExecutionProvider]"])):
        out = tmp_path / name
        code = replay([str(bag), "-p", "sartm.enabled:=false", "-p", f"samsod.checkpoint:={imported['samsod']}",
                       "-p", "model_height:=96", "-p", "model_width:=128", "--mask-topic", DRIVE.mask_topic,
                       "--output", str(out), "--no-video", *extra])
        assert code == 0
        scores[name] = json.loads((out / "summary.json").read_text())["saliency"]["with thermal"]["S"]
    assert (tmp_path / "cache").is_dir()  # the int8 graph was built and run
    assert abs(scores["int8"] - scores["torch"]) <= 0.01, scores


@pytest.mark.ros
def test_the_node_runs_the_imported_models(rclpy_context, imported):
    from rclpy.parameter import Parameter

    from rgbt_perception.node import RGBTPerceptionNode
    from rgbt_perception.testing.node_fixtures import CameraFeed, scene_pair

    overrides = [Parameter("sartm.checkpoint", value=imported["sartm"]),
                 Parameter("samsod.checkpoint", value=imported["samsod"]),
                 Parameter("model_height", value=256), Parameter("model_width", value=256)]
    node = RGBTPerceptionNode(context=rclpy_context, parameter_overrides=overrides)
    cameras = CameraFeed(node)
    try:
        assert node.pipeline.inputs["sartm"].geometry.mode == "pad"
        cameras.pair(*scene_pair(0, 10, 0))
        deadline = time.monotonic() + 120
        while node.counts["processed"] < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert node.counts["processed"] == 1 and node.counts["model_errors"] == 0
    finally:
        cameras.close()
        node.shutdown()
        node.destroy_node()


def test_rgbt_eval_scores_the_imported_sartm_on_its_padded_input(tmp_path, imported):
    """rgbt-eval on a PST900 folder: the frame padded (to 256x256 here, 1280x1280 by default, as the
    other tests run it), the prediction cropped back to it, scored against the label (what
    tools/val_mm.py computes, where padding is ignored)."""
    import cv2

    from rgbt_models.cli.evaluate import main as evaluate
    from rgbt_models.metrics import ConfusionMatrix
    from rgbt_models.runtime import load_model

    rng = np.random.default_rng(1)
    base, frames = tmp_path / "PST900" / "test", []
    for name in ("a", "b"):
        rgb, thermal = rng.integers(0, 256, (96, 128, 3), np.uint8), rng.integers(0, 256, (96, 128), np.uint8)
        label = rng.integers(0, 5, (96, 128), np.uint8)
        for folder, image in (("rgb", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)), ("thermal", thermal), ("labels", label)):
            (base / folder).mkdir(parents=True, exist_ok=True)
            assert cv2.imwrite(str(base / folder / f"{name}.png"), image)
        frames.append((rgb, thermal, label))
    out = tmp_path / "eval"
    assert evaluate(["--checkpoint", imported["sartm"], "--dataset", f"pst900:{tmp_path / 'PST900'}:test",
                     "--height", "256", "--width", "256", "--output", str(out), "--no-progress", "--threads", "1"]) == 0
    miou = json.loads((out / "results.json").read_text())["pst900 (test)"]["mIoU"]
    model, confusion = load_model(None, imported["sartm"]), ConfusionMatrix(5)
    for rgb, thermal, label in frames:
        x, t = torch.zeros(1, 3, 256, 256), torch.zeros(1, 1, 256, 256)
        x[0, :, :96, :128] = torch.from_numpy(rgb).permute(2, 0, 1) / 255.0
        t[0, 0, :96, :128] = torch.from_numpy(thermal) / 255.0
        ids, _ = model.predict(x, t)
        confusion.step(ids[0, :96, :128].numpy().astype(np.uint8), label)
    assert miou == pytest.approx(confusion.results()["mIoU"], abs=1e-12)


def test_rgbt_adapt_tunes_the_imported_samsod_and_keeps_its_computation(tmp_path, imported):
    """UUSOD's adapter stage from the imported file: the result is a SAMSOD of the authors' form
    (no dense prompt, thermal in [0, 1], PIL-resized input) with a domain adapter added."""
    import yaml

    from rgbt_models.cli.adapt import main as adapt
    from rgbt_models.runtime import load_model

    config = {"stage": "adapter", "source_checkpoint": imported["samsod"], "adapter_hidden": 8,
              "data": {"sources": ["synthetic:4:500:night"], "height": 64, "width": 64},
              "train": {"epochs": 1, "batch_size": 2, "optimizer": "adam", "lr": 1.0e-3, "scheduler": "constant",
                        "seed": 0}, "output_dir": str(tmp_path / "adapted")}
    (tmp_path / "adapt.yaml").write_text(yaml.safe_dump(config))
    assert adapt(["adapter", "--config", str(tmp_path / "adapt.yaml"), "--no-progress"]) == 0
    adapted = load_model(None, tmp_path / "adapted" / "samsod.pt")
    assert adapted.config.domain_adapter == 8 and adapted.config.decoder_dense_prompt is False
    assert adapted.config.backbone.thermal_input == "unit" and adapted.input_geometry.resize == "pil_bilinear"
