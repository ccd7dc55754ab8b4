"""Online hard example mining cross-entropy, as SARTM (and CMX before it) train with."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def ohem_cross_entropy(logits: torch.Tensor, target: torch.Tensor, ignore_index: int = 255,
                       keep_threshold: float = 0.7, min_kept_divisor: int = 16) -> torch.Tensor:
    """Mean CE over the hard pixels: those with loss > −log(keep_threshold), but at least
    valid/min_kept_divisor pixels (the hardest ones) when fewer pass the threshold."""
    pixel_loss = F.cross_entropy(logits, target, ignore_index=ignore_index, reduction="none").flatten()
    valid = (target.flatten() != ignore_index)
    losses = pixel_loss[valid]
    if losses.numel() == 0:
        return logits.sum() * 0.0
    threshold = -math.log(keep_threshold)
    min_kept = max(1, losses.numel() // min_kept_divisor)
    hard = losses[losses > threshold]
    if hard.numel() < min_kept:
        hard = losses.topk(min_kept).values
    return hard.mean()
