"""The one factory of what runs the models: the node and rgbt-replay (through
rgbt_perception.model_loading), rgbt-eval and its Ray workers all load and place models here.

- `load_model`: the trained model a checkpoint holds, or (allow_untrained: tests only) a
  random-weight model built from a model config; ModelLoadError names the setting and the file.
- `trained_setup`: the thermal set-up the loaded models were trained with (one for all of them).
- `Runtime`: what a tool asked for (runtime, device, precision, ONNX Runtime providers and
  cache, threads). `Runtime.choose` decides the device and precision once, with the reason;
  `Placement.place(model, size)` returns what runs one model: the PyTorch model on that device
  in eval mode (dynamically quantised on the CPU for int8), or ONNX Runtime sessions at the
  model's input size (rgbt_models.onnx_runtime). Both answer `predict`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rgbt_models.checkpoint import CheckpointError
from rgbt_models.config import ConfigError
from rgbt_models.devices import DEFAULT_PROVIDERS, RUNTIMES, select_device, uses_int8


class ModelLoadError(RuntimeError):
    """A model a tool cannot start with; the message names the setting, the file and the problem."""


def load_model(kind: str | None, checkpoint: str, config: str = "", allow_untrained: bool = False):
    """The trained model of `kind` (None: whichever) from `checkpoint`; or, with allow_untrained,
    a random-weight model built from the model config YAML `config` (tests only: its outputs
    mean nothing)."""
    from rgbt_models.registry import MODELS, load_trained_model, untrained_model

    if checkpoint:
        try:
            return load_trained_model(checkpoint, kind=kind)
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


@dataclass(frozen=True)
class Runtime:
    """What a tool asks to run its models with (the node's runtime, device, precision and
    onnxruntime.* parameters; rgbt-eval's options of the same names)."""

    runtime: str = "torch"  # torch | onnxruntime
    device: str = "auto"  # auto | cuda | cpu, as asked (onnxruntime: which providers it may use)
    precision: str = "fp32"  # fp32 | fp16 | bf16 | int8
    providers: tuple[str, ...] = DEFAULT_PROVIDERS  # onnxruntime: in order of preference
    cache_dir: str | None = None  # onnxruntime: exported graphs (None: ~/.cache/rgbt_perception/onnxruntime)
    threads: int | None = None  # onnxruntime: intra-op threads (None: the process's torch threads)

    def __post_init__(self) -> None:
        if self.runtime not in RUNTIMES:
            raise ValueError(f"runtime must be one of {RUNTIMES}, got {self.runtime!r}")

    def choose(self) -> Placement:
        """The device and precision the models run at, decided once, with the reason."""
        import torch

        if self.runtime == "onnxruntime":  # sessions take and give CPU tensors; providers pick the device
            return Placement(self, "cpu", torch.float32, f"onnxruntime, providers {', '.join(self.providers)}")
        device, dtype, reason = select_device(self.device, self.precision)
        return Placement(self, device, dtype, reason)


@dataclass(frozen=True)
class Placement:
    """Where a tool's tensors go (`device`, `dtype`) and how each model is turned into its runner."""

    runtime: Runtime
    device: str
    dtype: object  # torch.dtype
    reason: str

    @property
    def per_size(self) -> bool:
        """Whether a model is placed once per input size (ONNX Runtime graphs have a fixed size;
        a PyTorch model runs any size and is placed once)."""
        return self.runtime.runtime == "onnxruntime"

    def place(self, model, size: tuple[int, int], log: Callable[[str], None] = lambda text: None):
        """What runs `model` at input size (H, W): the PyTorch model on the device in eval mode
        (int8: dynamically quantised), or its ONNX Runtime sessions (built or taken from the
        cache). ModelLoadError when ONNX Runtime cannot build them."""
        if self.runtime.runtime == "torch":
            if uses_int8(self.device, self.runtime.precision):
                from rgbt_models.quantization import quantize_int8

                quantize_int8(model, inplace=True)
            return model.to(self.device).eval()
        from rgbt_models.onnx_runtime import OnnxRuntimeModel, RuntimeUnavailable

        r = self.runtime
        try:
            session = OnnxRuntimeModel.build(model, *size, r.precision, list(r.providers), r.device, r.cache_dir,
                                             r.threads, log)
        except (RuntimeUnavailable, ValueError) as error:
            raise ModelLoadError(f"{model.kind} (runtime: onnxruntime): {error}") from error
        session.input_geometry = getattr(model, "input_geometry", None)
        return session
