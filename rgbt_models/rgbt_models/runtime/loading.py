"""Loading a model: the trained model a checkpoint holds, or (tests, benchmarks, the node's
allow_untrained) a random-weight model from a model config. Every tool loads through here
(`rgbt_models.runtime.load_model`); the model classes' own `CheckpointedModel.load` is the
format's reader underneath."""

from __future__ import annotations

from pathlib import Path

from rgbt_models.checkpoint import CheckpointError, load_model_checkpoint
from rgbt_models.config import ConfigError


class ModelLoadError(CheckpointError):
    """A model a tool cannot start with; the message names the setting, the file and the problem.
    A CheckpointError, so that a caller that handles unusable checkpoints handles it too."""


def load_model(kind: str | None, checkpoint: str | Path, config: str = "", allow_untrained: bool = False,
               map_location: str = "cpu"):
    """The trained model of `kind` (None: whichever the file holds) from `checkpoint`; or, with
    allow_untrained and no checkpoint, a random-weight model built from the model config YAML
    `config` (tests only: its outputs mean nothing). Every problem with the file (missing, empty,
    truncated, not a checkpoint, another model, a newer format, a config or weights that do not
    fit) is a ModelLoadError naming the setting (`kind.checkpoint`) and the file."""
    from rgbt_models.registry import MODELS

    if checkpoint:
        try:
            return _trained_model(checkpoint, map_location, kind)
        except CheckpointError as error:
            raise ModelLoadError(f"{kind}.checkpoint: {error}" if kind else str(error)) from error
    if not allow_untrained:
        raise ModelLoadError(f"{kind} is enabled but {kind}.checkpoint is empty: train one with rgbt-train or "
                             f"disable the model ({kind}.enabled: false). allow_untrained: true is for tests only.")
    try:
        model_config = MODELS[kind][1].from_yaml(config)
    except (ConfigError, ValueError) as error:
        raise ModelLoadError(f"{kind}.config: {error}") from error
    return untrained_model(model_config)


def _trained_model(path: str | Path, map_location: str, kind: str | None):
    from rgbt_models.registry import MODELS

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


def untrained_model(config):
    """A model with random weights from a SAMSODConfig or SARTMConfig, in eval mode, for tests,
    benchmarks and the node's allow_untrained: no text encoder runs (SARTM's class-name
    embeddings are zeros), so it builds offline and at once. Its outputs mean nothing."""
    import torch

    from rgbt_models.samsod import SAMSOD
    from rgbt_models.sartm import SARTM, SARTMConfig

    if isinstance(config, SARTMConfig):
        from rgbt_models.data.classes import class_list

        return SARTM(config, text_embeddings=torch.zeros(class_list(config.classes).num_classes, 1)).eval()
    return SAMSOD(config).eval()


def trained_setup(models):
    """The thermal set-up the loaded models were trained with (None: they record none). Two
    that differ cannot share one thermal input: an error naming both."""
    setups = {getattr(m, "kind", "?"): getattr(m, "thermal_setup", None) for m in models if m is not None}
    recorded = {kind: setup for kind, setup in setups.items() if setup is not None}
    if len(set(recorded.values())) > 1:
        raise ModelLoadError("the checkpoints were trained with different thermal set-ups ("
                             + "; ".join(f"{kind}: {setup.describe()}" for kind, setup in recorded.items())
                             + "): set thermal.normalization (and thermal.polarity) for both")
    return next(iter(recorded.values()), None)
