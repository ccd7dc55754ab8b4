"""One place that maps a task name to its model class and config class."""

from __future__ import annotations

from pathlib import Path

from rgbt_models.checkpoint import load_model_checkpoint
from rgbt_models.samsod import SAMSOD, SAMSODConfig
from rgbt_models.sartm import SARTM, SARTMConfig

MODELS = {"samsod": (SAMSOD, SAMSODConfig), "sartm": (SARTM, SARTMConfig)}


def build_model(task: str, model_config: dict):
    model_cls, config_cls = MODELS[task]
    return model_cls(config_cls.from_dict(model_config))


def load_trained_model(path: str | Path, map_location="cpu"):
    """Whichever model a checkpoint holds (SAMSOD or SARTM)."""
    import torch

    kind = torch.load(path, map_location="cpu", weights_only=True).get("kind") if Path(path).is_file() else None
    if kind not in MODELS:
        load_model_checkpoint(path, "samsod")  # raises the precise error
    return MODELS[kind][0].load(path, map_location)
