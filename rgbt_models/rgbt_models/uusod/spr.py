"""SPR, self-rectifying pseudo-label refinement (UUSOD stage 2): from the second epoch on, each
stored pseudo-label is rewritten as G_ref = l1 * R_pri + l2 * R_post + l3 * G_pre."""

from __future__ import annotations

import torch

from rgbt_models.uusod.config import SPRWeights

AUTHORS_WEIGHTS = SPRWeights()  # 0.1 / 0.7 / 0.2


def spr_update(refined: torch.Tensor, prediction: torch.Tensor, previous: torch.Tensor,
               weights: SPRWeights = AUTHORS_WEIGHTS) -> torch.Tensor:
    """G_ref = l1 * R_pri + l2 * R_post + l3 * G_pre, clipped to [0, 1]."""
    return (weights.refined * refined + weights.prediction * prediction + weights.previous * previous).clamp(0, 1)
