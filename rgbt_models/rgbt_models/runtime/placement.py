"""Where and how a loaded model runs.

- `Runtime`: what a tool asked for (runtime, device, precision, ONNX Runtime providers and
  cache, threads). `Runtime.choose` decides the device and precision once, with the reason;
  `Placement.place(model, size)` returns what runs one model: the PyTorch model on that device
  in eval mode (dynamically quantised on the CPU for int8), or ONNX Runtime sessions at the
  model's input size (rgbt_models.runtime.onnx_runtime). Both answer `predict`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rgbt_models.runtime.devices import DEFAULT_PROVIDERS, RUNTIMES, select_device, uses_int8
from rgbt_models.runtime.loading import ModelLoadError


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
            return Placement(self, "cpu", torch.float32, "inputs in host memory; onnxruntime tries the providers "
                             f"in this order: {', '.join(self.providers)} (which one runs: below)")
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
                from rgbt_models.runtime.quantization import quantize_int8

                quantize_int8(model, inplace=True)
            return model.to(self.device).eval()
        from rgbt_models.runtime.onnx_runtime import OnnxRuntimeModel, RuntimeUnavailable

        r = self.runtime
        try:
            session = OnnxRuntimeModel.build(model, *size, r.precision, list(r.providers), r.device, r.cache_dir,
                                             r.threads, log)
        except (RuntimeUnavailable, ValueError) as error:
            raise ModelLoadError(f"{model.kind} (runtime: onnxruntime): {error}") from error
        session.input_geometry = getattr(model, "input_geometry", None)
        return session
