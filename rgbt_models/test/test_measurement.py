"""One geometry and one class list: the checks that keep a metric from changing with the tool.

Class lists are compared (and mapped only on request), a data set of the wrong task or a model
input size that is not a multiple of 32 is refused with a one-line reason, a frame goes through
the same preprocessing in training, evaluation and the pipeline, predictions are scored at the
label's native size, and ignore-only frames are skipped and counted."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from rgbt_models.backbone import BackboneConfig
from rgbt_models.cli.evaluate import main as evaluate_cli
from rgbt_models.config import ConfigError
from rgbt_models.data.classes import ClassListMismatch, check_label_ids, class_list, label_lookup
from rgbt_models.data.datasets import DatasetError, FolderDataset, Sample, SyntheticDataset, check_task
from rgbt_models.data.geometry import aspect_input_size, check_input_size
from rgbt_models.data.synthetic import make_scene
from rgbt_models.data.transforms import TransformConfig, apply_transform
from rgbt_models.metrics import ConfusionMatrix
from rgbt_models.samsod import SAMSOD, SAMSODConfig
from rgbt_models.sartm import SARTM, SARTMConfig
from rgbt_models.training.config import TrainConfig

BACKBONE = BackboneConfig(name="test", image_size=128)


def write_folder(root: Path, count: int = 3, height: int = 100, width: int = 140, classes: str | None = "synthetic",
                 kind: str = "labels") -> Path:
    """A folder data set of synthetic scenes at a size that is not the model's (rgb/ thermal/ labels|masks/)."""
    for folder in ("rgb", "thermal", kind):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for i in range(count):
        scene = make_scene(500 + i, height, width)
        cv2.imwrite(str(root / "rgb" / f"f{i}.png"), cv2.cvtColor(scene.rgb, cv2.COLOR_RGB2BGR))
        cv2.imwrite(str(root / "thermal" / f"f{i}.png"), scene.thermal_raw)
        cv2.imwrite(str(root / kind / f"f{i}.png"), scene.label if kind == "labels" else scene.saliency)
    if classes:
        (root / "classes.yaml").write_text(json.dumps(class_list(classes).to_dict()))
    return root


