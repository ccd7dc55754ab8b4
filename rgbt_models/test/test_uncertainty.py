"""The label-free uncertainty of a frame (rgbt_models/evaluation/uncertainty.py) on inputs whose
answer is known, and SAMSOD's heads given with its map."""

from __future__ import annotations

import math

import pytest
import torch

from rgbt_models.evaluation.uncertainty import (
    combined,
    head_disagreement,
    saliency_ambiguity,
    saliency_uncertainty,
    semantic_uncertainty,
)


def test_a_certain_map_is_0_and_a_map_of_halves_is_1():
    certain = torch.zeros(2, 1, 8, 8)
    certain[1, :, :4] = 1.0
    assert saliency_ambiguity(certain).tolist() == [0.0, 0.0]
    assert saliency_ambiguity(torch.full((1, 1, 8, 8), 0.5)).item() == pytest.approx(1.0)
    assert saliency_ambiguity(torch.full((1, 1, 8, 8), 0.9)).item() == pytest.approx(4 * 0.9 * 0.1)


def test_heads_that_agree_are_0_and_a_broken_modality_stands_out():
    sure = torch.full((1, 1, 4, 4), 12.0)
    assert head_disagreement({"fused": sure, "rgb": sure, "thermal": sure}).item() == pytest.approx(0.0, abs=1e-4)
    black_hot = {"fused": sure, "rgb": sure, "thermal": -sure}  # the thermal head sees the object inverted
    assert head_disagreement(black_hot).item() == pytest.approx(1.0, abs=1e-3)  # {1, 0, 1}: the largest spread
    assert head_disagreement({"rgb": sure}) is None  # one head (no thermal): no committee


def test_samsods_part_averages_ambiguity_and_disagreement_where_the_heads_ran():
    sure = torch.full((1, 1, 4, 4), 12.0)
    saliency = torch.sigmoid(sure + sure - sure)
    heads = {"fused": sure, "rgb": sure, "thermal": -sure}
    assert saliency_uncertainty(saliency, heads).item() == pytest.approx(0.5 * (0.0 + 1.0), abs=1e-3)
    assert saliency_uncertainty(torch.full((1, 1, 4, 4), 0.5)).item() == pytest.approx(1.0)


def test_semantic_entropy_is_0_for_one_class_and_1_for_all_alike():
    one_hot = torch.zeros(1, 4, 3, 3)
    one_hot[:, 2] = 1.0
    assert semantic_uncertainty(one_hot).item() == pytest.approx(0.0, abs=1e-6)
    assert semantic_uncertainty(torch.full((1, 4, 3, 3), 0.25)).item() == pytest.approx(1.0)
    halves = torch.zeros(1, 4, 3, 3)
    halves[:, :2] = 0.5
    assert semantic_uncertainty(halves).item() == pytest.approx(math.log(2) / math.log(4))


def test_combined_is_the_mean_of_the_models_that_ran():
    assert combined({"saliency": 0.2, "semantic": 0.4}) == pytest.approx(0.3)
    assert combined({"saliency": 0.2, "semantic": float("nan")}) == pytest.approx(0.2)
    assert math.isnan(combined({"saliency": float("nan"), "semantic": float("nan")}))


def test_samsod_gives_its_heads_with_the_map_it_predicts():
    from rgbt_models.backbone import BackboneConfig
    from rgbt_models.samsod import SAMSOD, SAMSODConfig

    torch.manual_seed(0)
    model = SAMSOD(SAMSODConfig(backbone=BackboneConfig(name="test", image_size=64))).eval()
    rgb, thermal = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64)
    saliency, heads = model.predict_with_heads(rgb, thermal)
    assert set(heads) == {"fused", "rgb", "thermal"} and torch.equal(saliency, model.predict(rgb, thermal))
    assert torch.allclose(saliency, torch.sigmoid(heads["fused"] + heads["rgb"] + heads["thermal"]))
    _, rgb_only = model.predict_with_heads(rgb, None)
    assert set(rgb_only) == {"rgb"}


def test_the_measures_look_at_a_regular_grid_of_at_most_samples_pixels():
    from rgbt_models.evaluation.uncertainty import SAMPLES, sample_grid, thinned

    large = torch.rand(1, 1, 512, 640)
    grid = thinned(large)
    assert grid.shape[-2] * grid.shape[-1] <= SAMPLES and grid.data_ptr() == large.data_ptr()  # a view
    assert thinned(torch.rand(1, 1, 64, 80)).shape == (1, 1, 64, 80)  # small maps: every pixel
    smooth = torch.sigmoid(torch.linspace(-6, 6, 640)).repeat(1, 1, 512, 1)
    full = (4 * smooth * (1 - smooth)).mean().item()
    assert saliency_ambiguity(smooth).item() == pytest.approx(full, rel=0.02)

    # The samples a pipeline keeps (a small copy) measure what the full maps measure.
    probabilities = torch.softmax(torch.randn(1, 5, 512, 640), dim=1)
    kept = sample_grid(probabilities)
    assert kept.is_contiguous() and kept.shape == (1, 5, 64, 80) and kept.data_ptr() != probabilities.data_ptr()
    assert torch.equal(semantic_uncertainty(kept), semantic_uncertainty(probabilities))
    assert torch.equal(saliency_ambiguity(sample_grid(large)), saliency_ambiguity(large))
