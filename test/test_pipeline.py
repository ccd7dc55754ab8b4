"""The ROS-free pipeline: thermal normalisation, outputs, degraded mode, size handling."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rgbt_models.backbone import BackboneConfig
from rgbt_models.data.synthetic import make_scene
from rgbt_models.data.thermal import normalize_thermal
from rgbt_models.samsod import SAMSOD, SAMSODConfig
from rgbt_models.sartm import SARTM, SARTMConfig
from rgbt_perception.pipeline import FrameRejected, Pipeline, PipelineConfig


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    backbone = BackboneConfig(name="test", image_size=128)
    return (SARTM(SARTMConfig(backbone=backbone, classes="synthetic", lora_rank=4), torch.zeros(4, 1)),
            SAMSOD(SAMSODConfig(backbone=backbone)))


def test_thermal_normalisations():
    raw = np.array([[1000, 2000], [3000, 65535]], np.uint16)
    assert np.allclose(normalize_thermal(raw, "minmax"), (raw - 1000) / 64535)
    assert np.allclose(normalize_thermal(raw, "fixed", (1000, 3000)), [[0, 0.5], [1, 1]])
    robust = normalize_thermal(raw, "percentile", percentiles=(0, 50))
    assert robust.max() == 1.0 and robust[0, 0] == 0.0
    as_float = np.array([[np.nan, 300.0], [np.inf, 310.0]], np.float32)
    assert np.allclose(normalize_thermal(as_float, "minmax"), [[0, 0], [0, 1]])
    with pytest.raises(ValueError, match="no finite pixel"):
        normalize_thermal(np.full((2, 2), np.nan, np.float32))


def test_outputs_at_rgb_resolution(models):
    scene = make_scene(1, 120, 150)
    result = Pipeline(PipelineConfig(), *models).run(scene.rgb, scene.thermal_raw)
    assert result.semantic_mask.shape == (120, 150) and result.semantic_mask.dtype == np.uint8
    assert result.semantic_color.shape == (120, 150, 3)
    assert result.saliency_map.shape == result.saliency_mask.shape == (120, 150)
    assert abs(sum(s.pixel_fraction for s in result.class_stats) - 1) < 1e-6
    for obj in result.objects:
        assert obj.area >= 20 and 0 <= obj.x < 150
    assert {"preprocess", "sartm", "samsod", "total"} <= set(result.timings)


def test_configured_output_size_and_degraded_mode(models):
    scene = make_scene(2)
    pipeline = Pipeline(PipelineConfig(output_height=64, output_width=80), *models, model_size=(128, 160))
    result = pipeline.run(scene.rgb, None)
    assert result.degraded and result.semantic_mask is None
    assert result.saliency_map.shape == (64, 80)
    rgb_only = models[1].predict(pipeline.preprocess(scene.rgb, None)[0], None)
    assert rgb_only.shape[-2:] == (128, 160)


def test_size_mismatch_policy(models):
    scene = make_scene(3)
    small_thermal = scene.thermal_raw[::2, ::2]
    resized = Pipeline(PipelineConfig(), *models).run(scene.rgb, small_thermal)  # default: thermal resized
    assert resized.semantic_mask.shape == scene.rgb.shape[:2] and resized.saliency_map.shape == scene.rgb.shape[:2]
    assert not resized.degraded
    with pytest.raises(FrameRejected, match="differ"):
        Pipeline(PipelineConfig(size_mismatch="reject"), *models).run(scene.rgb, small_thermal)


def test_the_uncertainty_is_measured_once_on_first_use(models):
    """The node publishes a frame's masks before it measures the uncertainty: the pipeline keeps
    what it is measured from, and measuring it (once) drops that and records its time."""
    scene = make_scene(5)
    result = Pipeline(PipelineConfig(), *models).run(scene.rgb, scene.thermal_raw)
    assert "uncertainty" not in result.timings and set(result.uncertainty_source) == {"semantic", "saliency"}
    parts = result.uncertainty
    assert set(parts) == {"saliency", "semantic", "combined"} and 0.0 < parts["combined"] < 1.0
    assert result.uncertainty_source is None and result.timings["uncertainty"] > 0.0
    assert result.uncertainty is parts  # measured once
    degraded = Pipeline(PipelineConfig(), *models).run(scene.rgb, None).uncertainty  # SARTM paused
    assert np.isnan(degraded["semantic"]) and degraded["combined"] == degraded["saliency"]


def test_salient_objects_from_a_known_map():
    from rgbt_perception.pipeline import saliency_mask, salient_regions

    saliency = np.zeros((20, 30), np.float32)
    saliency[2:6, 3:9] = 0.9
    saliency[10:12, 20:21] = 0.8  # 2 pixels: below min area
    regions = salient_regions(saliency, saliency_mask(saliency, 0.5, 0.5), min_area=5)
    assert len(regions) == 1
    obj = regions[0]
    assert (obj.x, obj.y, obj.width, obj.height, obj.area) == (3, 2, 6, 4, 24)
    assert obj.mean_saliency == pytest.approx(0.9)
    assert (obj.centroid_x, obj.centroid_y) == pytest.approx((5.5, 3.5))


def test_homography_registers_thermal_onto_rgb(models):
    scene = make_scene(4)
    thermal = scene.thermal_raw
    identity = Pipeline(PipelineConfig(homography=np.eye(3)), *models, model_size=(128, 160))
    plain = Pipeline(PipelineConfig(), *models, model_size=(128, 160))
    a = identity.preprocess(scene.rgb, thermal)[1]
    b = plain.preprocess(scene.rgb, thermal)[1]
    assert torch.allclose(a, b, atol=1e-6)
    shift = np.array([[1, 0, 16], [0, 1, 0], [0, 0, 1]], np.float64)  # thermal pixel x -> RGB x + 16
    shifted = Pipeline(PipelineConfig(homography=shift), *models, model_size=(128, 160))
    moved = shifted.preprocess(scene.rgb, thermal)[1][0, 0]
    assert torch.allclose(moved[:, 20:], b[0, 0][:, 4:-16], atol=1e-5)


def test_overlay_panels_are_titled_and_the_legend_names_every_class():
    from rgbt_models.data.classes import class_list
    from rgbt_perception.overlay import TITLE_HEIGHT, class_legend, overlay
    from rgbt_perception.pipeline import PipelineResult

    classes = class_list("synthetic")
    rgb = np.full((64, 80, 3), 90, np.uint8)
    full = PipelineResult(semantic_color=np.zeros((64, 80, 3), np.uint8), saliency_map=np.zeros((64, 80), np.uint8))
    degraded = PipelineResult(saliency_map=np.zeros((64, 80), np.uint8))  # SARTM paused, no thermal
    a = overlay(rgb, np.zeros((64, 80), np.uint16), full, classes=classes)
    b = overlay(rgb, None, degraded, classes=classes)
    legend = class_legend(classes.names, classes.colors, 4 * 80)
    assert a.shape == b.shape == (TITLE_HEIGHT + 64 + legend.shape[0], 4 * 80, 3)  # constant: one MP4 size
    assert a[:TITLE_HEIGHT].any() and not a[:TITLE_HEIGHT, 60:80].any()  # text at the left of each strip
    for color in classes.colors:  # one swatch per class
        assert (legend == np.array(color, np.uint8)).all(axis=2).sum() >= 80
    assert overlay(rgb, None, degraded).shape[0] == TITLE_HEIGHT + 64  # no legend without classes
