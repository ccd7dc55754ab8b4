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

All are means over the model's own output grid (its input size), a few element-wise operations
on tensors already computed: a small share of a frame's model time (docs/performance.md).
The choices and what they rest on (uncertainty sampling, query-by-committee, entropy and
confidence baselines): docs/mining.md.
"""

from __future__ import annotations

import math

import torch

# The largest standard deviation of three values in [0, 1] ({0, 0, 1}: sqrt(2) / 3): the committee's
# spread divided by it lies in [0, 1].
MAX_SPREAD_OF_THREE = math.sqrt(2.0) / 3.0


def saliency_ambiguity(saliency: torch.Tensor) -> torch.Tensor:
    """(B,) mean of 4 p (1 - p) over each map of (B, 1, H, W) saliency in [0, 1]."""
    p = saliency.float().clamp(0.0, 1.0)
    return (4.0 * p * (1.0 - p)).flatten(1).mean(dim=1)


def head_disagreement(heads: dict[str, torch.Tensor]) -> torch.Tensor | None:
    """(B,) the mean pixel-wise spread of {sigmoid(RGB head), sigmoid(thermal head), fused map}
    (the fused map: sigmoid of the sum of the heads, what SAMSOD predicts), scaled to [0, 1];
    None unless all three heads ran (a frame without thermal has the RGB head alone)."""
    if not {"fused", "rgb", "thermal"} <= set(heads):
        return None
    rgb, thermal = heads["rgb"].float(), heads["thermal"].float()
    members = (torch.sigmoid(rgb), torch.sigmoid(thermal), torch.sigmoid(rgb + thermal + heads["fused"].float()))
    mean = (members[0] + members[1] + members[2]) / 3.0
    variance = sum((member - mean).square() for member in members) / 3.0
    return (variance.sqrt() / MAX_SPREAD_OF_THREE).flatten(1).mean(dim=1)


def saliency_uncertainty(saliency: torch.Tensor, heads: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
    """(B,) SAMSOD's part: the map's ambiguity, averaged with its heads' disagreement where they ran."""
    ambiguity = saliency_ambiguity(saliency)
    disagreement = head_disagreement(heads) if heads else None
    return ambiguity if disagreement is None else 0.5 * (ambiguity + disagreement)


def semantic_uncertainty(probabilities: torch.Tensor) -> torch.Tensor:
    """(B,) SARTM's part: the mean over pixels of H(p) / log C of (B, C, H, W) class probabilities."""
    p = probabilities.float().clamp_min(1e-12)
    classes = p.shape[1]
    if classes < 2:
        return torch.zeros(p.shape[0], device=p.device)
    entropy = -(p * p.log()).sum(dim=1) / math.log(classes)
    return entropy.clamp(0.0, 1.0).flatten(1).mean(dim=1)


def combined(parts: dict[str, float]) -> float:
    """The mean of the finite parts (NaN when no model ran)."""
    finite = [value for value in parts.values() if math.isfinite(value)]
    return sum(finite) / len(finite) if finite else float("nan")
