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


# A neighbour's normalised difference |n - g| / (spread + SPREAD_FLOOR) is capped at MAX_DIFFERENCE:
# beyond it the neighbour is simply "different" (its weight exp(-(10 / 0.3)^2) is 0 in float32).
# Without the floor and the cap, a guidance channel with no local spread and a differing centre
# gave every neighbour an affinity near -1e15 in that channel, and float32 then lost the other
# channels' differences entirely (the channel mean is dominated by it).
SPREAD_FLOOR = 1e-3  # guidance is in [0, 1]
MAX_DIFFERENCE = 10.0


class PixelAffinityRefiner(nn.Module):
    """`iterations` rounds of propagation (10; the authors' training runs A2S-v3's PAR with 6 over
    dilations 1, 2, 4, 8, overriding its class defaults of 15 over 1, 2, 4, 8, 12, 24) over
    the 8 neighbours at each of `dilations`. Memory: one sample at a time and one neighbour
    offset at a time, so it holds the (1, K, H, W) weights of one image and a few (1, C, H, W)
    buffers, whatever the batch (measured in benchmarks/bench_uusod.py)."""

    def __init__(self, dilations: tuple[int, ...] = (1, 2, 4, 8), iterations: int = 10, color_scale: float = 0.3,
                 position_weight: float = 0.01) -> None:
        super().__init__()
        self.dilations, self.iterations = tuple(dilations), iterations
        self.color_scale, self.position_weight = color_scale, position_weight
        self.offsets = [(dy * d, dx * d) for d in self.dilations for dy, dx in DIRECTIONS]
        distance = torch.tensor([(dy * dy + dx * dx) ** 0.5 for dy, dx in self.offsets])
        position = torch.softmax(-(distance / (distance.std() + 1e-8) / color_scale) ** 2, dim=0)
        self.register_buffer("position", position.view(1, -1, 1, 1), persistent=False)

    def _shifted(self, padded: torch.Tensor, offset: tuple[int, int], height: int, width: int) -> torch.Tensor:
        pad, (dy, dx) = max(self.dilations), offset
        return padded[..., pad + dy:pad + dy + height, pad + dx:pad + dx + width]

    def weights(self, guidance: torch.Tensor) -> torch.Tensor:
        """(1, K, H, W) propagation weights of one image's guidance (1, C, H, W)."""
        height, width = guidance.shape[-2:]
        padded = F.pad(guidance, [max(self.dilations)] * 4, mode="replicate")
        count = len(self.offsets)
        total, total_sq = torch.zeros_like(guidance), torch.zeros_like(guidance)
        for offset in self.offsets:
            near = self._shifted(padded, offset, height, width)
            total += near
            total_sq += near * near
        mean = total / count
        spread = ((total_sq - count * mean * mean) / (count - 1)).clamp_min(0).sqrt()  # torch.std over offsets
        affinity = guidance.new_empty(1, count, height, width)
        for index, offset in enumerate(self.offsets):
            difference = (self._shifted(padded, offset, height, width) - guidance).abs() / (spread + SPREAD_FLOOR)
            affinity[:, index] = (-(difference.clamp(max=MAX_DIFFERENCE) / self.color_scale) ** 2).mean(dim=1)
        weights = torch.softmax(affinity, dim=1) + self.position_weight * self.position
        return weights / weights.sum(dim=1, keepdim=True)

    def propagate(self, weights: torch.Tensor, saliency: torch.Tensor) -> torch.Tensor:
        """`iterations` rounds of each pixel <- the weighted mean of its neighbours."""
        height, width = saliency.shape[-2:]
        for _ in range(self.iterations):
            padded = F.pad(saliency, [max(self.dilations)] * 4, mode="replicate")
            result = torch.zeros_like(saliency)
            for index, offset in enumerate(self.offsets):
                result += self._shifted(padded, offset, height, width) * weights[:, index:index + 1]
            saliency = result
        return saliency

    @torch.no_grad()
    def forward(self, guidance: torch.Tensor, saliency: torch.Tensor) -> torch.Tensor:
        """guidance (B, C, H, W) image channels in [0, 1]; saliency (B, 1, h, w) in [0, 1] (resized
        to the guidance). Returns the refined saliency (B, 1, H, W)."""
        saliency = F.interpolate(saliency.float(), size=guidance.shape[-2:], mode="bilinear", align_corners=False)
        guidance = guidance.float()
        refined = [self.propagate(self.weights(guidance[i:i + 1]), saliency[i:i + 1]) for i in range(len(guidance))]
        return torch.cat(refined).clamp(0, 1)
