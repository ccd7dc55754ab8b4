"""ONNX export of a trained model's inference graph and its parity check against PyTorch."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from rgbt_models.runtime.timing import median_seconds


class InferenceGraph(nn.Module):
    """What a deployment runs: (rgb, thermal) -> saliency or class probabilities."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, rgb: torch.Tensor, thermal: torch.Tensor) -> torch.Tensor:
        if self.model.kind == "samsod":
            return self.model.predict(rgb, thermal)
        return self.model.probabilities(self.model(rgb, thermal))


class RgbOnlyGraph(nn.Module):
    """SAMSOD's degraded path: rgb -> saliency from the RGB-only head (no thermal input)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        return self.model.predict(rgb, None)


def export_onnx(model: nn.Module, path: Path, height: int, width: int, opset: int = 17,
                thermal: bool = True) -> None:
    """The inference graph at a fixed input size (batch 1), through PyTorch's TorchScript exporter
    (chosen: the graph is checked against PyTorch by check_parity). thermal=False: SAMSOD's
    RGB-only graph (input rgb only). Its deprecation notice and the tracer's warnings about
    Python conditions on shapes (constants at a fixed size, which is what is exported) are not
    the user's to act on, so they are not printed."""
    if not thermal and model.kind != "samsod":
        raise ValueError(f"only SAMSOD has an RGB-only graph, not {model.kind}")
    graph = (InferenceGraph(model) if thermal else RgbOnlyGraph(model)).eval()
    inputs = (torch.rand(1, 3, height, width),) + ((torch.rand(1, 1, height, width),) if thermal else ())
    names = ["rgb", "thermal"][:len(inputs)]
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(graph, inputs, str(path), input_names=names, output_names=["output"],
                          opset_version=opset, dynamo=False)


def quantize_onnx_int8(source: Path, target: Path) -> None:
    """The CPU int8 graph: onnxruntime's dynamic quantisation of every MatMul and Gemm (the
    Linear layers, as `precision: int8` does in PyTorch; convolutions stay fp32)."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Its advice to run shape pre-processing first concerns static quantisation; it is logged on
    # the root logger at WARNING, so that level is muted while it runs.
    logging.disable(logging.WARNING)
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8,
                         op_types_to_quantize=["MatMul", "Gemm"])
    finally:
        logging.disable(logging.NOTSET)


def convert_onnx_fp16(source: Path, target: Path) -> None:
    """The CUDA fp16 graph: weights and activations in half precision, inputs and outputs kept
    float32 (the pipeline feeds and reads fp32), through onnxruntime's own converter."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    onnx.save(convert_float_to_float16(onnx.load(str(source)), keep_io_types=True), str(target))


def check_parity(model: nn.Module, path: Path, height: int, width: int, tolerance: float, repeats: int) -> dict:
    import onnxruntime as ort

    graph = InferenceGraph(model).eval()
    generator = torch.Generator().manual_seed(0)
    rgb = torch.rand(1, 3, height, width, generator=generator)
    thermal = torch.rand(1, 1, height, width, generator=generator)
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only, as the node's sessions: shape-merge notes are not the user's
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    feeds = {"rgb": rgb.numpy(), "thermal": thermal.numpy()}
    with torch.no_grad():
        expected = graph(rgb, thermal).numpy()
        torch_s = median_seconds(lambda: graph(rgb, thermal), repeats)
    actual = session.run(None, feeds)[0]
    ort_s = median_seconds(lambda: session.run(None, feeds), repeats)
    return {"max_abs_diff": float(np.abs(actual - expected).max()), "tolerance": tolerance,
            "ok": bool(np.abs(actual - expected).max() <= tolerance), "torch_s": torch_s, "onnxruntime_s": ort_s,
            "shape": list(actual.shape)}
