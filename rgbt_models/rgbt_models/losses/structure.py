"""The structure loss of F3Net used by SAMSOD: weighted BCE + weighted IoU."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def structure_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Weighted BCE + weighted IoU with pixel weights 1 + 5·|avgpool31(gt) − gt|.

    logits, target: (B, 1, H, W); target in [0, 1]. Pixels near object boundaries weigh up to 6x.
    """
    weight = 1 + 5 * torch.abs(F.avg_pool2d(target, kernel_size=31, stride=1, padding=15) - target)
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    wbce = (weight * bce).sum(dim=(2, 3)) / weight.sum(dim=(2, 3))
    prob = torch.sigmoid(logits)
    inter = (prob * target * weight).sum(dim=(2, 3))
    union = ((prob + target) * weight).sum(dim=(2, 3))
    wiou = 1 - (inter + 1) / (union - inter + 1)
    return (wbce + wiou).mean()
