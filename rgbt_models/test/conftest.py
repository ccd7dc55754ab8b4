"""Shared fixtures of the rgbt_models tests: seeds and tiny model configurations."""

from __future__ import annotations

from rgbt_models.runtime import threads  # first: sets the OpenMP wait policy before torch loads

# isort: split
import pytest
import torch

from rgbt_models.backbone import BackboneConfig

# The project's thread policy for the test process itself (subprocesses apply their own).
threads.apply(None)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield


@pytest.fixture
def test_backbone_config() -> BackboneConfig:
    return BackboneConfig(name="test", image_size=128)


@pytest.fixture
def official_checkpoint(tmp_path, test_backbone_config):
    """An official-format SAM 2 checkpoint of the test backbone, with extra video-memory keys."""
    from rgbt_models.backbone import SAM2Backbone

    torch.manual_seed(123)
    source = SAM2Backbone(test_backbone_config)
    state = source.official_state_dict()
    state["memory_attention.layers.0.linear1.weight"] = torch.randn(4, 4)  # ignored by us
    path = tmp_path / "sam2.1_hiera_test.pt"
    torch.save({"model": state}, path)
    return path, source
