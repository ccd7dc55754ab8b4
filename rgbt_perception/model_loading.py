"""The node's pipeline from its parameters, for the node and rgbt-replay alike.

`build_pipeline` applies the thread policy, loads the models that run (rgbt_models.runtime:
checkpoints, or untrained models from a model config with allow_untrained for tests), places
them (the device and precision; ONNX Runtime sessions with runtime: onnxruntime), works out the
thermal set-up and the temperature conversion, and returns the pipeline; what it chose is said
through `log` (and `warn`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rgbt_models.data.geometry import model_input_size
from rgbt_models.data.registration import missing_registration
from rgbt_models.data.thermal import differs, setup_line
from rgbt_models.runtime import load_model
from rgbt_models.runtime import threads as thread_policy
from rgbt_models.runtime.loading import ModelLoadError, trained_setup
from rgbt_models.runtime.placement import Runtime
from rgbt_perception.parameters import NO_MODEL, enabled_models, models_line, pipeline_config
from rgbt_perception.pipeline import Pipeline


def checkpoint_path(path: str) -> str:
    """A checkpoint parameter as an absolute path ('' stays ''): `~` expanded, a relative path taken
    from the folder the node (or `ros2 launch`, or rgbt-replay) was started in."""
    return str(Path(path).expanduser().absolute()) if path else ""


def runtime_of(params: dict, threads: int = 1) -> Runtime:
    """What the parameters ask to run the models with."""
    return Runtime(params["runtime"], params["device"], params["precision"], tuple(params["onnxruntime.providers"]),
                   params["onnxruntime.cache_dir"] or None, threads)


def build_pipeline(params: dict, log: Callable[[str], None], warn: Callable[[str], None] | None = None,
                   threads=None) -> Pipeline:
    """The pipeline the parameters describe. `threads` overrides params["threads"] (rgbt-replay
    --threads). rgbt_models.runtime.loading.ModelLoadError names the model and the file when one
    cannot be loaded (or, with runtime: onnxruntime, converted)."""
    warn = warn or log
    policy = thread_policy.apply(params["threads"] if threads is None else threads)
    log(thread_policy.describe(policy))
    running = enabled_models(params)
    if not running:
        raise ModelLoadError(f"{NO_MODEL}; {models_line(params, running)}")
    log(models_line(params, running))
    models = {}
    for kind in running:
        checkpoint = checkpoint_path(params[f"{kind}.checkpoint"])
        models[kind] = load_model(kind, checkpoint, params[f"{kind}.config"], params["allow_untrained"])
        if checkpoint:
            log(f"{kind}: loaded {checkpoint}")
        else:
            warn(f"{kind}: UNTRAINED random weights (allow_untrained): outputs are meaningless")
    trained = trained_setup(models.values())
    config = pipeline_config(params, trained)
    (warn if differs(config.thermal, trained) else log)(setup_line(config.thermal, trained))
    log("registration: " + ("thermal.homography " + ", ".join(f"{v:g}" for v in config.homography.ravel())
                            if config.homography is not None else "none (thermal.homography [0.0]: thermal is "
                            "taken as registered to RGB, resized to its size)"))
    for kind, model in models.items():
        missing = missing_registration(kind, getattr(model, "trained_homography", None), config.homography)
        if missing:
            warn(f"{missing}: the launch line's params_file:=, rgbt-replay's --config")
    camera = params["thermal.camera"]
    log(f"temperatures: {f'thermal.camera {camera}: ' if camera else ''}{config.temperature.describe()}")
    placement = runtime_of(params, policy["intra_op_threads"]).choose()
    log(f"inference device: {placement.device} ({placement.reason})")
    size = (params["model_height"], params["model_width"])
    runners = {kind: placement.place(model, model_input_size(model, *size), log) for kind, model in models.items()}
    pipeline = Pipeline(config, runners.get("sartm"), runners.get("samsod"), device=placement.device,
                        dtype=placement.dtype, model_size=size)
    pipeline.trained_thermal = trained
    return pipeline
