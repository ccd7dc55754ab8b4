"""data/registration.py: the thermal -> RGB homography read from what rgbt-calibrate writes (and
from a whole params file), refused with the file and the problem named, applied as the node does."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rgbt_models.calibration.result import Calibration, parameters_yaml
from rgbt_models.config import ConfigError
from rgbt_models.data.registration import homography_matrix, homography_setting, read_homography, register_thermal
from rgbt_models.training.config import TrainConfig
from rgbt_models.uusod.config import AdaptConfig

WARP = [1.03, 0.0, -4.0, 0.0, 1.03, 3.0, 0.0, 0.0, 1.0]


def test_the_file_rgbt_calibrate_writes_reads_back_as_its_matrix(tmp_path):
    result = Calibration(homography=np.array(WARP).reshape(3, 3), score=0.9, score_before=0.4, spread_px=0.2,
                         frames_used=12, frames_offered=20)
    path = tmp_path / "homography.yaml"
    path.write_text(parameters_yaml(result, "drive/"))
    np.testing.assert_allclose(read_homography(path), np.reshape(WARP, (3, 3)))


def test_a_whole_params_file_flat_or_nested_and_none(tmp_path):
    flat = tmp_path / "flat.yaml"
    flat.write_text(f"/**:\n  ros__parameters:\n    qos.depth: 5\n    thermal.homography: {WARP}\n")
    nested = tmp_path / "nested.yaml"
    nested.write_text(f"rgbt:\n  rgbt_perception:\n    ros__parameters:\n      thermal:\n        homography: {WARP}\n")
    none = tmp_path / "none.yaml"
    none.write_text("/**:\n  ros__parameters:\n    thermal.homography: [0.0]\n")
    for path in (flat, nested):
        np.testing.assert_allclose(homography_setting(str(path), "data.homography"), np.reshape(WARP, (3, 3)))
    assert read_homography(none) is None
    assert homography_setting(None, "data.homography") is None
    np.testing.assert_allclose(homography_setting(WARP, "data.homography"), np.reshape(WARP, (3, 3)))


@pytest.mark.parametrize("content, problem", [
    ("/**:\n  ros__parameters:\n    qos.depth: 5\n", "no thermal.homography under ros__parameters"),
    ("/**:\n  ros__parameters:\n    thermal.homography: [1.0, 0.0]\n", r"needs 9 values \(3x3 row-major\), got 2"),
    ("/**:\n  ros__parameters:\n    thermal.homography: [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]\n",
     "is singular"),
    ("/**:\n  ros__parameters:\n    thermal.homography: identity\n", "must be a list of 9 numbers"),
    ("/**: [unclosed\n", "cannot read a params file"),
])
def test_a_bad_file_is_refused_naming_it_and_the_problem(tmp_path, content, problem):
    path = tmp_path / "homography.yaml"
    path.write_text(content)
    with pytest.raises(ValueError, match=problem) as error:
        read_homography(path)
    assert str(path) in str(error.value)
    with pytest.raises(ValueError, match="cannot read"):
        read_homography(tmp_path / "missing.yaml")


def test_a_training_config_names_a_bad_homography_before_any_training(tmp_path):
    config = tmp_path / "train.yaml"
    config.write_text("task: samsod\nmodel: {}\ndata: {homography: [1.0, 2.0, 3.0]}\n")
    with pytest.raises(ConfigError, match=r"train.yaml: data.homography needs 9 values"):
        TrainConfig.from_yaml(config)
    adapt = tmp_path / "adapt.yaml"
    adapt.write_text(f"stage: pretrain\ndata: {{homography: {tmp_path / 'missing.yaml'}}}\n")
    with pytest.raises(ConfigError, match=r"adapt.yaml: .*missing.yaml: cannot read"):
        AdaptConfig.from_yaml(adapt)


def test_registration_moves_the_thermal_image_onto_the_rgb_grid():
    thermal = np.zeros((40, 50), np.float32)
    thermal[10, 20] = 1.0
    shift = np.array([[1.0, 0.0, 5.0], [0.0, 1.0, -3.0], [0.0, 0.0, 1.0]])
    registered = register_thermal(thermal, shift, 60, 70)
    assert registered.shape == (60, 70) and registered[7, 25] == 1.0 and registered.sum() == 1.0
    assert homography_matrix([0.0], "x") is None


def test_training_registers_its_data_as_the_config_says(tmp_path):
    from rgbt_models.backbone import BackboneConfig
    from rgbt_models.samsod import SAMSOD, SAMSODConfig
    from rgbt_models.training.config import DataConfig
    from rgbt_models.training.trainer import make_datasets

    params = tmp_path / "homography.yaml"
    params.write_text(f"/**:\n  ros__parameters:\n    thermal.homography: {WARP}\n")
    data = DataConfig(height=64, width=64, train_count=2, val_count=1, homography=str(params))
    model = SAMSOD(SAMSODConfig(backbone=BackboneConfig(name="test", image_size=64)))
    for dataset in make_datasets(TrainConfig(task="samsod", model={}, data=data), model):
        np.testing.assert_allclose(dataset.config.homography, np.reshape(WARP, (3, 3)))


def test_adaptation_registers_its_bags_as_the_node_does(tmp_path):
    """rgbt-adapt's bag sources with data.homography: the tensors the node's pipeline makes of the
    same pair, registered bags only (a synthetic source beside them is left as it is)."""
    from rgbt_models.backbone import BackboneConfig
    from rgbt_models.data.drive import MISREGISTRATION, DriveConfig, write_drive_bag
    from rgbt_models.data.rosbag import BagDataset
    from rgbt_models.data.thermal import ThermalSetup
    from rgbt_models.data.transforms import TransformConfig
    from rgbt_models.samsod import SAMSOD, SAMSODConfig
    from rgbt_models.uusod.data import open_unlabeled
    from rgbt_models.uusod.stages import UnlabeledTensors
    from rgbt_perception.pipeline import Pipeline, PipelineConfig

    drive = DriveConfig(seconds=0.2, fps=10, height=96, width=128, dropout=None, thermal_warp=MISREGISTRATION)
    write_drive_bag(tmp_path / "bag", drive, "mcap")
    setup, homography = ThermalSetup("percentile", polarity="black_hot"), np.reshape(MISREGISTRATION, (3, 3))
    sources = [open_unlabeled(f"bag:{tmp_path / 'bag'}:{drive.rgb_topic}:{drive.thermal_topic}", 64, 96,
                              (setup, homography)), open_unlabeled("synthetic:1", 64, 96, (setup, homography))]
    tensors = UnlabeledTensors(sources, TransformConfig(height=64, width=96, train=False,
                                                        **TransformConfig.thermal_fields(setup)))
    pair = BagDataset(tmp_path / "bag", drive.rgb_topic, drive.thermal_topic)[0]
    model = SAMSOD(SAMSODConfig(backbone=BackboneConfig(name="test", image_size=64)))
    pipeline = Pipeline(PipelineConfig(thermal=setup, homography=homography), samsod=model, model_size=(64, 96))
    _, thermal_t = pipeline.preprocess(pair.rgb, pair.thermal)
    assert torch.allclose(tensors[0]["thermal"], thermal_t[0], atol=1e-6)
    synthetic = TransformConfig(height=64, width=96, train=False, **TransformConfig.thermal_fields(setup))
    assert tensors.configs[1] == synthetic  # a registered layout: the stage's set-up, no warp
