"""The node's models and pipeline from its parameters: the one factory of the node and rgbt-replay.

`build_pipeline` applies the thread policy, picks the device and precision, loads the enabled
models (from checkpoints, or untrained from a model config with allow_untrained: tests only),
with runtime: onnxruntime turns them into ONNX Runtime sessions (rgbt_models.onnx_runtime), and
returns the pipeline; both say what they chose through `log`.
"""

from __future__ import annotations

from collections.abc import Callable

from rgbt_models import threads as thread_policy
from rgbt_models.checkpoint import CheckpointError
from rgbt_models.config import ConfigError
from rgbt_models.devices import select_device, uses_int8
from rgbt_models.registry import MODELS, load_trained_model, untrained_model
from rgbt_perception.parameters import pipeline_config
from rgbt_perception.pipeline import Pipeline, PipelineConfig, model_input_size


class ModelLoadError(RuntimeError):
    """A model the node cannot start with; the message names the file and the problem."""


def load_model(kind: str, checkpoint: str, config: str, allow_untrained: bool):
    """The trained model from `checkpoint`; or, with allow_untrained, a random-weight model
    built from the model config YAML `config` (tests only: its outputs mean nothing)."""
    _, config_cls = MODELS[kind]
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
    return untrained_model(model_config)


def build_pipeline(params: dict, log: Callable[[str], None], warn: Callable[[str], None] | None = None,
                   threads=None) -> Pipeline:
    """The pipeline the parameters describe. `threads` overrides params["threads"] (rgbt-replay
    --threads). ModelLoadError names the model and the file when one cannot be loaded (or, with
    runtime: onnxruntime, converted)."""
    policy = thread_policy.apply(params["threads"] if threads is None else threads)
    log(thread_policy.describe(policy))
    models = []
    for kind in ("sartm", "samsod"):
        if not params[f"{kind}.enabled"]:
            models.append(None)
            continue
        models.append(load_model(kind, params[f"{kind}.checkpoint"], params[f"{kind}.config"],
                                 params["allow_untrained"]))
        if not params[f"{kind}.checkpoint"]:
            (warn or log)(f"{kind}: UNTRAINED random weights (allow_untrained): outputs are meaningless")
    trained = trained_thermal_setup(models)
    config = pipeline_config(params, trained)
    (log if config.thermal == trained else warn or log)(thermal_setup_line(config.thermal, trained))
    if params["runtime"] == "onnxruntime":
        models = [None if model is None else onnxruntime_model(model, config, params, policy["intra_op_threads"], log)
                  for model in models]
        pipeline = Pipeline(config, *models)
    else:
        device, dtype, reason = select_device(params["device"], params["precision"])
        log(f"inference device: {device} ({reason})")
        pipeline = Pipeline(config, *models, device=device, dtype=dtype, int8=uses_int8(device, params["precision"]))
    pipeline.trained_thermal = trained
    return pipeline


def trained_thermal_setup(models):
    """The thermal set-up the loaded models were trained with (None: they record none). Two
    that differ cannot share one thermal input: a start-up error naming both."""
    setups = {getattr(m, "kind", "?"): getattr(m, "thermal_setup", None) for m in models if m is not None}
    recorded = {kind: setup for kind, setup in setups.items() if setup is not None}
    if len(set(recorded.values())) > 1:
        raise ModelLoadError("the checkpoints were trained with different thermal set-ups ("
                             + "; ".join(f"{kind}: {setup.describe()}" for kind, setup in recorded.items())
                             + "): set thermal.normalization (and thermal.polarity) for both")
    return next(iter(recorded.values()), None)


def thermal_setup_line(setup, trained) -> str:
    if trained is None:
        return f"thermal set-up: {setup.describe()} (the checkpoints record none)"
    if setup == trained:
        return f"thermal set-up: {setup.describe()}, as the checkpoints were trained"
    return (f"thermal set-up: {setup.describe()} from the parameters; the checkpoints were trained with "
            f"{trained.describe()}: the models see another input distribution")


def onnxruntime_model(model, config: PipelineConfig, params: dict, threads: int, log: Callable[[str], None]):
    """`model` as onnxruntime sessions at its input size (runtime: onnxruntime)."""
    from rgbt_models.onnx_runtime import OnnxRuntimeModel, RuntimeUnavailable

    try:
        session = OnnxRuntimeModel.build(model, *model_input_size(model, config), params["precision"],
                                         list(params["onnxruntime.providers"]), params["device"],
                                         params["onnxruntime.cache_dir"] or None, threads, log)
        session.input_geometry = getattr(model, "input_geometry", None)
        return session
    except (RuntimeUnavailable, ValueError) as error:
        raise ModelLoadError(f"{model.kind} (runtime: onnxruntime): {error}") from error
