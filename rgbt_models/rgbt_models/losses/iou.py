"""The soft IoU loss (UUSOD's SPR variant 'authors': the A2S-v3 detector's loss)."""

from __future__ import annotations

import torch


def iou_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - soft IoU of sigmoid(logits) with a binary target, per image, averaged."""
    prediction = torch.sigmoid(logits)
    intersection = (prediction * target).flatten(1).sum(dim=1)
    union = (prediction + target - prediction * target).flatten(1).sum(dim=1)
    return (1 - (intersection + 1) / (union + 1)).mean()
