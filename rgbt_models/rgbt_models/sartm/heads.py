"""SARTM's auxiliary FPN head: SFM → (+IFP) → (+FFP) → 3x3 conv → class logits."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class AuxiliaryFPNHead(nn.Module):
    """Upsample the fused SFM, add the fused IFP, upsample, add the fused FFP, 3x3 conv, classify.

    Every layer is built here (the authors' code builds its convolutions inside forward, so
    they are never trained, and hard-codes 5 classes).
    """

    def __init__(self, sfm_channels: int, ifp_channels: int, ffp_channels: int, num_classes: int) -> None:
        super().__init__()
        self.sfm_to_ifp = nn.Conv2d(sfm_channels, ifp_channels, 1)
        self.ifp_to_ffp = nn.Conv2d(ifp_channels, ffp_channels, 1)
        self.refine = nn.Sequential(nn.Conv2d(ffp_channels, ffp_channels, 3, padding=1),
                                    nn.BatchNorm2d(ffp_channels), nn.ReLU(inplace=True))
        self.classify = nn.Conv2d(ffp_channels, num_classes, 1)

    def forward(self, sfm: torch.Tensor, ifp: torch.Tensor, ffp: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(self.sfm_to_ifp(sfm), size=ifp.shape[-2:], mode="bilinear", align_corners=False) + ifp
        x = F.interpolate(self.ifp_to_ffp(x), size=ffp.shape[-2:], mode="bilinear", align_corners=False) + ffp
        return self.classify(self.refine(x))
