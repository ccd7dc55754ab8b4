"""Which device runs the models, at which precision and in which runtime, with the reason said in
one log line; and the choice lists the tools offer for them."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

# torch is imported inside the functions: the command lines offer these choices before it loads.

DEVICES = ("auto", "cuda", "cpu")
PRECISIONS = ("fp32", "fp16", "bf16", "int8")
RUNTIMES = ("torch", "onnxruntime")  # what runs the models: PyTorch, or ONNX Runtime sessions (onnx_runtime.py)
DEFAULT_PROVIDERS = ("CUDAExecutionProvider", "CPUExecutionProvider")  # onnxruntime's, in order of preference


def resolve_device(requested: str) -> tuple[str, str]:
    """('cuda' or 'cpu', the reason) for `requested` (auto | cuda | cpu): CUDA where asked for or
    present, the CPU otherwise; CUDA asked for but absent falls back to the CPU, and says so."""
    import torch

    if requested not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {requested!r}")
    if requested == "cpu":
        return "cpu", "device: cpu requested"
    if torch.cuda.is_available():
        return "cuda", f"CUDA available ({torch.cuda.get_device_name(0)})"
    return "cpu", ("device: cuda requested but CUDA is not available, falling back to the CPU" if requested == "cuda"
                   else "no CUDA device found, using the CPU")


def select_device(requested: str, precision: str) -> tuple[str, torch.dtype, str]:
    """(device, dtype, reason). CUDA asked for but absent falls back to the CPU; fp16/bf16 are
    used on CUDA only (bf16 is slower than fp32 on CPUs without AMX); int8 is the CPU path
    (`uses_int8`), fp32 on CUDA."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    import torch

    device, reason = resolve_device(requested)
    dtype = torch.float32
    if precision == "int8":
        reason += ("; int8: dynamically quantised Linear layers" if device == "cpu"
                   else "; precision int8 is a CPU path, fp32 on CUDA")
    elif precision != "fp32":
        if device == "cuda":
            dtype = torch.float16 if precision == "fp16" else torch.bfloat16
            if dtype == torch.bfloat16 and not torch.cuda.is_bf16_supported():
                dtype, reason = torch.float16, reason + "; bf16 unsupported on this GPU, using fp16"
        else:
            reason += f"; precision {precision} ignored on the CPU (fp32)"
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    return device, dtype, reason


def uses_int8(device: str, precision: str) -> bool:
    """Whether the models run as dynamically quantised int8 (CPU only)."""
    return precision == "int8" and device == "cpu"
