"""The CPU int8 path: dynamic quantisation of every nn.Linear (encoder blocks, adapters, LoRA,
heads) to int8 weights with int8 activations quantised per call; convolutions, attention
products and normalisation stay fp32.

Why dynamic: it needs no calibration data, and the Linear layers carry most of a Hiera
encoder's work. Measured with `benchmarks/bench_runtimes.py` (docs/performance.md). torch's eager dynamic
quantisation is deprecated in favour of torchao, which is not a dependency here; it still ships
in torch and is what this module uses until torchao's CPU path replaces it.
"""

from __future__ import annotations

import copy
import warnings

import torch
from torch import nn


def quantize_int8(model: nn.Module, inplace: bool = False) -> nn.Module:
    """`model` with int8 Linear layers for CPU inference (eval mode): a copy, or `model` itself
    changed in place (no second copy of the weights in memory)."""
    target = (model if inplace else copy.deepcopy(model)).cpu().eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        return torch.ao.quantization.quantize_dynamic(target, {nn.Linear}, dtype=torch.qint8, inplace=True)
