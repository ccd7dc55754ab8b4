"""Loading the node's models from checkpoints, or untrained from a model config (tests only)."""

from __future__ import annotations

import torch

from rgbt_models.checkpoint import CheckpointError
from rgbt_models.classes import class_list
from rgbt_models.config import ConfigError
from rgbt_models.registry import MODELS, load_trained_model


class ModelLoadError(RuntimeError):
    """A model the node cannot start with; the message names the file and the problem."""


def load_model(kind: str, checkpoint: str, config: str, allow_untrained: bool):
    """The trained model from `checkpoint`; or, with allow_untrained, a random-weight model
    built from the model config YAML `config` (tests only: its outputs mean nothing)."""
    model_cls, config_cls = MODELS[kind]
    if checkpoint:
        try:
            return load_trained_model(checkpoint, kind=kind)
        except CheckpointError as error:
            raise ModelLoadError(f"{kind}.checkpoint: {error}") from error
    if not allow_untrained:
        raise ModelLoadError(f"{kind} is enabled but {kind}.checkpoint is empty: train one with rgbt-train or "
                             f"disable the model ({kind}.enabled: false). allow_untrained: true is for tests only.")
    try:
        model_config = config_cls.from_yaml(config)
    except (ConfigError, ValueError) as error:
        raise ModelLoadError(f"{kind}.config: {error}") from error
    if kind == "sartm":
        num_classes = class_list(model_config.classes).num_classes
        return model_cls(model_config, text_embeddings=torch.zeros(num_classes, 1)).eval()
    return model_cls(model_config).eval()
