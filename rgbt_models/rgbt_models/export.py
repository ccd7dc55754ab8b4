"""ONNX export of a trained model's inference graph and its parity check against PyTorch."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from rgbt_models.timing import median_seconds


class InferenceGraph(nn.Module):
    """What a deployment runs: (rgb, thermal) -> saliency or class probabilities."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, rgb: torch.Tensor, thermal: torch.Tensor) -> torch.Tensor:
        if self.model.kind == "samsod":
            return self.model.predict(rgb, thermal)
        return self.model.probabilities(self.model(rgb, thermal))


def export_onnx(model: nn.Module, path: Path, height: int, width: int, opset: int = 17) -> None:
    """The inference graph at a fixed input size, through PyTorch's TorchScript exporter (chosen:
    the graph is checked against PyTorch by check_parity). Its deprecation notice and the tracer's
    warnings about Python conditions on shapes (constants at a fixed size, which is what is
    exported) are not the user's to act on, so they are not printed."""
    graph = InferenceGraph(model).eval()
    rgb, thermal = torch.rand(1, 3, height, width), torch.rand(1, 1, height, width)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(graph, (rgb, thermal), str(path), input_names=["rgb", "thermal"], output_names=["output"],
                          opset_version=opset, dynamo=False)


def check_parity(model: nn.Module, path: Path, height: int, width: int, tolerance: float, repeats: int) -> dict:
    import onnxruntime as ort

    graph = InferenceGraph(model).eval()
    generator = torch.Generator().manual_seed(0)
    rgb = torch.rand(1, 3, height, width, generator=generator)
    thermal = torch.rand(1, 1, height, width, generator=generator)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {"rgb": rgb.numpy(), "thermal": thermal.numpy()}
    with torch.no_grad():
        expected = graph(rgb, thermal).numpy()
        torch_s = median_seconds(lambda: graph(rgb, thermal), repeats)
    actual = session.run(None, feeds)[0]
    ort_s = median_seconds(lambda: session.run(None, feeds), repeats)
    return {"max_abs_diff": float(np.abs(actual - expected).max()), "tolerance": tolerance,
            "ok": bool(np.abs(actual - expected).max() <= tolerance), "torch_s": torch_s, "onnxruntime_s": ort_s,
            "shape": list(actual.shape)}
