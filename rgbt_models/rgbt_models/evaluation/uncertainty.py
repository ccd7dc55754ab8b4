"""How unsure the models are about a frame, without labels: a number in [0, 1] per model (higher:
less sure), from what the models compute anyway, and their combination.

- SAMSOD (`saliency_uncertainty`): the saliency map's ambiguity, the mean of 4 p (1 - p) over the
  pixels (0 where every pixel is 0 or 1, 1 where every pixel is 0.5: the binary entropy's
  quadratic form), and, where its three heads ran (both cameras), their disagreement: the
  pixel-wise spread of the committee {RGB head, thermal head, fused map}, as query-by-committee
  measures it. A broken modality (a black-hot camera, an RGB camera at night or in fog) shows as
  heads that disagree where the map itself may still look sure. The part is the mean of the two.
- SARTM (`semantic_uncertainty`): the mean normalised entropy of the class probabilities,
  H(p) / log C per pixel (0: one class certain, 1: all classes alike).
- `combined`: the mean of the parts of the models that ran on the frame.

All are means over the model's own output grid (its input size), taken on a regular grid of at
most SAMPLES pixels of it (every k-th row and column: a mean over 5 k pixels is as good as one
over 330 k, and costs the same at every model size): a few element-wise operations on tensors
already computed, a small share of a frame's model time (docs/performance.md).
The choices and what they rest on (uncertainty sampling, query-by-committee, entropy and
confidence baselines): docs/mining.md.
"""

from __future__ import annotations

import math

import numpy as np
import torch

# The largest standard deviation of three values in [0, 1] ({0, 0, 1}: sqrt(2) / 3): the committee's
# spread divided by it lies in [0, 1].
MAX_SPREAD_OF_THREE = math.sqrt(2.0) / 3.0
SAMPLES = 80 * 64  # the most pixels a measure looks at


def thinned(maps: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> every k-th row and column (a view), k the smallest step leaving <= SAMPLES pixels."""
    height, width = maps.shape[-2:]
    step = max(1, math.ceil(math.sqrt(height * width / SAMPLES)))
    return maps[..., ::step, ::step]


def sample_grid(maps: torch.Tensor) -> torch.Tensor:
    """The samples the measures read of (B, C, H, W) maps (`thinned`), as a small float32 CPU copy:
    what a caller keeps to measure later, after the full maps are freed. Taken while the maps are
    fresh in the caches, it costs a fraction of reading them later."""
    return thinned(maps).detach().to("cpu", torch.float32).contiguous()


def _grid(maps: torch.Tensor) -> np.ndarray:
    """`sample_grid` as numpy (no copy where `maps` is a sample grid already; numpy's per-operation
    cost is far below eager PyTorch's on arrays this size)."""
    return sample_grid(maps).numpy()


def saliency_ambiguity(saliency: torch.Tensor) -> torch.Tensor:
    """(B,) mean of 4 p (1 - p) over each map of (B, 1, H, W) saliency in [0, 1]."""
    p = np.clip(_grid(saliency), 0.0, 1.0).reshape(len(saliency), -1)
    return torch.from_numpy(4.0 / p.shape[1] * np.einsum("bi,bi->b", p, 1.0 - p))


def head_disagreement(heads: dict[str, torch.Tensor]) -> torch.Tensor | None:
    """(B,) the mean pixel-wise spread of {sigmoid(RGB head), sigmoid(thermal head), fused map}
    (the fused map: sigmoid of the sum of the heads, what SAMSOD predicts), scaled to [0, 1];
    None unless all three heads ran (a frame without thermal has the RGB head alone)."""
    if not {"fused", "rgb", "thermal"} <= set(heads):
        return None
    rgb, thermal, fused = (_grid(heads[name]) for name in ("rgb", "thermal", "fused"))
    # The members as tanh(x / 2) = 2 sigmoid(x) - 1: their spread is twice the sigmoids'.
    members = np.concatenate([rgb, thermal, rgb + thermal + fused], axis=1)  # (B, 3, h, w)
    np.tanh(np.multiply(members, 0.5, out=members), out=members)
    members -= members.mean(axis=1, keepdims=True)
    spread = np.sqrt(np.square(members, out=members).mean(axis=1)) * 0.5
    return torch.from_numpy((spread / MAX_SPREAD_OF_THREE).reshape(len(rgb), -1).mean(axis=1))


def saliency_uncertainty(saliency: torch.Tensor, heads: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
    """(B,) SAMSOD's part: the map's ambiguity, averaged with its heads' disagreement where they ran."""
    ambiguity = saliency_ambiguity(saliency)
    disagreement = head_disagreement(heads) if heads else None
    return ambiguity if disagreement is None else 0.5 * (ambiguity + disagreement)


def semantic_uncertainty(probabilities: torch.Tensor) -> torch.Tensor:
    """(B,) SARTM's part: the mean over pixels of H(p) / log C of (B, C, H, W) class probabilities."""
    p = np.maximum(_grid(probabilities), 1e-12)
    batch, classes = p.shape[:2]
    if classes < 2:
        return torch.zeros(batch)
    entropy_sum = -np.einsum("bchw,bchw->b", p, np.log(p))  # summed over classes and pixels
    return torch.from_numpy(np.clip(entropy_sum / (p[0, 0].size * math.log(classes)), 0.0, 1.0))


def combined(parts: dict[str, float]) -> float:
    """The mean of the finite parts (NaN when no model ran)."""
    finite = [value for value in parts.values() if math.isfinite(value)]
    return sum(finite) / len(finite) if finite else float("nan")
