"""Cross-modal fusion of one pyramid level (SARTM, after CMX): weighted average of the two
modalities, feature rectification (FRM) and feature fusion (FFM)."""

from __future__ import annotations

import torch
from torch import nn


class FeatureRectification(nn.Module):
    """CMX's FRM: each modality is corrected by the other, channel-wise and spatially.

    Channel weights come from global average + max pooling of both modalities through an MLP;
    spatial weights from 1x1 convolutions on the concatenation. x_rgb' = x_rgb + λc·wc_t·x_t
    + λs·ws_t·x_t, and symmetrically for thermal.
    """

    def __init__(self, channels: int, reduction: int = 4, lambda_c: float = 0.5, lambda_s: float = 0.5) -> None:
        super().__init__()
        hidden = max(4, 4 * channels // reduction)
        self.channel_mlp = nn.Sequential(nn.Linear(4 * channels, hidden), nn.ReLU(inplace=True),
                                         nn.Linear(hidden, 2 * channels), nn.Sigmoid())
        self.spatial = nn.Sequential(nn.Conv2d(2 * channels, max(4, channels // reduction), 1), nn.ReLU(inplace=True),
                                     nn.Conv2d(max(4, channels // reduction), 2, 1), nn.Sigmoid())
        self.lambda_c, self.lambda_s = lambda_c, lambda_s

    def forward(self, rgb: torch.Tensor, thermal: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        both = torch.cat([rgb, thermal], dim=1)
        pooled = torch.cat([both.mean(dim=(2, 3)), both.amax(dim=(2, 3))], dim=1)
        channel_rgb, channel_t = self.channel_mlp(pooled)[..., None, None].chunk(2, dim=1)
        spatial_rgb, spatial_t = self.spatial(both).chunk(2, dim=1)
        rgb_out = rgb + self.lambda_c * channel_t * thermal + self.lambda_s * spatial_t * thermal
        thermal_out = thermal + self.lambda_c * channel_rgb * rgb + self.lambda_s * spatial_rgb * rgb
        return rgb_out, thermal_out


class FeatureFusion(nn.Module):
    """CMX's FFM channel embedding: concat → 1x1 → depth-wise 3x3 → ReLU → 1x1, with a residual
    from the projected concatenation. (CMX's cross-attention stage is left out: on 2 CPU cores
    its cost at stride 4 is out of proportion; the weighted average already mixes globally.)"""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.project = nn.Conv2d(2 * channels, channels, 1)
        self.embed = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1, groups=channels),
                                   nn.ReLU(inplace=True), nn.Conv2d(channels, channels, 1))
        self.norm = nn.BatchNorm2d(channels)

    def forward(self, rgb: torch.Tensor, thermal: torch.Tensor) -> torch.Tensor:
        projected = self.project(torch.cat([rgb, thermal], dim=1))
        return self.norm(projected + self.embed(projected))


class CrossModalFusion(nn.Module):
    """fused = softmax-weighted average(rgb, thermal) + FFM(FRM(rgb, thermal)).

    The fusion module starts near the weighted average (FFM output scaled by a learnable gain
    initialised to 0), so training begins from the pre-trained features' average.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.modality_logits = nn.Parameter(torch.zeros(2))
        self.rectify = FeatureRectification(channels)
        self.fuse = FeatureFusion(channels)
        self.gain = nn.Parameter(torch.zeros(1))

    def forward(self, rgb: torch.Tensor, thermal: torch.Tensor) -> torch.Tensor:
        w = torch.softmax(self.modality_logits, dim=0)
        average = w[0] * rgb + w[1] * thermal
        return average + self.gain * self.fuse(*self.rectify(rgb, thermal))
