"""PCL-SD: the progressive confidence-learning saliency-distilling loss of UUSOD's stage 1.

L = 0.5 - mean_i |M(i) * S(i) - 0.5|, where S is the predicted saliency in [0, 1] and
M(i) = 0 for "hard" pixels, |S(i) - 0.5| < p, else 1. A masked pixel contributes the constant
0.5 - |0 - 0.5| = 0 and no gradient; a confident pixel is pushed further towards 0 or 1. The
margin p shrinks over the epochs so that hard pixels are admitted progressively.
"""

from __future__ import annotations

import torch

from rgbt_models.uusod.config import HardPixelSchedule  # noqa: F401 - re-exported


def pcl_sd_loss(saliency: torch.Tensor, p: float) -> torch.Tensor:
    """The PCL-SD loss of saliency maps in [0, 1] (any shape) with hard-pixel margin p."""
    keep = ((saliency - 0.5).abs() >= p).to(saliency.dtype)  # M: no gradient flows through it
    return 0.5 - ((keep * saliency) - 0.5).abs().mean()


def hard_pixel_fraction(saliency: torch.Tensor, p: float) -> float:
    """Share of pixels the loss ignores at margin p (logged to TensorBoard)."""
    return float(((saliency - 0.5).abs() < p).float().mean())
