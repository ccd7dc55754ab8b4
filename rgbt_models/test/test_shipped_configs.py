"""Every configuration the package ships (training at the papers' settings, UUSOD for a rover, the
tests' own) reads, and its model section makes a valid model config: a typo fails here, not on the
first day of a multi-day GPU run."""

from __future__ import annotations

from pathlib import Path

import pytest

from rgbt_models.registry import MODELS
from rgbt_models.training.config import TrainConfig
from rgbt_models.uusod.config import AdaptConfig

CONFIGS = Path(__file__).resolve().parents[1] / "rgbt_models" / "configs"


@pytest.mark.parametrize("path", sorted((CONFIGS / "train").glob("*.yaml")), ids=lambda p: p.name)
def test_training_configs_read(path):
    config = TrainConfig.from_yaml(path)
    if config.init_checkpoint:  # fine-tuning: the model config is the checkpoint's
        assert config.model == {}
        return
    MODELS[config.task][1].from_dict(config.model)


@pytest.mark.parametrize("path", sorted((CONFIGS / "uusod").glob("*.yaml")), ids=lambda p: p.name)
def test_uusod_configs_read(path):
    AdaptConfig.from_yaml(path)
