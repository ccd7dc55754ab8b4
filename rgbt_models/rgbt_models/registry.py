"""One place that maps a task name to its model class and config class."""

from __future__ import annotations

from pathlib import Path

from rgbt_models.checkpoint import CheckpointError, load_model_checkpoint
from rgbt_models.config import ConfigError
from rgbt_models.samsod import SAMSOD, SAMSODConfig
from rgbt_models.sartm import SARTM, SARTMConfig

MODELS = {"samsod": (SAMSOD, SAMSODConfig), "sartm": (SARTM, SARTMConfig)}


def build_model(task: str, model_config: dict):
    """A model to train: `model_config` read by the task's config class (SARTM computes its text
    embeddings with the configured text encoder when distillation is on)."""
    model_cls, config_cls = MODELS[task]
    return model_cls(config_cls.from_dict(model_config))


def untrained_model(config):
    """A model with random weights from a SAMSODConfig or SARTMConfig, in eval mode, for tests,
    benchmarks and the node's allow_untrained: no text encoder runs (SARTM's class-name
    embeddings are zeros), so it builds offline and at once. Its outputs mean nothing."""
    import torch

    if isinstance(config, SARTMConfig):
        from rgbt_models.classes import class_list

        return SARTM(config, text_embeddings=torch.zeros(class_list(config.classes).num_classes, 1)).eval()
    return SAMSOD(config).eval()


def load_trained_model(path: str | Path, map_location="cpu", kind: str | None = None):
    """The model a checkpoint holds (of `kind`, or whichever it is). Every problem with the file
    -- missing, empty, truncated, not a checkpoint, another model, a newer format, a config or
    weights that do not fit -- is a CheckpointError naming the file."""
    content = load_model_checkpoint(path, kind)
    if content["kind"] not in MODELS:
        raise CheckpointError(f"{path}: holds a {content['kind']!r} model (UUSOD's stage-1 cue extractor), "
                              f"expected one of {tuple(MODELS)}")
    try:
        return MODELS[content["kind"]][0].load(path, map_location, content)
    except CheckpointError:
        raise
    except (ConfigError, ValueError, TypeError, KeyError) as error:
        raise CheckpointError(f"{path}: its model config cannot be used ({error})") from error
