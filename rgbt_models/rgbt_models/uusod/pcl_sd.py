"""PCL-SD: the progressive confidence-learning saliency-distilling loss of UUSOD's stage 1.

L = mean_i M(i) * (0.5^k - |S(i) - 0.5|^k), where S is the predicted saliency in [0, 1] and
M(i) = 0 for "hard" pixels, |S(i) - 0.5| < p, else 1. A masked pixel contributes 0 and no
gradient; a confident pixel is pushed further towards 0 or 1. The margin p shrinks over the
epochs so that hard pixels are admitted progressively. k = 1 is the paper's loss; the authors'
code (A2S-v3 methods/a2s/loss.py) anneals k = 2^(1 - (epoch - 1) / E) from 2 to 1 over the
epochs (`annealed_exponent`): early on a pixel near 0.5 gets almost no push.
"""

from __future__ import annotations

import torch

from rgbt_models.uusod.config import HardPixelSchedule  # noqa: F401 - re-exported


def pcl_sd_loss(saliency: torch.Tensor, p: float, exponent: float = 1.0) -> torch.Tensor:
    """The PCL-SD loss of saliency maps in [0, 1] (any shape) with hard-pixel margin p."""
    keep = ((saliency - 0.5).abs() >= p).to(saliency.dtype)  # M: no gradient flows through it
    return (keep * (0.5 ** exponent - (saliency - 0.5).abs() ** exponent)).mean()


def annealed_exponent(epoch: int, epochs: int) -> float:
    """The authors' k = 2^(1 - (epoch - 1) / E), epoch counted from 1: 2 at the start, 1 at the end."""
    return 2.0 ** (1 - (epoch - 1) / max(1, epochs))


def hard_pixel_fraction(saliency: torch.Tensor, p: float) -> float:
    """Share of pixels the loss ignores at margin p (logged to TensorBoard)."""
    return float(((saliency - 0.5).abs() < p).float().mean())