@pytest.fixture(scope="module")
def sartm_checkpoint(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "sartm.pt"
    torch.manual_seed(0)
    SARTM(SARTMConfig(backbone=BACKBONE, classes="synthetic", lora_rank=4), torch.zeros(4, 1)).save(
        path, extra={"input_size": [96, 128]})
    return path


# -- class lists ---------------------------------------------------------------------------------
def test_different_class_lists_are_refused_showing_both():
    with pytest.raises(ClassListMismatch) as error:
        label_lookup(class_list("mfnet"), class_list("pst900"), what="data set 'pst900'")
    message = str(error.value)
    assert "model:    mfnet (9): 0 unlabeled, 1 car" in message and "pst900 (5): 0 background" in message
    assert label_lookup(class_list("pst900"), class_list("pst900")) is None


def test_a_class_mapping_turns_data_set_ids_into_model_ids(tmp_path):
    mapping = tmp_path / "map.yaml"
    mapping.write_text("mapping:\n  background: unlabeled\n  survivor: person\n  3: ignore\n")
    lut = label_lookup(class_list("mfnet"), class_list("pst900"), str(mapping))
    label = np.array([[0, 1, 2], [3, 4, 255]], np.uint8)
    assert lut[label].tolist() == [[0, 255, 255], [255, 2, 255]]  # unlisted ids are ignored too
    mapping.write_text("mapping:\n  survivor: pedestrian\n")
    with pytest.raises(ConfigError, match="'pedestrian' is not a model class; the model has mfnet"):
        label_lookup(class_list("mfnet"), class_list("pst900"), str(mapping))


def test_label_ids_outside_the_model_list_are_named():
    check_label_ids(np.array([0, 3, 255], np.uint8), class_list("synthetic"), "frame 0")
    with pytest.raises(ClassListMismatch, match=r"frame 0: label ids \[7\] are not classes of the model"):
        check_label_ids(np.array([0, 7], np.uint8), class_list("synthetic"), "frame 0")


def test_eval_refuses_another_class_list_and_accepts_a_mapping(tmp_path, sartm_checkpoint, capsys):
    data = write_folder(tmp_path / "data", classes="pst900")
    code = evaluate_cli(["--checkpoint", str(sartm_checkpoint), "--dataset", f"folder:{data}",
                         "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "synthetic (4): 0 background, 1 sky" in err and "pst900 (5)" in err
    mapping = tmp_path / "map.yaml"
    mapping.write_text("mapping: {background: background, survivor: person}\n")
    code = evaluate_cli(["--checkpoint", str(sartm_checkpoint), "--dataset", f"folder:{data}",
                         "--class-mapping", str(mapping), "--output", str(tmp_path / "out")])
    assert code == 0, capsys.readouterr().err


def test_training_refuses_another_class_list(tmp_path, capsys):
    data = write_folder(tmp_path / "data", classes="fmb")
    config = tmp_path / "train.yaml"
    config.write_text(f"task: sartm\nmodel: {{backbone: {{name: test, image_size: 128}}, classes: synthetic, "
                      f"lora_rank: 4}}\ndata: {{dataset: folder, root: {data}, height: 96, width: 128}}\n"
                      f"train: {{epochs: 1, batch_size: 1}}\noutput_dir: {tmp_path / 'run'}\n")
    from rgbt_models.cli.train import main as train_cli

    assert train_cli(["sartm", "--config", str(config), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "train.yaml" in err and "synthetic (4)" in err and "fmb (15)" in err and "Traceback" not in err


# -- task, sizes -------------------------------------------------------------------------------------
def test_wrong_task_data_set_is_refused(tmp_path, sartm_checkpoint, capsys):
    saliency = FolderDataset(write_folder(tmp_path / "sal", kind="masks", classes=None))
    with pytest.raises(DatasetError, match="'vt821' is a saliency data set, but SARTM needs a semantic one"):
        check_task(saliency, "sartm", "vt821")
    check_task(SyntheticDataset(1), "sartm", "synthetic")
    code = evaluate_cli(["--checkpoint", str(sartm_checkpoint), "--dataset", f"folder:{tmp_path / 'sal'}",
                         "--output", str(tmp_path / "out")])
    assert code == 2 and "saliency data set, but SARTM needs a semantic one" in capsys.readouterr().err


def test_input_sizes_not_multiple_of_32_name_the_value_to_use(tmp_path, sartm_checkpoint, capsys):
    with pytest.raises(ConfigError, match=r"height 100 -> use 96"):
        check_input_size(100, 128, "test")
    config = tmp_path / "train.yaml"
    config.write_text("task: samsod\nmodel: {}\ndata: {height: 500, width: 512}\n")
    with pytest.raises(ConfigError, match=r"train.yaml: data.height/width: .*height 500 -> use 512"):
        TrainConfig.from_yaml(config)
    code = evaluate_cli(["--checkpoint", str(sartm_checkpoint), "--dataset", "synthetic", "--height", "100",
                         "--width", "128", "--output", str(tmp_path / "out")])
    assert code == 2 and "height 100 -> use 96" in capsys.readouterr().err
    assert aspect_input_size(720, 1280, 640) == (352, 640)


# -- one geometry ----------------------------------------------------------------------------------
@pytest.mark.parametrize("registered", [True, False], ids=["registered", "thermal_camera_off_by_a_homography"])
def test_a_frame_is_preprocessed_alike_in_training_evaluation_and_the_pipeline(registered):
    """Also for a rig whose thermal camera (of another size) is registered by thermal.homography:
    data.homography in training and rgbt-eval's --homography warp as the node does."""
    from rgbt_perception.pipeline import Pipeline, PipelineConfig

    scene = make_scene(7, 90, 150)  # neither the model's size nor its aspect ratio
    thermal = scene.thermal_raw if registered else cv2.resize(scene.thermal_raw, (120, 80))
    homography = None if registered else np.array([[1.25, 0.02, -3.0], [0.01, 1.1, 2.0], [0.0, 0.0, 1.0]])
    sample = Sample("x", scene.rgb, thermal, scene.label, scene.saliency)
    evaluation = apply_transform(sample, TransformConfig(height=64, width=96, train=False, homography=homography))
    training = apply_transform(sample, TransformConfig(height=64, width=96, train=True, scale_range=(1.0, 1.0),
                                                       hflip=False, brightness=0.0, contrast=0.0,
                                                       homography=homography))
    model = SAMSOD(SAMSODConfig(backbone=BackboneConfig(name="test", image_size=64)))
    rgb_t, thermal_t = Pipeline(PipelineConfig(homography=homography), samsod=model, model_size=(64, 96)).preprocess(
        scene.rgb, thermal)
    for tensors in (training, {"rgb": rgb_t[0], "thermal": thermal_t[0]}):
        assert torch.equal(tensors["rgb"], evaluation["rgb"]) and torch.equal(tensors["thermal"], evaluation["thermal"])
    # Evaluation keeps the ground truth at its native size; training's is at the model's.
    assert evaluation["label"].shape == (90, 150) and evaluation["mask"].shape == (90, 150)
    assert training["label"].shape == (64, 96) and training["mask"].shape == (1, 64, 96)


def test_training_scale_pads_with_ignore_and_crops_alike():
    scene = make_scene(3, 64, 96)
    sample = Sample("x", scene.rgb, scene.thermal_raw, scene.label, scene.saliency)
    small = apply_transform(sample, TransformConfig(height=64, width=96, scale_range=(0.75, 0.75), hflip=False),
                            np.random.default_rng(1))
    assert small["rgb"].shape == (3, 64, 96) and (small["label"] == 255).sum() == 64 * 96 - 48 * 72
    large = apply_transform(sample, TransformConfig(height=64, width=96, scale_range=(1.25, 1.25), hflip=False),
                            np.random.default_rng(1))
    assert large["rgb"].shape == (3, 64, 96) and not (large["label"] == 255).any()


# -- scoring ---------------------------------------------------------------------------------------
def test_evaluation_scores_at_the_labels_native_size(tmp_path, sartm_checkpoint):
    from rgbt_models.data.transforms import TransformedDataset
    from rgbt_models.evaluation.core import evaluate

    model = SARTM.load(sartm_checkpoint)
    data = FolderDataset(write_folder(tmp_path / "data", height=100, width=140))
    results = evaluate(model, TransformedDataset(data, TransformConfig(height=96, width=128, train=False)))
    assert np.array(results["confusion_matrix"]).sum() == 3 * 100 * 140 and results["frames"] == 3


def test_ignore_only_frames_are_skipped_and_counted(recwarn):
    matrix = ConfusionMatrix(3)
    matrix.step(np.zeros((4, 4), np.uint8), np.full((4, 4), 255, np.uint8))
    results = matrix.results()
    assert results["frames_without_valid_pixels"] == 1 and np.isnan(results["mIoU"])
    assert not [w for w in recwarn if "Mean of empty slice" in str(w.message)]
    matrix.step(np.array([[0, 2]], np.uint8), np.array([[0, 0]], np.uint8))
    results = matrix.results()
    # class 1 absent everywhere: left out; class 2 only predicted: IoU 0 and counted.
    assert np.isnan(results["per_class"]["1"]["IoU"]) and results["per_class"]["2"]["IoU"] == 0
    assert results["mIoU"] == pytest.approx(0.25) and results["mAcc"] == pytest.approx(0.5)


def test_a_blank_saliency_map_yields_no_object():
    """The adaptive threshold (2 x the mean, at least 0.5): a blank or nearly blank map marks nothing."""
    from rgbt_perception.pipeline import saliency_mask, salient_regions

    for blank in (np.zeros((40, 60), np.float32), np.full((40, 60), 1e-3, np.float32)):
        binary = saliency_mask(blank, -1.0, 0.5)
        assert not binary.any() and salient_regions(blank, binary, min_area=1) == []
    spot = np.zeros((40, 60), np.float32)
    spot[10:20, 10:20] = 0.9
    (region,) = salient_regions(spot, saliency_mask(spot, -1.0, 0.5), min_area=1)
    assert region.area == 100


def test_preset_class_ids_are_the_data_sets_own():
    """Each preset's ids as its data set defines them (see the sources cited in classes.py)."""
    pst = class_list("pst900")
    assert pst.names == ("background", "fire_extinguisher", "backpack", "hand_drill", "survivor")
    assert pst.colors == ((0, 0, 0), (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255))  # toolkit colormap
    mfnet = class_list("mfnet")
    assert [mfnet.names.index(n) for n in ("unlabeled", "car", "person", "bike", "color_cone", "bump")] == \
        [0, 1, 2, 3, 7, 8]
    fmb = class_list("fmb")
    assert fmb.num_classes == 15 and fmb.names[0] == "background" and fmb.names.index("person") == 8
