"""SARTM and SAMSOD as ONNX Runtime sessions: the `runtime: onnxruntime` path of the node,
rgbt-replay and rgbt-eval.

`OnnxRuntimeModel.build(model, ...)` exports a loaded PyTorch model's inference graphs at the
pipeline's input size (SAMSOD: with thermal, and the RGB-only head of the degraded path; SARTM:
with thermal), converts them to the precision the first usable execution provider runs
(CPU: fp32 or int8, the dynamic MatMul/Gemm quantisation of rgbt-export; CUDA: fp16 or fp32;
TensorRT: the fp32 graph, its engine built in fp16 when asked), and keeps them (the fp32 graph
too, which the other precisions are converted from) in a cache folder
keyed by a digest of the model's weights and config, the input size, the precision, the opset and
the onnxruntime and torch versions: the next start with the same checkpoint builds nothing.
TensorRT's engine and timing caches live in the same folder. The object then answers `predict`
as the PyTorch model does (torch tensors in, torch tensors out, on the CPU) and the PyTorch
weights are not needed to run it.

Why a digest of the weights and not of the checkpoint file: a version-1 checkpoint takes its
encoder from a separate SAM 2 file, and allow_untrained models have no file; the weights are
what the graph is made of in every case, and hashing them costs little next to loading them.

The thread policy of rgbt_models.runtime.threads holds here too: intra-op threads = the process's
`threads`, one inter-op thread, sequential execution, and no spinning (onnxruntime's own
equivalent of OMP_WAIT_POLICY=PASSIVE), so ONNX Runtime shares a robot's CPU as PyTorch does.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from rgbt_models.runtime.devices import DEFAULT_PROVIDERS, PRECISIONS

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"
OPSET = 17
CACHE_FORMAT = 1  # bump when what goes into a cached graph changes


class RuntimeUnavailable(RuntimeError):
    """onnxruntime is not installed, or a graph could not be built: the message says which and how to fix it."""


def default_cache_dir() -> Path:
    """$RGBT_ONNX_CACHE, else $XDG_CACHE_HOME/rgbt_perception/onnxruntime (~/.cache/...)."""
    if os.environ.get("RGBT_ONNX_CACHE"):
        return Path(os.environ["RGBT_ONNX_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "rgbt_perception" / "onnxruntime"


def import_onnxruntime():
    try:
        import onnxruntime
    except ImportError as error:
        raise RuntimeUnavailable("runtime: onnxruntime needs the onnxruntime package: pip install onnxruntime onnx "
                                 "(on a Jetson or CUDA machine, onnxruntime-gpu)") from error
    return onnxruntime


@dataclass
class ProviderPlan:
    """The execution providers a session gets (in order, with options), the graph precision and
    the start-up lines that say what was skipped or changed and why."""

    providers: list[tuple[str, dict]]
    precision: str  # graph precision: fp32 | int8 | fp16
    lines: list[str] = field(default_factory=list)

    @property
    def primary(self) -> str:
        return self.providers[0][0]


def plan_providers(requested: Sequence[str], precision: str, device: str, cache_dir: Path) -> ProviderPlan:
    """Which of the requested providers this onnxruntime build and `device` allow, with their
    options, and the graph precision for the first of them. A name onnxruntime does not know is
    a ValueError (a typo must not start quietly on the CPU); a known provider that is not in this
    build, or a GPU provider with device: cpu, is skipped with a line saying why (silently: a GPU
    provider on a machine without a CUDA device, where nothing is lost). The CPU
    provider is always last (what any graph falls back to)."""
    ort = import_onnxruntime()
    known, available = set(ort.get_all_providers()), set(ort.get_available_providers())
    unknown = [name for name in requested if name not in known]
    if unknown:
        raise ValueError(f"onnxruntime.providers: unknown provider(s) {unknown}; onnxruntime knows "
                         f"{sorted(known)}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be fp32, fp16, bf16 or int8 for onnxruntime, got {precision!r}")
    lines, chosen = [], []
    for name in dict.fromkeys(requested):
        if name not in available:
            gpu = name in (CUDA, TENSORRT)
            if gpu and not torch.cuda.is_available():
                continue  # no CUDA device either: nothing is lost (the run's line names the CPU provider)
            remedy = "install onnxruntime-gpu for it" if gpu else "install an onnxruntime build that has it"
            lines.append(f"{name} skipped: not in this onnxruntime build (it has {', '.join(sorted(available))}); "
                         f"{remedy}")
        elif device == "cpu" and name != CPU:
            lines.append(f"{name} skipped: device: cpu")
        else:
            chosen.append(name)
    if CPU not in chosen:
        chosen.append(CPU)
    primary = chosen[0]
    graph_precision = "fp32"
    if precision == "int8":
        if primary == CPU:
            graph_precision = "int8"
        else:
            lines.append(f"precision int8 is a CPU path: {primary} runs the fp32 graph")
    elif precision in ("fp16", "bf16"):
        if primary == CUDA:
            graph_precision = "fp16"
            if precision == "bf16":
                lines.append("precision bf16: onnxruntime's CUDA graph runs fp16")
        elif primary == CPU:
            lines.append(f"precision {precision} ignored on the CPU (fp32)")
    options = {CPU: {}, CUDA: {"device_id": 0}}
    options[TENSORRT] = {"device_id": 0, "trt_engine_cache_enable": True,
                         "trt_engine_cache_path": str(cache_dir / "tensorrt"), "trt_timing_cache_enable": True,
                         "trt_timing_cache_path": str(cache_dir / "tensorrt"),
                         "trt_fp16_enable": precision in ("fp16", "bf16")}
    return ProviderPlan([(name, options.get(name, {})) for name in chosen], graph_precision, lines)


def weights_digest(model: torch.nn.Module) -> str:
    """sha256 of the model's kind, config and every tensor of its state dict (names, dtypes,
    shapes and bytes): what an exported graph is made of."""
    digest = hashlib.sha256(model.kind.encode())
    config = dataclasses.asdict(model.config) if dataclasses.is_dataclass(model.config) else model.config
    digest.update(json.dumps(config, sort_keys=True, default=str).encode())
    for name, tensor in model.state_dict().items():
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def graph_names(kind: str) -> tuple[str, ...]:
    """The graphs a model runs in the pipeline: SAMSOD also its RGB-only head (degraded mode)."""
    return ("rgbt", "rgb") if kind == "samsod" else ("rgbt",)


def cached_graph(model: torch.nn.Module, graph: str, height: int, width: int, precision: str, cache_dir: Path,
                 digest: str) -> tuple[Path, bool]:
    """(path, built): the cached graph for these keys, made first when it is not there: the
    fp32 graph is exported from the model, an int8 or fp16 graph converted from the cached fp32
    one (so a change of precision does not export again). Every file is written under a
    temporary name and renamed into place, so a start that is killed half-way leaves no broken
    graph for the next one."""
    import onnxruntime

    from rgbt_models.runtime.export import convert_onnx_fp16, export_onnx, quantize_onnx_int8

    key = hashlib.sha256(json.dumps([CACHE_FORMAT, digest, graph, height, width, precision, OPSET,
                                     onnxruntime.__version__, torch.__version__]).encode()).hexdigest()[:20]
    path = cache_dir / f"{model.kind}-{graph}-{height}x{width}-{precision}-{key}.onnx"
    if path.is_file():
        return path, False
    source = cached_graph(model, graph, height, width, "fp32", cache_dir, digest)[0] if precision != "fp32" else None
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".building-") as folder:
        made = Path(folder) / f"{precision}.onnx"
        if precision == "int8":
            quantize_onnx_int8(source, made)
        elif precision == "fp16":
            convert_onnx_fp16(source, made)
        else:
            export_onnx(model, made, height, width, OPSET, thermal=graph == "rgbt")
        os.replace(made, path)
    return path, True


def session_options(threads: int):
    """One intra-op pool of `threads`, one inter-op thread, sequential, no spinning (see the module)."""
    ort = import_onnxruntime()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only: its constant-folding notes are not the user's to act on
    return options


class OnnxRuntimeModel:
    """A trained SAMSOD or SARTM run by ONNX Runtime, answering `predict` as the PyTorch model
    does. Built by `build`; `cancel` stops a running and every later `predict` (shutdown)."""

    def __init__(self, kind: str, config, classes, sessions: dict, height: int, width: int, precision: str,
                 providers: list[str]) -> None:
        self.kind, self.config, self.classes = kind, config, classes
        self.sessions, self.input_size, self.precision, self.providers = sessions, (height, width), precision, providers
        ort = import_onnxruntime()
        self._run_options = ort.RunOptions()
        self.cancelled = False
        self.graph_paths: dict[str, Path] = {}  # the cached graph files, by graph name

    @classmethod
    def build(cls, model: torch.nn.Module, height: int, width: int, precision: str = "fp32",
              providers: Sequence[str] = DEFAULT_PROVIDERS, device: str = "auto", cache_dir: Path | None = None,
              threads: int | None = None, log: Callable[[str], None] = print) -> OnnxRuntimeModel:
        """`model` (a loaded PyTorch SAMSOD or SARTM) as onnxruntime sessions at height x width;
        says through `log` what it skipped, whether the graphs came from the cache, and which
        provider the model runs on."""
        ort = import_onnxruntime()
        cache_dir = Path(cache_dir or default_cache_dir()).expanduser()
        threads = threads or torch.get_num_threads()
        plan = plan_providers(providers, precision, device, cache_dir)
        for line in plan.lines:
            log(f"{model.kind}: onnxruntime: {line}")
        digest = weights_digest(model)
        sessions, built, paths = {}, [], {}
        try:
            for graph in graph_names(model.kind):
                path, fresh = cached_graph(model, graph, height, width, plan.precision, cache_dir, digest)
                built += [path.name] if fresh else []
                paths[graph] = path
                if plan.primary == TENSORRT:
                    (cache_dir / "tensorrt").mkdir(parents=True, exist_ok=True)
                sessions[graph] = ort.InferenceSession(
                    str(path), session_options(threads), providers=[name for name, _ in plan.providers],
                    provider_options=[opts for _, opts in plan.providers])
        except OSError as error:
            raise RuntimeUnavailable(f"onnxruntime.cache_dir {cache_dir}: cannot write the {model.kind} graph: "
                                     f"{error}") from error
        except Exception as error:  # onnxruntime's own errors (a GPU provider that cannot start) have no common base
            if plan.primary == CPU:
                raise RuntimeUnavailable(f"{model.kind}: onnxruntime cannot run the graph: {error}") from error
            log(f"{model.kind}: onnxruntime: {plan.primary} failed to start ({str(error).splitlines()[0]}); "
                "falling back to the CPU")
            return cls.build(model, height, width, precision, [CPU], "cpu", cache_dir, threads, log)
        used = sessions["rgbt"].get_providers()
        log(f"{model.kind}: onnxruntime {ort.__version__} on {used[0]} ({plan.precision} graph, {threads} intra-op "
            f"thread{'s' if threads != 1 else ''}), "
            + (f"built {', '.join(built)} in {cache_dir}" if built else f"graphs reused from {cache_dir}"))
        runner = cls(model.kind, model.config, getattr(model, "classes", None), sessions, height, width,
                     plan.precision, used)
        runner.graph_paths = paths
        return runner

    def cancel(self) -> None:
        self.cancelled = True
        self._run_options.terminate = True

    def _run(self, graph: str, feeds: dict[str, np.ndarray]) -> np.ndarray:
        return self.sessions[graph].run(None, feeds, self._run_options)[0]

    def outputs(self, rgb: torch.Tensor, thermal: torch.Tensor | None) -> torch.Tensor:
        """The graph's output for a batch (run one frame at a time: the graphs have batch 1):
        SAMSOD's saliency (B, 1, H, W), SARTM's class probabilities (B, C, H, W)."""
        if tuple(rgb.shape[2:]) != self.input_size:
            raise ValueError(f"the {self.kind} onnxruntime graph takes {self.input_size[0]}x{self.input_size[1]} "
                             f"(H x W), got {rgb.shape[2]}x{rgb.shape[3]}")
        if thermal is None and self.kind != "samsod":
            raise ValueError("SARTM needs thermal")
        frames = []
        for index in range(rgb.shape[0]):
            feeds = {"rgb": rgb[index:index + 1].float().cpu().numpy()}
            if thermal is not None:
                feeds["thermal"] = thermal[index:index + 1].float().cpu().numpy()
            frames.append(torch.from_numpy(self._run("rgbt" if thermal is not None else "rgb", feeds)))
        return torch.cat(frames)

    def predict(self, rgb: torch.Tensor, thermal: torch.Tensor | None):
        """SAMSOD: saliency (B, 1, H, W) in [0, 1] (the RGB-only head when thermal is None).
        SARTM: (class ids (B, H, W), probabilities (B, C, H, W)), as the PyTorch models."""
        output = self.outputs(rgb, thermal)
        if self.kind == "samsod":
            return output
        return output.argmax(dim=1), output
