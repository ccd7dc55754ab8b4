"""A real-time pixel-affinity refiner: propagates a saliency map along image edges (RGB and
thermal), so that a blurry or shifted label snaps to the object boundaries the cameras see.

Each pixel is repeatedly replaced by an affinity-weighted mean of its 8 neighbours at several
dilations; the affinity of a neighbour is high where its guidance values (all channels of the
RGB and thermal images) are close to the pixel's, relative to the local spread, plus a small
position term. No learned weights: it is the R_pri of SPR."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

DIRECTIONS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))


class PixelAffinityRefiner(nn.Module):
    def __init__(self, dilations: tuple[int, ...] = (1, 2, 4, 8), iterations: int = 10, color_scale: float = 0.3,
                 position_weight: float = 0.01) -> None:
        super().__init__()
        self.dilations, self.iterations = tuple(dilations), iterations
        self.color_scale, self.position_weight = color_scale, position_weight
        self.offsets = [(dy * d, dx * d) for d in self.dilations for dy, dx in DIRECTIONS]
        distance = torch.tensor([(dy * dy + dx * dx) ** 0.5 for dy, dx in self.offsets])
        self.register_buffer("distance", distance.view(1, 1, -1, 1, 1), persistent=False)

    def neighbours(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, C, K, H, W): each pixel's neighbours at every offset (edges replicated)."""
        pad = max(self.dilations)
        padded = F.pad(x, [pad] * 4, mode="replicate")
        height, width = x.shape[-2:]
        return torch.stack([padded[..., pad + dy:pad + dy + height, pad + dx:pad + dx + width]
                            for dy, dx in self.offsets], dim=2)

    @torch.no_grad()
    def forward(self, guidance: torch.Tensor, saliency: torch.Tensor) -> torch.Tensor:
        """guidance (B, C, H, W) image channels in [0, 1]; saliency (B, 1, h, w) in [0, 1] (resized
        to the guidance). Returns the refined saliency (B, 1, H, W)."""
        saliency = F.interpolate(saliency.float(), size=guidance.shape[-2:], mode="bilinear", align_corners=False)
        near = self.neighbours(guidance.float())
        difference = (near - guidance.float().unsqueeze(2)).abs()
        spread = near.std(dim=2, keepdim=True)
        affinity = -(difference / (spread + 1e-8) / self.color_scale) ** 2
        affinity = F.softmax(affinity.mean(dim=1, keepdim=True), dim=2)
        position = F.softmax(-(self.distance / (self.distance.std() + 1e-8) / self.color_scale) ** 2, dim=2)
        weights = affinity + self.position_weight * position
        weights = weights / weights.sum(dim=2, keepdim=True)
        for _ in range(self.iterations):
            saliency = (self.neighbours(saliency) * weights).sum(dim=2)
        return saliency.clamp(0, 1)
