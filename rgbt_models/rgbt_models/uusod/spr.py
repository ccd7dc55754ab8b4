"""SPR, self-rectifying pseudo-label refinement (UUSOD stage 2): from the second epoch on, each
stored pseudo-label is rewritten as G_ref = l1 * R_pri + l2 * R_post + l3 * G_pre."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class SPRWeights:
    """l1 for R_pri (the prediction refined by the pixel-affinity refiner), l2 for R_post (the
    model's own prediction), l3 for G_pre (the previous label). Defaults: the authors' 0.1 / 0.7 /
    0.2 (METHODS.md: 0.7 prediction, 0.2 previous label, 0.1 refined prediction)."""

    refined: float = 0.1
    prediction: float = 0.7
    previous: float = 0.2

    def __post_init__(self) -> None:
        total = self.refined + self.prediction + self.previous
        if min(self.refined, self.prediction, self.previous) < 0 or abs(total - 1.0) > 1e-6:
            raise ValueError(f"SPR weights must be >= 0 and sum to 1, got {self}")


def spr_update(refined: torch.Tensor, prediction: torch.Tensor, previous: torch.Tensor,
               weights: SPRWeights = SPRWeights()) -> torch.Tensor:
    """G_ref = l1 * R_pri + l2 * R_post + l3 * G_pre, clipped to [0, 1]."""
    return (weights.refined * refined + weights.prediction * prediction + weights.previous * previous).clamp(0, 1)
